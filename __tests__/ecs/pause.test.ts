// PAUSE lifecycle hooks on the scripted endpoint: on-pause wait / exit / continue / verify, then
// `mode: continue` and `mode: rollback` on the paused service deployment.
import { describe, expect, it } from '@jest/globals'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { ContinueServiceDeploymentCommand, DescribeServiceDeploymentsCommand, DescribeServicesCommand } from '@aws-sdk/client-ecs'
import { startScriptedEcs, type ScriptedEcs, type ScriptedEcsOptions } from '../../test/support/scripted-ecs.js'
import { ecsClient, runEcs } from '../helpers/run.js'
import { callsOf, seedWith } from '../helpers/ecs-strategies.js'

const PAUSED_AT_TEST = {
  strategy: 'BLUE_GREEN',
  bakeTimeInMinutes: 1,
  lifecycleHooks: [{ targetType: 'PAUSE', lifecycleStages: ['POST_TEST_TRAFFIC_SHIFT'], timeoutConfiguration: { timeoutInMinutes: 600, action: 'ROLLBACK' } }]
}

async function withEndpoint<T>(fn: (ecs: ScriptedEcs) => Promise<T>, options: Partial<ScriptedEcsOptions> = {}): Promise<T> {
  const ecs = await startScriptedEcs({ settleMs: 1200, failAfterMs: 900, services: seedWith(PAUSED_AT_TEST), serviceDeployments: { minuteMs: 1000, stageMs: 100 }, ...options })
  try {
    return await fn(ecs)
  } finally {
    await ecs.close()
  }
}

const continues = (ecs: ScriptedEcs) => callsOf(ecs, 'ContinueServiceDeployment').map(c => (c.input as { action?: string }).action)

