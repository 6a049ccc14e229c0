// Only what is provably ours, for the ECS pre-deploy task and keep-revisions, against the scripted ECS
// endpoint through the real SDK (the task's log written to a moto_server's CloudWatch Logs):
// - a pre-deploy task stopped from outside (a Spot interruption, someone's StopTask, another essential
//   container exiting first) fails, naming the stop code, even when the command exits 0 on SIGTERM;
// - a task that can no longer be followed is stopped (StopTask proven ours), and the step says so;
// - after pre-deploy-timeout, the lines the container wrote on its way out are in the reasons;
// - keep-revisions leaves alone a revision a run may still be about to deploy, one another service of
//   the family would roll back to, and one deploy-service did not register.
import { CloudWatchLogsClient, CreateLogGroupCommand } from '@aws-sdk/client-cloudwatch-logs'
import { DescribeTaskDefinitionCommand, StopTaskCommand } from '@aws-sdk/client-ecs'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { parseInputs } from '../../src/inputs.js'
import { EcsApi } from '../../src/platforms/ecs/client.js'
import { createEcsPlatform } from '../../src/platforms/ecs/index.js'
import { PREVIOUS_TAG } from '../../src/platforms/ecs/revisions.js'
import { runDeployment } from '../../src/rollout/engine.js'
import { Progress, workflowLog } from '../../src/rollout/progress.js'
import { startMoto, type MotoServer } from '../../test/support/moto.js'
import { defaultSeed, startScriptedEcs, type ScriptedEcs, type ScriptedEcsOptions, type SeedService } from '../../test/support/scripted-ecs.js'
import { CREDENTIALS, ecsClient, GITHUB_ENV, inputEnv, runEcs, type EcsRun } from '../helpers/run.js'

let moto: MotoServer
const GROUP = '/ecs/web-ownership'

beforeAll(async () => {
  moto = await startMoto()
  const logs = new CloudWatchLogsClient({ endpoint: moto.endpoint, region: 'us-east-1', credentials: CREDENTIALS })
  await logs.send(new CreateLogGroupCommand({ logGroupName: GROUP }))
})

afterAll(async () => {
  await moto.stop()
})

type Definition = { containerDefinitions: Array<Record<string, unknown>> } & Record<string, unknown>

/** The default service, its app container logging with awslogs to moto; `router` changes the essential log-router sidecar. */
function seedWithLogs(router: Record<string, unknown> = {}): SeedService[] {
  const [seed] = defaultSeed()
  const definition = seed!.taskDefinition as Definition
  const [web, sidecar] = definition.containerDefinitions
  const logConfiguration = { logDriver: 'awslogs', options: { 'awslogs-group': GROUP, 'awslogs-region': 'us-east-1', 'awslogs-stream-prefix': 'ecs', 'awslogs-endpoint': moto.endpoint } }
  return [{ ...seed!, taskDefinition: { ...definition, containerDefinitions: [{ ...web, logConfiguration }, { ...sidecar, ...router }] } }]
}

interface Run extends EcsRun {
  ecs: ScriptedEcs
}

/** The pipeline in-process against a scripted endpoint; `during` plays someone else while it runs. */
async function deploy(inputs: Record<string, string>, options: { seed?: SeedService[]; options?: ScriptedEcsOptions; during?: (ecs: ScriptedEcs, log: string[]) => Promise<void> } = {}): Promise<Run> {
  const ecs = await startScriptedEcs({ settleMs: 800, services: options.seed ?? seedWithLogs(), ...options.options })
  const log: string[] = []
  const progress = new Progress(workflowLog({ info: line => log.push(line), warning: line => log.push(`warning: ${line}`), startGroup: () => undefined, endGroup: () => undefined }))
  try {
    const request = parseInputs({ ...GITHUB_ENV, ...inputEnv({ platform: 'ecs', service: 'web', 'image-tag': '2.0.0', timeout: '30s', ...inputs }) })
    const api = new EcsApi(request.ecs.cluster, ecsClient(ecs.endpoint))
    api.logsClientConfig = { endpoint: moto.endpoint, credentials: CREDENTIALS }
    const [result] = await Promise.all([runDeployment(request, createEcsPlatform(request, api), progress), options.during?.(ecs, log)])
    return { result, log, ecs }
  } catch (error) {
    return { error: error as Error, log, ecs }
  } finally {
    await ecs.close()
  }
}

