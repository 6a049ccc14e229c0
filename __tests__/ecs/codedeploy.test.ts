// CODE_DEPLOY services, end to end in-process: the ECS side on moto_server (which creates a service
// under the CODE_DEPLOY controller with its load balancer), the CodeDeploy side on the scripted
// CodeDeploy endpoint (statuses, lifecycle events, traffic, failing hooks, StopDeployment rollback).
import { CreateClusterCommand, CreateServiceCommand, DescribeServicesCommand, ListTaskDefinitionsCommand, RegisterTaskDefinitionCommand, type ECSClient } from '@aws-sdk/client-ecs'
import { StopDeploymentCommand } from '@aws-sdk/client-codedeploy'
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals'
import { parseInputs } from '../../src/inputs.js'
import { CodeDeployApi, createCodeDeployClient } from '../../src/platforms/ecs/codedeploy/index.js'
import { createEcsPlatform } from '../../src/platforms/ecs/index.js'
import { EcsApi } from '../../src/platforms/ecs/client.js'
import { outputsOf } from '../../src/report/outputs.js'
import { runDeployment } from '../../src/rollout/engine.js'
import { Deadline } from '../../src/rollout/deadline.js'
import { Progress } from '../../src/rollout/progress.js'
import { freePort, startMoto, type MotoServer } from '../../test/support/moto.js'
import { startScriptedCodeDeploy, type ScriptedCodeDeploy } from '../../test/support/scripted-codedeploy.js'
import { ecsState } from '../helpers/ecs-state.js'
import { CREDENTIALS, ecsClient, GITHUB_ENV, inputEnv, REGION, templateWriter, type EcsRun } from '../helpers/run.js'

let moto: MotoServer
let codedeploy: ScriptedCodeDeploy
let client: ECSClient
const file = templateWriter('ecs-codedeploy-')

/** A CODE_DEPLOY service on moto: task definition `name` (app container + sidecar) behind a target group. */
async function codeDeployService(name: string, options: { loadBalancer?: boolean } = {}): Promise<string> {
  const registered = await client.send(new RegisterTaskDefinitionCommand({
    family: name,
    containerDefinitions: [
      { name, image: `registry.example/${name}:1.0.0`, memory: 256, essential: true, portMappings: [{ containerPort: 8080 }] },
      { name: 'log-router', image: 'registry.example/fluent-bit:2.1', memory: 64, essential: false }
    ]
  }))
  const loadBalancers = options.loadBalancer === false ? [] : [{ targetGroupArn: `arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/${name}-blue/0123456789abcdef`, containerName: name, containerPort: 8080 }]
  await client.send(new CreateServiceCommand({ cluster: 'shop', serviceName: name, taskDefinition: registered.taskDefinition!.taskDefinitionArn, desiredCount: 2, deploymentController: { type: 'CODE_DEPLOY' }, loadBalancers }))
  return registered.taskDefinition!.taskDefinitionArn!
}

beforeAll(async () => {
  moto = await startMoto()
  client = ecsClient(moto.endpoint)
  await client.send(new CreateClusterCommand({ clusterName: 'shop' }))
  for (const name of ['web', 'api', 'slow', 'gated', 'orphan', 'twice', 'kept']) await codeDeployService(name)
  await codeDeployService('nolb', { loadBalancer: false })
  codedeploy = await startScriptedCodeDeploy({
    stepMs: 250,
    extraApplications: ['billing'],
    serverApplications: ['legacy-ec2'],
    groups: [
      { application: 'shop', name: 'web-bg', cluster: 'shop', service: 'web', autoRollbackOnFailure: true },
      { application: 'shop', name: 'api-bg', cluster: 'shop', service: 'api' },
      { application: 'shop', name: 'slow-bg', cluster: 'shop', service: 'slow' },
      { application: 'shop', name: 'gated-bg', cluster: 'shop', service: 'gated', waitForContinue: true },
      { application: 'shop', name: 'twice-a', cluster: 'shop', service: 'twice' },
      { application: 'billing', name: 'twice-b', cluster: 'shop', service: 'twice' },
      { application: 'shop', name: 'nolb-bg', cluster: 'shop', service: 'nolb' },
      { application: 'shop', name: 'kept-bg', cluster: 'shop', service: 'kept' }
    ]
  })
})

