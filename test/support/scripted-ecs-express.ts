// ECS Express services for the scripted ECS endpoint: DescribeExpressGatewayService and
// UpdateExpressGatewayService, written from the API reference (botocore's ecs service-2.json,
// 2014-11-13), beside scripted-ecs.ts so that file stays about task rollouts.
//
// - An Express service is an ordinary service in DescribeServices, marked `resourceManagementType: ECS`.
// - DescribeExpressGatewayService {serviceArn, include?} answers `service`: cluster, serviceName,
//   serviceArn, infrastructureRoleArn, status {statusCode ACTIVE|DRAINING|INACTIVE}, currentDeployment
//   (the current service deployment), activeConfigurations (one ExpressGatewayServiceConfiguration per
//   revision that runs: serviceRevisionArn, taskDefinitionArn, cpu, memory, executionRoleArn,
//   healthCheckPath, primaryContainer, scalingTarget, networkConfiguration, ingressPaths
//   [{accessType PUBLIC|PRIVATE, endpoint}], createdAt), tags with include TAGS, createdAt, updatedAt.
//   An unknown ARN is ResourceNotFoundException.
// - UpdateExpressGatewayService {serviceArn, primaryContainer?, taskDefinitionArn?, cpu?, memory?,
//   executionRoleArn?, taskRoleArn?, healthCheckPath?, scalingTarget?, networkConfiguration?} makes a
//   new service revision and starts a service deployment with the service's deployment configuration
//   (Express's canary: 5% of traffic, alarm rollback, bake). taskDefinitionArn may not come with
//   primaryContainer, executionRoleArn, taskRoleArn, cpu or memory; its task definition must have a
//   container named `Main` with one TCP port mapping that has a containerPort and a name, and FARGATE
//   compatibility. primaryContainer (image required) is the container as given: what it leaves out
//   (environment, command, secrets) the new revision does not have. ECS registers the new task
//   definition itself (the answer's targetConfiguration.taskDefinitionArn). Errors: ServiceNotFoundException
//   (unknown ARN), ServiceNotActiveException, InvalidParameterException (this endpoint's wording).
// Scenarios are the rollouts' ones, by the new image's tag (`alarm`, `crash`, ...).
import { EcsError, invalid, secs, type EcsState, type Obj, type Service } from './scripted-ecs-state.ts'

export interface ExpressSeed {
  /** The ingress path's endpoint: ECS gives a host name; tests give an http:// URL of a local server. */
  endpoint?: string
  accessType?: 'PUBLIC' | 'PRIVATE'
  healthCheckPath?: string
}

export interface ExpressRecord {
  endpoint: string; accessType: string; createdAt: number; updatedAt: number
  /** Task definition ARN -> the configuration of the service revision that runs it. */
  configs: Map<string, Obj>
}

const READ_ONLY = ['taskDefinitionArn', 'revision', 'status', 'requiresAttributes', 'compatibilities', 'registeredAt', 'registeredBy']

/** The record of a seeded Express service: its first configuration runs the seeded task definition. */
export function expressRecord(s: EcsState, svc: Service, seed: ExpressSeed, td: Obj): ExpressRecord {
  const main = td.containerDefinitions[0]
  const record: ExpressRecord = {
    endpoint: seed.endpoint ?? `${svc.name}-${svc.cluster}.ecs.${s.region}.on.aws`, accessType: seed.accessType ?? 'PUBLIC',
    createdAt: svc.createdAt, updatedAt: svc.createdAt, configs: new Map()
  }
  const primaryContainer: Obj = { image: main.image, containerPort: main.portMappings?.[0]?.containerPort ?? 80 }
  for (const key of ['environment', 'command', 'secrets']) if (main[key]) primaryContainer[key] = structuredClone(main[key])
  record.configs.set(td.taskDefinitionArn, {
    executionRoleArn: td.executionRoleArn, cpu: td.cpu, memory: td.memory, healthCheckPath: seed.healthCheckPath ?? '/ping',
    primaryContainer, scalingTarget: { minTaskCount: 1, maxTaskCount: 20, autoScalingMetric: 'AVERAGE_CPU', autoScalingTargetValue: 60 },
    networkConfiguration: { subnets: ['subnet-0a1b2c3d'], securityGroups: ['sg-0a1b2c3d'] }, createdAt: svc.createdAt
  })
  return record
}