const calls = (run: Run, operation: string) => run.ecs.calls.filter(c => c.operation === operation && c.status === 200)

/** Resolves once the step's log shows `pattern` (the task printed it: it runs); returns the task's id. */
async function whenLogged(log: string[], pattern: RegExp): Promise<string> {
  for (;;) {
    const started = log.map(line => /started task ([0-9a-f]{32})/.exec(line)?.[1]).find(Boolean)
    if (started && log.some(line => pattern.test(line))) return started
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

/** A migration that traps SIGTERM and exits 0 on it: its exit code alone would say it succeeded. */
const TRAPS_TERM = `trap 'echo interrupted; exit 0' TERM; echo migrating 0042_orders; sleep 600`

describe('ECS pre-deploy task: a success only when its command ended it', () => {
  it('fails when a Spot interruption stops the task, though the command exits 0 on SIGTERM', async () => {
    const run = await deploy({ 'pre-deploy-command': TRAPS_TERM }, {
      during: async (ecs, log) => {
        const task = await whenLogged(log, /web \| migrating 0042_orders/)
        const stopped = await fetch(`${ecs.endpoint}/_scripted/stop-task`, { method: 'POST', body: JSON.stringify({ task, stopCode: 'SpotInterruption', stoppedReason: 'Your Spot Task was interrupted.' }) })
        expect(stopped.status).toBe(200)
      }
    })
    expect(run.error).toBeUndefined()
    expect(run.result).toMatchObject({ status: 'failed', ok: false, outputs: { 'pre-deploy-exit-code': '0' } })
    expect(run.result!.reasons[0]).toMatch(/^the pre-deploy step failed: the task was stopped from outside before web finished \(SpotInterruption: Your Spot Task was interrupted\.\), so its exit code does not say the command completed; web exited with code 0; the last 2 lines of its log:\nmigrating 0042_orders\ninterrupted$/)
    expect(calls(run, 'UpdateService')).toHaveLength(0)
  })

  it('fails when someone else stops the task, naming UserInitiated and their reason', async () => {
    const run = await deploy({ 'pre-deploy-command': TRAPS_TERM }, {
      during: async (ecs, log) => {
        const task = await whenLogged(log, /web \| migrating 0042_orders/)
        const client = ecsClient(ecs.endpoint)
        await client.send(new StopTaskCommand({ task, reason: 'ops: draining the cluster' }))
        client.destroy()
      }
    })
    expect(run.result).toMatchObject({ status: 'failed', outputs: { 'pre-deploy-exit-code': '0' } })
    expect(run.result!.reasons[0]).toMatch(/^the pre-deploy step failed: the task was stopped from outside before web finished \(UserInitiated: ops: draining the cluster\)/)
    // Their StopTask, not ours: the action sent none.
    expect(calls(run, 'StopTask').map(c => (c.input as { reason?: string }).reason)).toEqual(['ops: draining the cluster'])
    expect(calls(run, 'UpdateService')).toHaveLength(0)
  })

  it('fails when another essential container exits first and ECS stops the command with the task', async () => {
    const seed = seedWithLogs({ command: ['sh', '-c', 'sleep 1; exit 1'] })
    const run = await deploy({ 'pre-deploy-command': TRAPS_TERM }, { seed })
    expect(run.result).toMatchObject({ status: 'failed', outputs: { 'pre-deploy-exit-code': '0' } })
    expect(run.result!.reasons[0]).toMatch(/^the pre-deploy step failed: essential container log-router exited first \(exit code 1\) and stopped the task \(EssentialContainerExited: Essential container in task exited\): web was stopped by ECS before it finished; web exited with code 0/)
    expect(calls(run, 'UpdateService')).toHaveLength(0)
  })

  it('succeeds when the command exited first, though the essential sidecar ECS then stops exits 1', async () => {
    // The sidecar takes 8 s to stop, and exits 1 when it does: seen still running after the command exited, it did not stop the task.
    const seed = seedWithLogs({ command: ['sh', '-c', `trap 'sleep 8; exit 1' TERM; sleep 600`] })
    const run = await deploy({ 'pre-deploy-command': 'echo migrated; exit 0' }, { seed })
    expect(run.result).toMatchObject({ status: 'succeeded', outputs: { 'pre-deploy-exit-code': '0' } })
    expect(calls(run, 'UpdateService')).toHaveLength(1)
  })

  it('still succeeds when the command exits 0 and its essential sidecar stops with the task', async () => {
    const run = await deploy({ 'pre-deploy-command': 'echo migrated; exit 0' })
    expect(run.result).toMatchObject({ status: 'succeeded', outputs: { 'pre-deploy-exit-code': '0' } })
    expect(calls(run, 'UpdateService')).toHaveLength(1)
  })
})

describe('ECS pre-deploy task: stopping it', () => {
  it('stops a task it can no longer follow (DescribeTasks denied), proven ours by its RunTask answer, and says so', async () => {
    const run = await deploy({ 'pre-deploy-command': 'echo migrating; sleep 600' }, { options: { deny: { operations: ['DescribeTasks'] } } })
    expect(run.result).toMatchObject({ status: 'failed', ok: false })
    const task = run.result!.outputs['pre-deploy-task']!
    expect(run.result!.reasons[0]).toMatch(/^the pre-deploy step failed: could not follow task [0-9a-f]{32}: could not describe tasks: access denied \(.*not authorized to perform: ecs:DescribeTasks.*\)[^;]*; it was stopped \(StopTask: ECS sends SIGTERM, then SIGKILL 30 s later\)/)
    expect(calls(run, 'StopTask').map(c => c.input)).toEqual([{ cluster: 'default', task, reason: 'deploy-service: the task could no longer be followed' }])
    expect(calls(run, 'UpdateService')).toHaveLength(0)
  })

  it('stops a task DescribeTasks never shows (MISSING), on the proof of its RunTask answer', async () => {
    const run = await deploy({ 'pre-deploy-command': 'sleep 600' }, { options: { oneOffVisibleAfterMs: 600_000 } })
    expect(run.result).toMatchObject({ status: 'failed', ok: false })
    const task = run.result!.outputs['pre-deploy-task']!
    expect(run.result!.reasons[0]).toMatch(/^the pre-deploy step failed: could not follow task [0-9a-f]{32}: ECS does not know task .* 30s after starting it; it was stopped \(StopTask: /)
    expect(calls(run, 'StopTask').map(c => c.input)).toEqual([{ cluster: 'default', task, reason: 'deploy-service: the task could no longer be followed' }])
    expect(run.log.join('\n')).toMatch(/task [0-9a-f]{32}: it was stopped/)
  }, 90_000)

  it('has the lines the container wrote on its way out in the reasons after pre-deploy-timeout', async () => {
    const command = `trap 'sleep 2; echo rolled back 0042_orders; exit 1' TERM; echo migrating 0042_orders; sleep 600`
    const run = await deploy({ 'pre-deploy-command': command, 'pre-deploy-timeout': '3s' })
    expect(run.result).toMatchObject({ status: 'failed', ok: false })
    const reason = run.result!.reasons[0]!
    expect(reason).toMatch(/^the pre-deploy step timed out: task [0-9a-f]+ did not stop within 3s \(pre-deploy-timeout\); it was stopped \(StopTask: .*\); it was last seen RUNNING; the last 2 lines of its log:\nmigrating 0042_orders\nrolled back 0042_orders$/)
    expect(calls(run, 'StopTask').map(c => (c.input as { reason?: string }).reason)).toEqual(['deploy-service: pre-deploy-timeout passed'])
  })
})

describe('keep-revisions: only revisions no deploy can still need', () => {
  const ARN = (revision: number): string => `arn:aws:ecs:us-east-1:123456789012:task-definition/web:${revision}`
  const ours = (run: string): { key: string; value: string }[] => [{ key: 'deploy-service:registration', value: `registration-${run}` }, { key: 'deploy-service:run', value: `https://github.com/acme/shop/actions/runs/${run}` }]
  const definition = (image: string): Definition => {
    const seed = defaultSeed()[0]!.taskDefinition as Definition
    return { ...seed, containerDefinitions: seed.containerDefinitions.map((c, i) => (i === 0 ? { ...c, image } : c)) }
  }
  const DAY = 86_400_000

  it('keeps another run’s fresh revision, another service’s rollback target and a hand-made revision; deregisters an old unused one of ours', async () => {
    const services: SeedService[] = [
      defaultSeed()[0]!,
      // web:2: the family's canary in another cluster, deployed by deploy-service from web:3, its rollback target.
      { ...defaultSeed()[0]!, cluster: 'canary', name: 'web-canary', taskDefinition: { ...definition('registry.example/web:1.1.0'), tags: [...ours('100'), { key: PREVIOUS_TAG, value: ARN(3) }] } }
    ]
    const ecs = await startScriptedEcs({
      settleMs: 800,
      services,
      taskDefinitions: [
        { ...definition('registry.example/web:0.9.0'), tags: ours('90'), ageMs: 2 * DAY }, // web:3: the canary's rollback target
        { ...definition('registry.example/web:0.8.0'), ageMs: 2 * DAY }, // web:4: registered by hand
        { ...definition('registry.example/web:0.7.0'), tags: ours('70'), ageMs: 2 * DAY }, // web:5: ours, old, unused
        { ...definition('registry.example/web:1.2.0'), tags: ours('120'), ageMs: 5 * 60_000 } // web:6: another run, before its UpdateService
      ]
    })
    const client = ecsClient(ecs.endpoint)
    try {
      const run = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': '2.0.0', timeout: '30s', 'keep-revisions': '1' })
      expect(run.result).toMatchObject({ status: 'succeeded', outputs: { 'task-definition-arn': ARN(7) } })
      const status = async (revision: number): Promise<string | undefined> => (await client.send(new DescribeTaskDefinitionCommand({ taskDefinition: `web:${revision}` }))).taskDefinition!.status
      expect(await Promise.all([1, 2, 3, 4, 5, 6, 7].map(status))).toEqual(['ACTIVE', 'ACTIVE', 'ACTIVE', 'ACTIVE', 'INACTIVE', 'ACTIVE', 'ACTIVE'])
      expect(ecs.calls.filter(c => c.operation === 'DeregisterTaskDefinition').map(c => (c.input as { taskDefinition: string }).taskDefinition)).toEqual([ARN(5)])
      const log = run.log.join('\n')
      expect(log).toMatch(/keep-revisions 1: deregistered web:5$/m)
      expect(log).toMatch(/keep-revisions 1: kept web:6: web:6 was registered 5 min ago and no service has run it yet: the deploy that registered it may still be before its UpdateService .*\(deploy-service run https:\/\/github.com\/acme\/shop\/actions\/runs\/120\)$/m)
      expect(log).toMatch(/keep-revisions 1: kept web:4: web:4 has no deploy-service tags \(registered by hand or by another tool/m)
      expect(log).toMatch(/keep-revisions 1: kept web:3: service web-canary \(cluster canary\) runs web:2, which records web:3 as its rollback target \(deploy-service:previous-task-definition\)$/m)
      expect(log).toMatch(/keep-revisions 1: kept web:2: service web-canary \(cluster canary\) runs or deploys web:2$/m)
      expect(log).toMatch(/keep-revisions 1: kept web:1: web:1 is where a rollback of this deploy returns to$/m)
    } finally {
      client.destroy()
      await ecs.close()
    }
  })
})