afterAll(async () => {
  await codedeploy?.close()
  await moto?.stop()
})

/** Everything written to stdout (the runner's ::warning:: commands) while `fn` ran. */
async function stdoutOf<T>(fn: () => Promise<T>): Promise<{ value: T; stdout: string }> {
  let stdout = ''
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation(chunk => {
    stdout += String(chunk)
    return true
  })
  try {
    return { value: await fn(), stdout }
  } finally {
    spy.mockRestore()
  }
}

/** The whole pipeline in-process, with the CodeDeploy client pointed at the scripted endpoint. */
async function runCodeDeploy(inputs: Record<string, string>, endpoint = codedeploy.endpoint): Promise<EcsRun> {
  const log: string[] = []
  const progress = new Progress({ info: line => log.push(line), warning: line => log.push(`warning: ${line}`) })
  try {
    const request = parseInputs({ ...GITHUB_ENV, ...inputEnv({ platform: 'ecs', cluster: 'shop', ...inputs }) })
    const codeDeploy = new CodeDeployApi(createCodeDeployClient({ endpoint, region: REGION, credentials: CREDENTIALS }))
    const platform = createEcsPlatform(request, new EcsApi(request.ecs.cluster, ecsClient(moto.endpoint)), undefined, codeDeploy)
    return { result: await runDeployment(request, platform, progress), log }
  } catch (error) {
    return { error: error as Error, log }
  }
}

const callsOf = (operation: string, since = 0) => codedeploy.calls.filter(c => c.operation === operation && c.at >= since)
const appSpecOf = (call: { input: Record<string, any> }) => JSON.parse(call.input.revision.appSpecContent.content)

