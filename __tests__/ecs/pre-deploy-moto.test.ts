// The ECS pre-deploy task against moto_server, an independent implementation of ECS: the request
// shapes of RunTask (the service's launch type; the command as a container override; startedBy), DescribeTasks followed to STOPPED, and CloudWatch Logs GetLogEvents on a
// stream that never appears (moto's tasks print nothing): the step still succeeds and says so.
import { CloudWatchLogsClient, CreateLogGroupCommand } from '@aws-sdk/client-cloudwatch-logs'
import { CreateClusterCommand, CreateServiceCommand, DescribeServicesCommand, RegisterContainerInstanceCommand, DescribeTasksCommand, RegisterTaskDefinitionCommand, type ECSClient } from '@aws-sdk/client-ecs'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { parseInputs } from '../../src/inputs.js'
import { EcsApi } from '../../src/platforms/ecs/client.js'
import { createEcsPlatform } from '../../src/platforms/ecs/index.js'
import { runDeployment } from '../../src/rollout/engine.js'
import { Progress } from '../../src/rollout/progress.js'
import { startMoto, type MotoServer } from '../../test/support/moto.js'
import { CREDENTIALS, ecsClient, GITHUB_ENV, inputEnv, REGION } from '../helpers/run.js'

let moto: MotoServer
let client: ECSClient

/** One EC2 Query API call to moto (no EC2 SDK in the project): returns the answer's XML. */
async function ec2(params: Record<string, string>): Promise<string> {
  const response = await fetch(moto.endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `AWS4-HMAC-SHA256 Credential=testing/20260101/${REGION}/ec2/aws4_request, SignedHeaders=host, Signature=0` },
    body: new URLSearchParams({ Version: '2016-11-15', ...params })
  })
  const text = await response.text()
  if (!response.ok) throw new Error(`EC2 ${params.Action}: ${text}`)
  return text
}

beforeAll(async () => {
  moto = await startMoto()
  client = ecsClient(moto.endpoint)
  await new CloudWatchLogsClient({ endpoint: moto.endpoint, region: REGION, credentials: CREDENTIALS }).send(new CreateLogGroupCommand({ logGroupName: '/ecs/jobs' }))
  await client.send(new CreateClusterCommand({ clusterName: 'shop' }))
  // moto 5.2 fails RunTask of awsvpc tasks (HTTP 500: its network interface lacks private_dns_name), so
  // the service runs on EC2 with bridge networking: one container instance, from an EC2 instance.
  const instance = /<instanceId>([^<]+)<\/instanceId>/.exec(await ec2({ Action: 'RunInstances', ImageId: 'ami-12c6146b', MinCount: '1', MaxCount: '1', InstanceType: 't3.large' }))![1]
  await client.send(new RegisterContainerInstanceCommand({ cluster: 'shop', instanceIdentityDocument: JSON.stringify({ instanceId: instance }) }))
  const registered = await client.send(new RegisterTaskDefinitionCommand({
    family: 'jobs', networkMode: 'bridge', requiresCompatibilities: ['EC2'],
    containerDefinitions: [{
      // moto's RunTask sums the containers' memory and fails (HTTP 500) on one without it.
      name: 'jobs', image: 'registry.example/jobs:1.0.0', essential: true, memory: 256,
      logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': '/ecs/jobs', 'awslogs-region': REGION, 'awslogs-stream-prefix': 'ecs' } }
    }]
  }))
  await client.send(new CreateServiceCommand({ cluster: 'shop', serviceName: 'jobs', taskDefinition: registered.taskDefinition!.taskDefinitionArn, desiredCount: 1, launchType: 'EC2' }))
})

afterAll(async () => {
  await moto.stop()
})

describe('ECS pre-deploy task on moto', () => {
  it('runs the command with the service launch type (EC2, bridge: no network configuration), follows it to STOPPED, then applies', async () => {
    const log: string[] = []
    const request = parseInputs({ ...GITHUB_ENV, ...inputEnv({ platform: 'ecs', service: 'jobs', cluster: 'shop', 'image-tag': '1.1.0', wait: 'false', 'pre-deploy-command': '["bin/migrate", "up"]' }) })
    const api = new EcsApi('shop', ecsClient(moto.endpoint))
    api.logsClientConfig = { endpoint: moto.endpoint, credentials: CREDENTIALS }
    const result = await runDeployment(request, createEcsPlatform(request, api), new Progress({ info: line => log.push(line), warning: line => log.push(`warning: ${line}`) }))
    expect(result).toMatchObject({ status: 'applied', ok: true })
    expect(result.outputs['pre-deploy-exit-code']).toBe('0')
    const arn = result.outputs['pre-deploy-task']

    // What moto recorded of the RunTask request.
    const [task] = (await client.send(new DescribeTasksCommand({ cluster: 'shop', tasks: [arn] }))).tasks!
    expect(task).toMatchObject({ lastStatus: 'STOPPED', launchType: 'EC2', startedBy: 'deploy-service/jobs/4242', group: 'family:jobs' })
    expect(task.containerInstanceArn).toMatch(/container-instance/)
    expect(task.taskDefinitionArn).toMatch(/task-definition\/jobs:2$/)
    expect(task.overrides?.containerOverrides).toEqual([{ name: 'jobs', command: ['bin/migrate', 'up'] }])

    // The revision the task ran from is the one the service now runs: registered once.
    const service = (await client.send(new DescribeServicesCommand({ cluster: 'shop', services: ['jobs'] }))).services![0]
    expect(service.taskDefinition).toBe(task.taskDefinitionArn)
    expect(result.revision).toBe(task.taskDefinitionArn)

    // moto's tasks print nothing: the stream never appears, and the step says so without failing.
    expect(log.some(line => /^\[\+[\d.]+s\] jobs \| /.test(line))).toBe(false)
    expect(log.some(line => /its log: no log stream ecs\/jobs\/[0-9a-f-]+ appeared in group \/ecs\/jobs \(us-east-1\)/.test(line))).toBe(true)
    expect(log.some(line => /the pre-deploy step succeeded/.test(line))).toBe(true)
  })
})
