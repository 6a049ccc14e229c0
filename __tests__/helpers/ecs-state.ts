import {
  CreateClusterCommand,
  CreateServiceCommand,
  DescribeServicesCommand,
  ListClustersCommand,
  ListServicesCommand,
  ListTaskDefinitionsCommand,
  RegisterTaskDefinitionCommand,
  type ECSClient
} from '@aws-sdk/client-ecs'

/** Everything a deploy could change, so a test can assert that a refused deploy changed nothing. */
export async function ecsState(client: ECSClient): Promise<unknown> {
  const clusters = (await client.send(new ListClustersCommand({}))).clusterArns ?? []
  const services: unknown[] = []
  for (const cluster of clusters.sort()) {
    const arns = (await client.send(new ListServicesCommand({ cluster }))).serviceArns ?? []
    if (arns.length === 0) continue
    const described = await client.send(new DescribeServicesCommand({ cluster, services: arns }))
    for (const s of described.services ?? []) services.push([cluster, s.serviceName, s.status, s.taskDefinition, s.desiredCount, s.deployments?.length])
  }
  const active = (await client.send(new ListTaskDefinitionsCommand({ status: 'ACTIVE' }))).taskDefinitionArns ?? []
  const inactive = (await client.send(new ListTaskDefinitionsCommand({ status: 'INACTIVE' }))).taskDefinitionArns ?? []
  return { services, active: [...active].sort(), inactive: [...inactive].sort() }
}

/** Cluster `cluster` with service `service` on task definition `family` with an app container and a sidecar. */
export async function seedService(client: ECSClient, cluster: string, service: string, family = service): Promise<string> {
  await client.send(new CreateClusterCommand({ clusterName: cluster }))
  const registered = await client.send(
    new RegisterTaskDefinitionCommand({
      family,
      containerDefinitions: [
        { name: service, image: `registry.example/${service}:1.0.0`, memory: 256, essential: true, environment: [{ name: 'MODE', value: 'prod' }] },
        { name: 'log-router', image: 'registry.example/fluent-bit:2.1', memory: 64, essential: false }
      ]
    })
  )
  await client.send(new CreateServiceCommand({ cluster, serviceName: service, taskDefinition: registered.taskDefinition!.taskDefinitionArn, desiredCount: 2 }))
  return registered.taskDefinition!.taskDefinitionArn!
}