describe('CodeDeploy-controlled services', () => {
  it('registers the task definition, creates a deployment with the AppSpec built from the service and the file\'s hooks, and follows it to Succeeded', async () => {
    const appspec = file('appspec.yaml', ['version: 0.0', 'Hooks:', '  - AfterAllowTestTraffic: smoke-tests', '  - BeforeAllowTraffic: arn:aws:lambda:us-east-1:123456789012:function:gate', ''].join('\n'))
    const since = Date.now()
    const run = await runCodeDeploy({ service: 'web', 'image-tag': '1.1.0', 'codedeploy-appspec': appspec })
    expect(run.error).toBeUndefined()
    const result = run.result!
    expect(result.status).toBe('succeeded')
    expect(result.revision).toMatch(/task-definition\/web:2$/)
    const [create] = callsOf('CreateDeployment', since)
    expect(create.input).toMatchObject({ applicationName: 'shop', deploymentGroupName: 'web-bg', revision: { revisionType: 'AppSpecContent' } })
    expect(appSpecOf(create)).toEqual({
      version: '0.0',
      Resources: [{ TargetService: { Type: 'AWS::ECS::Service', Properties: { TaskDefinition: result.revision, LoadBalancerInfo: { ContainerName: 'web', ContainerPort: 8080 } } } }],
      Hooks: [{ AfterAllowTestTraffic: 'smoke-tests' }, { BeforeAllowTraffic: 'arn:aws:lambda:us-east-1:123456789012:function:gate' }]
    })
    const outputs = outputsOf(result)
    expect(outputs['codedeploy-deployment-id']).toMatch(/^d-[A-Z0-9]{9}$/)
    // Applications of other compute platforms are never searched for deployment groups.
    expect(callsOf('ListDeploymentGroups', since).map(c => c.input.applicationName).sort()).toEqual(['billing', 'shop'])
    // The ECS target is listed once, then read on each look with GetDeployment.
    expect(callsOf('ListDeploymentTargets', since)).toHaveLength(1)
    expect(callsOf('BatchGetDeploymentTargets', since).length).toBeGreaterThanOrEqual(1)
    expect(callsOf('BatchGetDeploymentTargets', since).length).toBeLessThanOrEqual(callsOf('GetDeployment', since).length)
    expect(codedeploy.deployment(outputs['codedeploy-deployment-id'])!.status).toBe('Succeeded')
    const log = run.log.join('\n')
    expect(log).toContain('through CodeDeploy application shop, deployment group web-bg')
    expect(log).toContain('lifecycle event AfterAllowTestTraffic: Succeeded')
    expect(log).toMatch(/CodeDeploy deployment d-\w+: InProgress: \w+/)
    expect(log).toMatch(/traffic: green 100%/)
    expect(log).toContain(`CodeDeploy deployment ${outputs['codedeploy-deployment-id']} succeeded`)
    // CodeDeploy, not UpdateService, changes the service: moto's service still runs revision 1.
    const service = (await client.send(new DescribeServicesCommand({ cluster: 'shop', services: ['web'] }))).services![0]
    expect(service.taskDefinition).toMatch(/task-definition\/web:1$/)
  })

  it('reports the failing hook\'s message and follows CodeDeploy\'s own rollback when the group rolls back on failure', async () => {
    codedeploy.scripts.push({ kind: 'fail', event: 'AfterAllowTestTraffic', message: 'smoke test GET /health answered 503' })
    const since = Date.now()
    const run = await runCodeDeploy({ service: 'web', 'image-tag': '1.2.0' })
    expect(run.error).toBeUndefined()
    const result = run.result!
    expect(result.status).toBe('rolled-back')
    expect(result.rollback).toMatchObject({ by: 'platform', healthy: true })
    expect(result.reasons.join('\n')).toContain('lifecycle event AfterAllowTestTraffic failed (ScriptFailed): smoke test GET /health answered 503')
    expect(result.message).toContain('HOOK_EXECUTION_FAILURE')
    // CodeDeploy rolled back by itself: no StopDeployment, no second deployment of ours.
    expect(callsOf('StopDeployment', since)).toHaveLength(0)
    expect(callsOf('CreateDeployment', since)).toHaveLength(1)
    expect(run.log.join('\n')).toMatch(/CodeDeploy is rolling back: deployment d-[A-Z0-9]{9}/)
  })

  it('without automatic rollback, puts the previous task definition back through a new CodeDeploy deployment', async () => {
    codedeploy.scripts.push({ kind: 'fail', event: 'BeforeInstall', message: 'BeforeInstall hook: schema check failed' })
    const since = Date.now()
    const run = await runCodeDeploy({ service: 'api', 'image-tag': '2.0.0' })
    expect(run.result?.status).toBe('rolled-back')
    const creates = callsOf('CreateDeployment', since)
    expect(creates).toHaveLength(2)
    expect(appSpecOf(creates[1]).Resources[0].TargetService.Properties.TaskDefinition).toMatch(/task-definition\/api:1$/)
    expect(run.result!.reasons.join('\n')).toContain('BeforeInstall hook: schema check failed')
  })

  it('at the timeout, stops the deployment with CodeDeploy\'s rollback and follows the rollback to the end', async () => {
    codedeploy.scripts.push({ kind: 'hang', event: 'AfterAllowTestTraffic' })
    const since = Date.now()
    const run = await runCodeDeploy({ service: 'slow', 'image-tag': '3.0.0', timeout: '6s' })
    expect(run.error).toBeUndefined()
    const result = run.result!
    expect(result.status).toBe('rolled-back')
    expect(result.rollback).toMatchObject({ by: 'action', healthy: true })
    const [stop] = callsOf('StopDeployment', since)
    expect(stop.input).toEqual({ deploymentId: outputsOf(result)['codedeploy-deployment-id'], autoRollbackEnabled: true })
    const stopped = codedeploy.deployment(stop.input.deploymentId as string)!
    expect(stopped.status).toBe('Stopped')
    expect(codedeploy.deployment(stopped.rollbackInfo.rollbackDeploymentId)!.status).toBe('Succeeded')
    expect(result.message).toContain('did not finish within 6s')
    expect(result.message).toContain('AfterAllowTestTraffic')
  })

  it('mode rollback deploys the chosen revision through CodeDeploy, registering nothing', async () => {
    const before = await ecsState(client)
    const since = Date.now()
    const run = await runCodeDeploy({ service: 'api', mode: 'rollback', 'to-revision': '2', 'image-tag': '' })
    expect(run.error).toBeUndefined()
    expect(run.result!.status).toBe('succeeded')
    expect(run.result!.message).toMatch(/^rolled back to api:2/)
    const [create] = callsOf('CreateDeployment', since)
    expect(appSpecOf(create).Resources[0].TargetService.Properties.TaskDefinition).toMatch(/task-definition\/api:2$/)
    expect(await ecsState(client)).toEqual(before)
  })

  it('a dry run shows the AppSpec and the deployment group, and registers and deploys nothing', async () => {
    const before = await ecsState(client)
    const since = Date.now()
    const run = await runCodeDeploy({ service: 'web', 'image-tag': '9.9.9', 'dry-run': 'true' })
    expect(run.error).toBeUndefined()
    expect(run.result!.status).toBe('dry-run')
    const diff = run.result!.diff!
    expect(diff).toContain('~ web: image registry.example/web:1.0.0 -> registry.example/web:9.9.9')
    expect(diff).toContain('CodeDeploy: application shop, deployment group web-bg, CodeDeployDefault.ECSAllAtOnce, automatic rollback on DEPLOYMENT_FAILURE')
    expect(diff).toContain('"ContainerName": "web"')
    expect(diff).toContain('"TaskDefinition": "(the new revision of web)"')
    expect(await ecsState(client)).toEqual(before)
    expect(callsOf('CreateDeployment', since)).toHaveLength(0)
  })

  it('on-pause exit stops waiting at Ready; on-pause continue reroutes traffic and succeeds', async () => {
    const paused = await runCodeDeploy({ service: 'gated', 'image-tag': '4.0.0', 'on-pause': 'exit' })
    expect(paused.result?.status).toBe('paused')
    expect(paused.result!.message).toContain('continue-deployment --deployment-id d-')
    const id = outputsOf(paused.result!)['codedeploy-deployment-id']
    expect(codedeploy.deployment(id)!.status).toBe('Ready')
    // One active deployment per group: stop it as a person would before the next test.
    await createCodeDeployClient({ endpoint: codedeploy.endpoint, region: REGION, credentials: CREDENTIALS }).send(new StopDeploymentCommand({ deploymentId: id, autoRollbackEnabled: false }))

    const since = Date.now()
    const continued = await runCodeDeploy({ service: 'gated', 'image-tag': '4.0.1', 'on-pause': 'continue' })
    expect(continued.result?.status).toBe('succeeded')
    expect(callsOf('ContinueDeployment', since)).toHaveLength(1)
  })
})

