// The scripted ECS endpoint's service deployments, driven through the real AWS SDK over HTTP: the
// shapes and errors of List/Describe/Stop/ContinueServiceDeployment as the API reference gives them.
import { describe, expect, it } from '@jest/globals'
import {
  ContinueServiceDeploymentCommand,
  DescribeServiceDeploymentsCommand,
  DescribeServicesCommand,
  ECSClient,
  ListServiceDeploymentsCommand,
  RegisterTaskDefinitionCommand,
  StopServiceDeploymentCommand,
  UpdateServiceCommand,
  type ServiceDeployment
} from '@aws-sdk/client-ecs'
import { defaultSeed, startScriptedEcs, type ScriptedEcs, type ScriptedEcsOptions } from '../test/support/scripted-ecs.js'

async function withServer(options: ScriptedEcsOptions, body: (ecs: ECSClient, server: ScriptedEcs) => Promise<void>): Promise<void> {
  const server = await startScriptedEcs({ settleMs: 600, ...options })
  const ecs = new ECSClient({ region: 'us-east-1', endpoint: server.endpoint, credentials: { accessKeyId: 'AKIDSCRIPTED', secretAccessKey: 'scripted' }, maxAttempts: 1 })
  try {
    await body(ecs, server)
  } finally {
    ecs.destroy()
    await server.close()
  }
}

/** Registers web with `tag` and updates the service to it; returns the service after the update. */
async function deploy(ecs: ECSClient, tag: string) {
  const seed = defaultSeed()[0]!.taskDefinition as { containerDefinitions: Array<{ image: string }> }
  const containers = seed.containerDefinitions.map((c, i) => (i === 0 ? { ...c, image: `registry.example/web:${tag}` } : c))
  const registered = await ecs.send(new RegisterTaskDefinitionCommand({ ...(seed as object), family: 'web', containerDefinitions: containers } as never))
  return (await ecs.send(new UpdateServiceCommand({ service: 'web', taskDefinition: registered.taskDefinition!.taskDefinitionArn }))).service!
}

const describeOne = async (ecs: ECSClient, arn: string): Promise<ServiceDeployment> =>
  (await ecs.send(new DescribeServiceDeploymentsCommand({ serviceDeploymentArns: [arn] }))).serviceDeployments![0]!