describe('PAUSE hooks', () => {
  it('on-pause exit stops with status paused and the outputs a later step needs; mode continue then finishes it', () => withEndpoint(async ecs => {
    const first = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': '2.0.0', 'on-pause': 'exit', timeout: '30s' })
    expect(first.result).toMatchObject({ status: 'paused', ok: true })
    const outputs = first.result!.outputs
    expect(outputs['service-deployment-arn']).toMatch(/:service-deployment\/default\/web\//)
    expect(outputs['lifecycle-stage']).toBe('POST_TEST_TRAFFIC_SHIFT')
    expect(outputs['hook-id']).toMatch(/^[0-9a-f-]{36}$/)
    expect(first.result!.message).toMatch(/paused at PAUSE hook .* \(stage POST_TEST_TRAFFIC_SHIFT\).*mode 'continue'/)
    expect(continues(ecs)).toEqual([])
    // Still paused on the server: nothing continued it.
    const client = ecsClient(ecs.endpoint)
    const [paused] = (await client.send(new DescribeServiceDeploymentsCommand({ serviceDeploymentArns: [outputs['service-deployment-arn']!] }))).serviceDeployments!
    expect(paused!.lifecycleHookDetails![0]).toMatchObject({ hookId: outputs['hook-id'], status: 'AWAITING_ACTION' })

    const second = await runEcs(ecs.endpoint, { service: 'web', mode: 'continue', timeout: '30s' })
    expect(second.error).toBeUndefined()
    expect(second.result).toMatchObject({ status: 'succeeded', ok: true })
    expect(second.log[0]).toMatch(/continue service deployment \w+, paused at hook [0-9a-f-]+ \(stage POST_TEST_TRAFFIC_SHIFT\), rolling out web:2/)
    expect(callsOf(ecs, 'ContinueServiceDeployment').map(c => c.input)).toEqual([{ serviceDeploymentArn: outputs['service-deployment-arn'], hookId: outputs['hook-id'], action: 'CONTINUE' }])
    const service = (await client.send(new DescribeServicesCommand({ services: ['web'] }))).services![0]!
    expect(service.taskDefinition).toMatch(/web:2$/)
    client.destroy()
  }))

  it('mode rollback on a paused deployment rolls that one back through the hook', () => withEndpoint(async ecs => {
    const first = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': '2.0.0', 'on-pause': 'exit', timeout: '30s' })
    expect(first.result).toMatchObject({ status: 'paused' })
    const back = await runEcs(ecs.endpoint, { service: 'web', mode: 'rollback', timeout: '30s' })
    expect(back.error).toBeUndefined()
    expect(back.result).toMatchObject({ status: 'succeeded', ok: true })
    expect(back.log[0]).toMatch(/roll back service deployment \w+ in flight \(web:2\) by ECS's own rollback \(ContinueServiceDeployment ROLLBACK at hook/)
    expect(continues(ecs)).toEqual(['ROLLBACK'])
    // No new deployment of the old revision: ECS put it back inside the paused one.
    expect(callsOf(ecs, 'UpdateService')).toHaveLength(1)
  }))

  it('on-pause continue continues at once', () => withEndpoint(async ecs => {
    const run = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': '2.0.0', 'on-pause': 'continue', timeout: '30s' })
    expect(run.result).toMatchObject({ status: 'succeeded' })
    expect(continues(ecs)).toEqual(['CONTINUE'])
    expect(run.log.some(line => /paused at PAUSE hook .*: continuing it \(on-pause: continue\)/.test(line))).toBe(true)
  }))

  it('on-pause wait reports the pause and waits for someone else to continue it', () => withEndpoint(async ecs => {
    const client = ecsClient(ecs.endpoint)
    const someone = (async () => {
      for (;;) {
        const service = (await client.send(new DescribeServicesCommand({ services: ['web'] }))).services![0]!
        const arn = service.currentServiceDeployment
        const [sd] = arn ? (await client.send(new DescribeServiceDeploymentsCommand({ serviceDeploymentArns: [arn] }))).serviceDeployments! : []
        const hook = sd?.lifecycleHookDetails?.find(h => h.status === 'AWAITING_ACTION')
        if (hook && sd!.status === 'IN_PROGRESS' && ecs.calls.some(c => c.operation === 'UpdateService')) {
          await new Promise(resolve => setTimeout(resolve, 1500))
          return client.send(new ContinueServiceDeploymentCommand({ serviceDeploymentArn: arn!, hookId: hook.hookId!, action: 'CONTINUE' }))
        }
        await new Promise(resolve => setTimeout(resolve, 100))
      }
    })()
    const run = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': '2.0.0', timeout: '40s' })
    await someone
    client.destroy()
    expect(run.result).toMatchObject({ status: 'succeeded' })
    expect(run.log.some(line => /paused at PAUSE hook .*; waiting for someone to continue it/.test(line))).toBe(true)
    // Only the other party continued it.
    expect(ecs.calls.filter(c => c.operation === 'ContinueServiceDeployment')).toHaveLength(1)
  }), 60_000)

  it('on-pause verify has ECS roll back through the hook when the check fails', () => withEndpoint(async ecs => {
    const failing = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': '2.0.0', 'on-pause': 'verify', 'verify-command': 'echo "test listener says no"; exit 3', timeout: '30s' })
    expect(failing.result).toMatchObject({ status: 'rolled-back', ok: false, rollback: { by: 'platform', healthy: true } })
    expect(failing.result!.reasons.join('\n')).toMatch(/verification at the pause failed/)
    expect(continues(ecs)).toEqual(['ROLLBACK'])
    expect(callsOf(ecs, 'UpdateService')).toHaveLength(1)
  }), 60_000)

  it('on-pause verify continues when the check passes, and verifies only once', () => withEndpoint(async ecs => {
    const passing = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': '2.1.0', 'on-pause': 'verify', 'verify-command': 'true', timeout: '30s' })
    expect(passing.result).toMatchObject({ status: 'succeeded' })
    expect(continues(ecs)).toEqual(['CONTINUE'])
    expect(passing.log.filter(line => /verification at the pause passed/.test(line))).toHaveLength(1)
  }), 60_000)

  // Enough 5xx that the client's own retry gives up: the next look must act on the hook again.
  const continueFails = { serverErrors: { operations: ['ContinueServiceDeployment'], count: 4 } }

  it('on-pause continue tries again at the next look when ContinueServiceDeployment failed, announcing the pause once', () => withEndpoint(async ecs => {
    const run = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': '2.0.0', 'on-pause': 'continue', timeout: '40s' })
    expect(run.result).toMatchObject({ status: 'succeeded' })
    expect(continues(ecs)).toEqual(['CONTINUE'])
    expect(ecs.calls.filter(c => c.operation === 'ContinueServiceDeployment' && c.status >= 500)).toHaveLength(4)
    expect(run.log.filter(line => /paused at PAUSE hook .*: continuing it \(on-pause: continue\)/.test(line))).toHaveLength(1)
  }, continueFails), 60_000)

  it('on-pause verify rolls back through the hook when the ROLLBACK call failed at first, verifying once', () => withEndpoint(async ecs => {
    const run = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': '2.0.0', 'on-pause': 'verify', 'verify-command': 'echo checked >&2; exit 3', timeout: '40s' })
    expect(run.result).toMatchObject({ status: 'rolled-back', ok: false, rollback: { by: 'platform', healthy: true } })
    expect(continues(ecs)).toEqual(['ROLLBACK'])
    expect(run.log.filter(line => /verifying before it goes on/.test(line))).toHaveLength(1)
    expect(callsOf(ecs, 'UpdateService')).toHaveLength(1)
  }, continueFails), 60_000)

  it('on-pause continue whose ContinueServiceDeployment ran but answered HTTP 500 is not sent again', () => withEndpoint(async ecs => {
    const run = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': '2.0.0', 'on-pause': 'continue', timeout: '30s' })
    expect(run.result).toMatchObject({ status: 'succeeded' })
    expect(ecs.calls.filter(c => c.operation === 'ContinueServiceDeployment').map(c => c.status)).toEqual([500])
  }, { serverErrors: { operations: ['ContinueServiceDeployment'], count: 1, afterRunning: true } }), 60_000)
})

/** The default service (blue/green) with a PAUSE hook at each of `stages`. */
const pausedAt = (...stages: string[]) => ({
  services: seedWith({ strategy: 'BLUE_GREEN', bakeTimeInMinutes: 0, lifecycleHooks: [{ targetType: 'PAUSE', lifecycleStages: stages, timeoutConfiguration: { timeoutInMinutes: 600, action: 'ROLLBACK' } }] })
})

/** A verify-command that writes the lifecycle stage it ran at (one line per check), then exits with `code`. */
function stageRecorder(code: number) {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pause-verify-')), 'stages')
  return {
    command: `echo "\${DEPLOY_LIFECYCLE_STAGE:-none}" >> ${file}; exit ${code}`,
    stages: (): string[] => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n') : [])
  }
}

// The ECS API reference: at RECONCILE_SERVICE, PRE_SCALE_UP and POST_SCALE_UP no test or production traffic
// reaches the new revision, so a check there would test the old one.
describe('on-pause verify checks only where traffic reaches the new revision', () => {
  it('continues a hook before any traffic without checking, and checks once after the rollout', () => withEndpoint(async ecs => {
    const check = stageRecorder(0)
    const run = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': '2.0.0', 'on-pause': 'verify', 'verify-command': check.command, timeout: '30s' })
    expect(run.result).toMatchObject({ status: 'succeeded', ok: true })
    expect(continues(ecs)).toEqual(['CONTINUE'])
    expect(check.stages()).toHaveLength(1)
    expect(check.stages()).not.toContain('PRE_SCALE_UP')
    expect(run.log.some(line => /paused at PAUSE hook .*\(stage PRE_SCALE_UP\): continuing it; no traffic reaches the new revision/.test(line))).toBe(true)
    expect(run.log.filter(line => /verification passed/.test(line))).toHaveLength(1)
  }, pausedAt('PRE_SCALE_UP')), 60_000)

  it('checks at the first hook with test traffic, not at an earlier one, and not again after the rollout', () => withEndpoint(async ecs => {
    const check = stageRecorder(0)
    const run = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': '2.0.0', 'on-pause': 'verify', 'verify-command': check.command, timeout: '30s' })
    expect(run.result).toMatchObject({ status: 'succeeded', ok: true })
    expect(continues(ecs)).toEqual(['CONTINUE', 'CONTINUE'])
    expect(check.stages()).toEqual(['POST_TEST_TRAFFIC_SHIFT'])
  }, pausedAt('POST_SCALE_UP', 'POST_TEST_TRAFFIC_SHIFT')), 60_000)

  it('a check that fails after a hook before traffic fails the rollout then, not at that hook', () => withEndpoint(async ecs => {
    const check = stageRecorder(3)
    // The rollback's own deployment pauses at the same hook, where nobody continues it: it ends at the timeout.
    const run = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': '2.0.0', 'on-pause': 'verify', 'verify-command': check.command, timeout: '8s' })
    expect(run.result).toMatchObject({ ok: false, rollback: { by: 'action' } })
    expect(continues(ecs)).toEqual(['CONTINUE'])
    expect(callsOf(ecs, 'UpdateService')).toHaveLength(2)
    expect(check.stages()).toHaveLength(1)
    expect(check.stages()).not.toContain('PRE_SCALE_UP')
    const reasons = run.result!.reasons.join('\n')
    expect(reasons).toMatch(/verification failed/)
    expect(reasons).not.toMatch(/verification at the pause failed/)
  }, pausedAt('PRE_SCALE_UP')), 60_000)
})