describe('around the deployment', () => {
  it('keep-revisions prunes the family after success, keeping the rollback target; desired-count is not used, with a warning', async () => {
    const { value: run, stdout } = await stdoutOf(() => runCodeDeploy({ service: 'kept', 'image-tag': '7.0.0', 'keep-revisions': '1', 'desired-count': '3' }))
    expect(run.result?.status).toBe('succeeded')
    expect(stdout).toMatch(/^::warning::desired-count is not used for ECS service 'kept': CodeDeploy deploys it/m)
    expect(run.log.join('\n')).toContain('keep-revisions 1: nothing to deregister')
    const active = (await client.send(new ListTaskDefinitionsCommand({ familyPrefix: 'kept', status: 'ACTIVE' }))).taskDefinitionArns!
    expect(active.map(arn => arn.split('/').pop()).sort()).toEqual(['kept:1', 'kept:2'])
  })

  it('throttled CodeDeploy calls are retried by the one retry policy and the deploy goes on', async () => {
    const throttled = await startScriptedCodeDeploy({ stepMs: 100, throttle: { operations: ['ListApplications', 'CreateDeployment', 'GetDeployment'], count: 4 }, groups: [{ application: 'shop', name: 'web-bg', cluster: 'shop', service: 'web' }] })
    try {
      const run = await runCodeDeploy({ service: 'web', 'image-tag': '8.0.0' }, throttled.endpoint)
      expect(run.result?.status).toBe('succeeded')
      expect(throttled.calls.filter(c => c.status === 400).map(c => c.operation)).toEqual(['ListApplications', 'ListApplications', 'ListApplications', 'ListApplications'])
      expect(throttled.calls.filter(c => c.operation === 'CreateDeployment' && c.status === 200)).toHaveLength(1)
    } finally {
      await throttled.close()
    }
  })
})