const until = async (what: () => Promise<boolean>): Promise<void> => {
  const end = Date.now() + 10_000
  while (!(await what())) {
    if (Date.now() > end) throw new Error('timed out')
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

describe('scripted ECS: service deployments', () => {
  it('starts one with UpdateService, shows it as current, and lists it newest first with the seeded one', () => withServer({}, async ecs => {
    const before = (await ecs.send(new DescribeServicesCommand({ services: ['web'] }))).services![0]!.currentServiceDeployment!
    const updated = await deploy(ecs, '2.0.0')
    const arn = updated.currentServiceDeployment!
    expect(arn).toMatch(/^arn:aws:ecs:us-east-1:123456789012:service-deployment\/default\/web\/\w+$/)
    expect(arn).not.toBe(before)
    const listed = (await ecs.send(new ListServiceDeploymentsCommand({ service: 'web' }))).serviceDeployments!
    expect(listed.map(d => [d.serviceDeploymentArn, d.status])).toEqual([[arn, 'IN_PROGRESS'], [before, 'SUCCESSFUL']])
    expect((await ecs.send(new ListServiceDeploymentsCommand({ service: 'web', status: ['SUCCESSFUL'] }))).serviceDeployments!.map(d => d.serviceDeploymentArn)).toEqual([before])
    const sd = await describeOne(ecs, arn)
    expect(sd).toMatchObject({ serviceArn: updated.serviceArn, status: 'IN_PROGRESS', targetServiceRevision: { requestedTaskCount: 2 }, deploymentCircuitBreaker: { status: 'MONITORING', threshold: 3 } })
    expect(sd.createdAt).toBeInstanceOf(Date)
    await until(async () => (await describeOne(ecs, arn)).status === 'SUCCESSFUL')
    expect((await describeOne(ecs, arn)).finishedAt).toBeInstanceOf(Date)
  }))

  it('stops the one in flight when a newer update comes (STOPPED), and answers MISSING for unknown ARNs', () => withServer({ settleMs: 5000 }, async ecs => {
    const first = (await deploy(ecs, '2.0.0')).currentServiceDeployment!
    const second = (await deploy(ecs, '3.0.0')).currentServiceDeployment!
    expect(await describeOne(ecs, first)).toMatchObject({ status: 'STOPPED', statusReason: expect.stringMatching(/superseded/) })
    expect((await describeOne(ecs, second)).status).toBe('IN_PROGRESS')
    const unknown = first.replace(/\w+$/, 'nope')
    const answer = await ecs.send(new DescribeServiceDeploymentsCommand({ serviceDeploymentArns: [unknown] }))
    expect(answer).toMatchObject({ serviceDeployments: [], failures: [{ arn: unknown, reason: 'MISSING' }] })
  }))

  it('rolls back on StopServiceDeployment ROLLBACK, and refuses to stop one that ended (ConflictException)', () => withServer({ settleMs: 5000 }, async ecs => {
    const arn = (await deploy(ecs, '2.0.0')).currentServiceDeployment!
    await ecs.send(new StopServiceDeploymentCommand({ serviceDeploymentArn: arn, stopType: 'ROLLBACK' }))
    expect(await describeOne(ecs, arn)).toMatchObject({ status: 'ROLLBACK_IN_PROGRESS', rollback: { reason: expect.stringMatching(/StopServiceDeployment/) } })
    await until(async () => (await describeOne(ecs, arn)).status === 'ROLLBACK_SUCCESSFUL')
    const service = (await ecs.send(new DescribeServicesCommand({ services: ['web'] }))).services![0]!
    expect(service.taskDefinition).toMatch(/web:1$/)
    await expect(ecs.send(new StopServiceDeploymentCommand({ serviceDeploymentArn: arn, stopType: 'ROLLBACK' }))).rejects.toMatchObject({ name: 'ConflictException' })
  }))

  it('pauses at a PAUSE hook until ContinueServiceDeployment, and refuses an unknown hook', () => withServer({
    services: defaultSeed().map(s => ({ ...s, deploymentConfiguration: { strategy: 'BLUE_GREEN', bakeTimeInMinutes: 0, lifecycleHooks: [{ targetType: 'PAUSE', lifecycleStages: ['POST_SCALE_UP'] }] } })),
    serviceDeployments: { stageMs: 50 }
  }, async ecs => {
    const arn = (await deploy(ecs, '2.0.0')).currentServiceDeployment!
    await until(async () => Boolean((await describeOne(ecs, arn)).lifecycleHookDetails?.length))
    const paused = await describeOne(ecs, arn)
    expect(paused).toMatchObject({ status: 'IN_PROGRESS', lifecycleStage: 'POST_SCALE_UP' })
    const [hook] = paused.lifecycleHookDetails!
    expect(hook).toMatchObject({ targetType: 'PAUSE', status: 'AWAITING_ACTION', timeoutAction: 'ROLLBACK' })
    expect(hook!.expiresAt).toBeInstanceOf(Date)
    await expect(ecs.send(new ContinueServiceDeploymentCommand({ serviceDeploymentArn: arn, hookId: 'nope' }))).rejects.toMatchObject({ name: 'InvalidParameterException' })
    await ecs.send(new ContinueServiceDeploymentCommand({ serviceDeploymentArn: arn, hookId: hook!.hookId!, action: 'CONTINUE' }))
    await until(async () => (await describeOne(ecs, arn)).status === 'SUCCESSFUL')
    expect((await describeOne(ecs, arn)).targetServiceRevision).toMatchObject({ requestedProductionTrafficWeight: 100 })
  }))

  it('answers AccessDeniedException to every service-deployment call when denied', () => withServer({ serviceDeployments: { denied: true } }, async ecs => {
    const arn = (await deploy(ecs, '2.0.0')).currentServiceDeployment!
    await expect(ecs.send(new ListServiceDeploymentsCommand({ service: 'web' }))).rejects.toMatchObject({ name: 'AccessDeniedException', message: expect.stringMatching(/not authorized to perform: ecs:ListServiceDeployments/) })
    await expect(ecs.send(new DescribeServiceDeploymentsCommand({ serviceDeploymentArns: [arn] }))).rejects.toMatchObject({ name: 'AccessDeniedException' })
    await expect(ecs.send(new StopServiceDeploymentCommand({ serviceDeploymentArn: arn, stopType: 'ROLLBACK' }))).rejects.toMatchObject({ name: 'AccessDeniedException' })
  }))
})