export function expressOperations(s: EcsState): Record<string, (input: Obj) => Obj> {
  const serviceOf = (input: Obj, missing: () => EcsError): Service & { express: ExpressRecord } => {
    if (typeof input.serviceArn !== 'string' || !input.serviceArn) throw invalid('serviceArn must be specified.')
    const svc = s.services.find(x => x.arn === input.serviceArn)
    if (!svc?.express) throw missing()
    return svc as Service & { express: ExpressRecord }
  }
  const render = (svc: Service & { express: ExpressRecord }, arn: string): Obj => {
    const config = svc.express.configs.get(arn)!
    return {
      ...config, serviceRevisionArn: s.sd.revisionArn(svc, arn), taskDefinitionArn: arn,
      ingressPaths: [{ accessType: svc.express.accessType, endpoint: svc.express.endpoint }], createdAt: secs(config.createdAt)
    }
  }
  const statusOf = (svc: Service) => ({ statusCode: svc.status })
  return {
    DescribeExpressGatewayService(input) {
      const svc = serviceOf(input, () => new EcsError('ResourceNotFoundException', `The specified resource wasn't found.`))
      // The revisions that still run tasks (the old one during a canary), the newest first.
      const running = svc.deployments.filter(d => d.status !== 'INACTIVE').map(d => d.taskDef).filter(arn => svc.express.configs.has(arn))
      const arns = [...new Set([svc.taskDef, ...running])].filter(arn => svc.express.configs.has(arn))
      return {
        service: {
          cluster: s.arn('cluster', svc.cluster), serviceName: svc.name, serviceArn: svc.arn,
          infrastructureRoleArn: `arn:aws:iam::123456789012:role/ecsInfrastructureRoleForExpressServices`,
          status: statusOf(svc), currentDeployment: s.sd.current(svc)?.arn, activeConfigurations: arns.map(arn => render(svc, arn)),
          ...(Array.isArray(input.include) && input.include.includes('TAGS') ? { tags: s.tags.get(svc.arn) ?? [] } : {}),
          createdAt: secs(svc.express.createdAt), updatedAt: secs(svc.express.updatedAt)
        }
      }
    },
    UpdateExpressGatewayService(input) {
      const svc = serviceOf(input, () => new EcsError('ServiceNotFoundException', 'Service not found.'))
      if (svc.status !== 'ACTIVE') throw new EcsError('ServiceNotActiveException', 'Service was not ACTIVE.')
      const current = svc.express.configs.get(svc.taskDef) ?? {}
      let arn: string
      if (input.taskDefinitionArn !== undefined) {
        const clash = ['primaryContainer', 'executionRoleArn', 'taskRoleArn', 'cpu', 'memory'].filter(key => input[key] !== undefined)
        if (clash.length) throw invalid(`taskDefinitionArn cannot be specified together with ${clash.join(', ')}.`)
        arn = checkedTaskDefinition(s, input.taskDefinitionArn)
      } else {
        if (input.primaryContainer !== undefined && (typeof input.primaryContainer?.image !== 'string' || !input.primaryContainer.image)) {
          throw invalid('primaryContainer.image must be specified.')
        }
        arn = registerRevision(s, svc, input)
      }
      const { serviceArn: _arn, taskDefinitionArn: _td, ...given } = input
      svc.express.configs.set(arn, { ...current, ...given, primaryContainer: input.primaryContainer ?? current.primaryContainer, createdAt: s.clock })
      svc.express.updatedAt = s.clock
      s.deploy(svc, arn, s.clock, s.scenarioOf(arn))
      return {
        service: {
          serviceArn: svc.arn, cluster: s.arn('cluster', svc.cluster), serviceName: svc.name, status: statusOf(svc),
          targetConfiguration: render(svc, arn), createdAt: secs(svc.express.createdAt), updatedAt: secs(svc.express.updatedAt)
        }
      }
    }
  }
}

/** A customer's task definition for an Express service, checked as the reference asks. */
function checkedTaskDefinition(s: EcsState, ref: unknown): string {
  const td = s.findTaskDef(ref)
  if (!td) throw invalid('The specified task definition does not exist.')
  const main = (td.body.containerDefinitions ?? []).find((c: Obj) => c.name === 'Main')
  if (!main) throw invalid('The task definition must have a container named Main.')
  const ports = main.portMappings ?? []
  if (ports.length !== 1 || ports[0].containerPort === undefined || !ports[0].name || (ports[0].protocol ?? 'tcp') !== 'tcp') {
    throw invalid('The Main container must have a single TCP port mapping with a container port and a port name.')
  }
  if (!(td.body.requiresCompatibilities ?? []).includes('FARGATE')) throw invalid('The task definition must be compatible with FARGATE.')
  return td.arn
}

/** ECS registers the new revision itself: the running one with the primary container (and sizes) as given. */
function registerRevision(s: EcsState, svc: Service, input: Obj): string {
  const body = structuredClone(s.findTaskDef(svc.taskDef)!.body)
  for (const key of READ_ONLY) delete body[key]
  const pc = input.primaryContainer
  if (pc) {
    const [main, ...others] = body.containerDefinitions
    const container: Obj = { ...main, image: pc.image, environment: pc.environment ?? [] }
    for (const key of ['command', 'secrets']) {
      if (pc[key] === undefined) delete container[key]
      else container[key] = pc[key]
    }
    if (pc.containerPort !== undefined) container.portMappings = [{ ...(main.portMappings?.[0] ?? {}), containerPort: pc.containerPort }]
    body.containerDefinitions = [container, ...others]
  }
  for (const key of ['cpu', 'memory', 'executionRoleArn', 'taskRoleArn']) if (input[key] !== undefined) body[key] = input[key]
  return s.register(body).taskDefinition.taskDefinitionArn
}