describe('a long bake', () => {
  it('shows Baking and reads only GetDeployment while the original task set waits to be terminated', async () => {
    const baking = await startScriptedCodeDeploy({ stepMs: 100, bakeMs: 5000, groups: [{ application: 'shop', name: 'web-bg', cluster: 'shop', service: 'web' }] })
    try {
      const run = await runCodeDeploy({ service: 'web', 'image-tag': '8.2.0' }, baking.endpoint)
      expect(run.result?.status).toBe('succeeded')
      expect(run.log.join('\n')).toMatch(/CodeDeploy deployment d-\w+: Baking; traffic: green 100%, blue 0%/)
      const looks = baking.calls.filter(c => c.operation === 'GetDeployment').length
      const targetReads = baking.calls.filter(c => c.operation === 'BatchGetDeploymentTargets').length
      // Several looks during the 5 s bake, none of them reading the target again.
      expect(looks).toBeGreaterThanOrEqual(4)
      expect(targetReads).toBeLessThanOrEqual(looks - 3)
    } finally {
      await baking.close()
    }
  })
})

describe('an answer that was lost', () => {
  it('CreateDeployment that ran but answered 500: the retry is refused, the deployment it made is found by its AppSpec and followed', async () => {
    const lossy = await startScriptedCodeDeploy({ stepMs: 100, lostAnswers: { operations: ['CreateDeployment'], count: 1 }, groups: [{ application: 'shop', name: 'web-bg', cluster: 'shop', service: 'web' }] })
    try {
      const run = await runCodeDeploy({ service: 'web', 'image-tag': '8.1.0' }, lossy.endpoint)
      expect(run.result?.status).toBe('succeeded')
      expect(lossy.calls.filter(c => c.operation === 'CreateDeployment').map(c => c.status)).toEqual([500, 400])
      expect(lossy.calls.filter(c => c.operation === 'ListDeployments')).toHaveLength(1)
      const id = outputsOf(run.result!)['codedeploy-deployment-id']
      expect(lossy.deployment(id)!.status).toBe('Succeeded')
    } finally {
      await lossy.close()
    }
  })
})

describe('on-pause verify at Ready', () => {
  /**
   * Applies a deploy of `gated` and waits with the engine's verification at the pause played by
   * `check` (src/verify runs verify-url / verify-command there; this is the platform's side).
   */
  async function deployWithCheck(tag: string, check: () => Promise<{ ok: true } | { ok: false; reason: string }>) {
    const log: string[] = []
    const progress = new Progress({ info: line => log.push(line), warning: line => log.push(`warning: ${line}`) })
    const request = parseInputs({ ...GITHUB_ENV, ...inputEnv({ platform: 'ecs', cluster: 'shop', service: 'gated', 'image-tag': tag, 'on-pause': 'verify', 'verify-command': 'true' }) })
    const codeDeploy = new CodeDeployApi(createCodeDeployClient({ endpoint: codedeploy.endpoint, region: REGION, credentials: CREDENTIALS }))
    const plan = await createEcsPlatform(request, new EcsApi('shop', ecsClient(moto.endpoint)), undefined, codeDeploy).prepareDeploy()
    const cancel = new AbortController().signal
    const rollout = await plan.apply(progress, cancel)
    const deadline = new Deadline(60_000)
    try {
      let checks = 0
      const outcome = await rollout.wait({ deadline, progress, cancel, verifyAtPause: () => (checks++, check()) })
      return { rollout, outcome, checks, log, context: { deadline, progress, cancel } }
    } finally {
      deadline.dispose()
    }
  }

  it('a check that fails at Ready fails the rollout before production traffic moves; the undo stops it with CodeDeploy\'s rollback', async () => {
    const since = Date.now()
    const { rollout, outcome, checks, context } = await deployWithCheck('4.1.0', async () => ({ ok: false, reason: 'smoke: 2 failures' }))
    expect(outcome).toEqual({ state: 'failed', reason: 'verification at Ready failed: smoke: 2 failures' })
    expect(checks).toBe(1)
    expect(callsOf('ContinueDeployment', since)).toHaveLength(0)
    const id = rollout.outputs['codedeploy-deployment-id']
    expect(codedeploy.deployment(id)!.status).toBe('Ready')
    const deadline = new Deadline(60_000)
    try {
      const restore = await rollout.undo({ ...context, deadline })
      expect(await restore.wait({ ...context, deadline })).toEqual({ state: 'succeeded' })
    } finally {
      deadline.dispose()
    }
    expect(callsOf('StopDeployment', since).map(c => c.input)).toEqual([{ deploymentId: id, autoRollbackEnabled: true }])
    expect(codedeploy.deployment(id)!.status).toBe('Stopped')
  })

  it('a check that passes at Ready reroutes traffic, and the deployment succeeds', async () => {
    const since = Date.now()
    const { outcome, checks, log } = await deployWithCheck('4.2.0', async () => ({ ok: true }))
    expect(outcome).toEqual({ state: 'succeeded' })
    expect(checks).toBe(1)
    expect(callsOf('ContinueDeployment', since)).toHaveLength(1)
    expect(log.join('\n')).toContain('verifying the replacement task set before rerouting traffic (on-pause: verify)')
  })
})

describe('refused before anything is registered', () => {
  it.each([
    ['an unknown hook', ['Hooks:', '  - AfterInstall: warm-cache', '  - AfterTraffic: smoke', ''], ':3:', /unknown ECS lifecycle hook 'AfterTraffic': use one of BeforeInstall, AfterInstall/],
    ['a hook without a function', ['version: 0.0', 'Hooks:', '  - BeforeAllowTraffic: ""', ''], ':3:', /hook BeforeAllowTraffic must name a Lambda function/],
    ['a load balancer that is not the service\'s', ['Resources:', '  - TargetService:', '      Type: AWS::ECS::Service', '      Properties:', '        LoadBalancerInfo:', '          ContainerName: web', '          ContainerPort: 80', ''], ':6:', /LoadBalancerInfo says web:80, but service 'web' routes its load balancer to web:8080/],
    ['a YAML syntax error', ['Hooks:', '  - BeforeInstall: [unclosed', ''], ':', /.+/]
  ])('a codedeploy-appspec file with %s: an error at file:line, nothing registered or deployed', async (_case, lines, line, pattern) => {
    const appspec = file(`bad-${Math.random().toString(36).slice(2)}.yaml`, lines.join('\n'))
    const before = await ecsState(client)
    const since = Date.now()
    const run = await runCodeDeploy({ service: 'web', 'image-tag': '5.0.0', 'codedeploy-appspec': appspec })
    expect(run.result).toBeUndefined()
    expect(run.error?.message).toContain(`${appspec}${line}`)
    expect(run.error?.message).toMatch(pattern)
    expect(await ecsState(client)).toEqual(before)
    expect(callsOf('CreateDeployment', since)).toHaveLength(0)
  })

  it('a CodeDeploy endpoint that refuses connections: tried a few times, then an error that says so', async () => {
    const before = await ecsState(client)
    const run = await runCodeDeploy({ service: 'web', 'image-tag': '6.1.0' }, `http://127.0.0.1:${await freePort()}`)
    expect(run.error?.message).toMatch(/^could not list CodeDeploy applications: the CodeDeploy endpoint refused the connection \(nothing listens there\) \(4 tries in \d+s\): check the network path to CodeDeploy/)
    expect(await ecsState(client)).toEqual(before)
  })

  it.each([
    ['orphan', /no CodeDeploy deployment group deploys it \(searched the 2 ECS applications of 3 in this region\): create an ECS deployment group for it/],
    ['twice', /is deployed by 2 CodeDeploy deployment groups \(billing\/twice-b, shop\/twice-a\)/],
    ['nolb', /has no load balancer with a container name and port/]
  ])('service %s: a clear error naming what to fix', async (service, pattern) => {
    const before = await ecsState(client)
    const run = await runCodeDeploy({ service, 'image-tag': '6.0.0' })
    expect(run.error?.message).toMatch(pattern)
    expect(run.error?.message).toContain('nothing was registered')
    expect(await ecsState(client)).toEqual(before)
  })
})
