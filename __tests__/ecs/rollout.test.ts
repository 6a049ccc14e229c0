// Rollouts that moto cannot play, against the project's scripted ECS endpoint through the real SDK:
// progress and success, circuit-breaker failures with stopped tasks, deployments that vanish or never
// finish, old-style services without rolloutState, throttling storms, 5xx bursts and cancellation.
import { describe, expect, it } from '@jest/globals'
import { defaultSeed, startScriptedEcs, type ScriptedEcs, type ScriptedEcsOptions } from '../../test/support/scripted-ecs.js'
import { runEcs, type EcsRun } from '../helpers/run.js'

async function deploy(options: ScriptedEcsOptions, inputs: Record<string, string>, run?: (ecs: ScriptedEcs) => Promise<EcsRun>): Promise<EcsRun & { ecs: ScriptedEcs }> {
  const ecs = await startScriptedEcs({ settleMs: 1500, failAfterMs: 1200, ...options })
  try {
    const result = run ? await run(ecs) : await runEcs(ecs.endpoint, { service: 'web', timeout: '30s', ...inputs })
    return { ...result, ecs }
  } finally {
    await ecs.close()
  }
}

const updates = (ecs: ScriptedEcs): string[] =>
  ecs.calls.filter(c => c.operation === 'UpdateService' && c.status === 200).map(c => (c.input as { taskDefinition: string }).taskDefinition)
/** stopType of each StopServiceDeployment ECS accepted: our rollback of a service deployment in flight. */
const stops = (ecs: ScriptedEcs): string[] =>
  ecs.calls.filter(c => c.operation === 'StopServiceDeployment' && c.status === 200).map(c => String((c.input as { stopType?: string }).stopType))

describe('ECS rollouts on the scripted endpoint', () => {
  it('follows a healthy rollout to COMPLETED, printing its events once', async () => {
    const run = await deploy({}, { 'image-tag': '1.1.0' })
    expect(run.error).toBeUndefined()
    expect(run.result).toMatchObject({ status: 'succeeded', ok: true })
    expect(run.result!.outputs['deployment-id']).toMatch(/^ecs-svc\//)
    const started = run.log.filter(line => /event: .*has started 1 tasks/.test(line))
    expect(started.length).toBeGreaterThan(0)
    expect(new Set(started).size).toBe(started.length)
    expect(run.log.some(line => /deployment ecs-svc\/\d+ completed/.test(line))).toBe(true)
    // Nothing failed, so stopped tasks were never listed: no extra calls per poll.
    expect(run.ecs.calls.some(c => c.operation === 'ListTasks')).toBe(false)
  })

  it('reports a circuit-breaker failure with the stopped tasks and ECS rolling back by itself', async () => {
    const run = await deploy({}, { 'image-tag': 'crash-1' })
    const result = run.result!
    expect(result.status).toBe('rolled-back')
    expect(result.ok).toBe(false)
    expect(result.rollback).toMatchObject({ by: 'platform', healthy: true })
    expect(result.rollback!.revision).toMatch(/task-definition\/web:1$/)
    expect(result.reasons).toEqual(expect.arrayContaining([
      // ECS's reason on our FAILED deployment, or, when ECS had completed its rollback (and dropped ours) before the action looked, that it is gone.
      expect.stringMatching(/ECS deployment circuit breaker: tasks failed to start|deployment ecs-svc\/\d+ is gone: ECS replaced it with ecs-svc\/\d+ running web:1 \(the circuit breaker rolled back\)/),
      expect.stringMatching(/stopped: EssentialContainerExited: Essential container in task exited \(web: .*exit code 1/)
    ]))
    // ECS already rolled back: the action does not start a second rollback.
    expect(updates(run.ecs)).toHaveLength(1)
  })

  it('rolls back itself when the circuit breaker does not, explaining the image pull failure', async () => {
    const run = await deploy({ circuitBreakerRollback: false }, { 'image-tag': 'pullfail' })
    const result = run.result!
    expect(result.status).toBe('rolled-back')
    expect(result.rollback).toMatchObject({ by: 'action', healthy: true })
    expect(result.reasons.join('\n')).toMatch(/CannotPullContainerError: .*not found/)
    const [deployed, restored] = updates(run.ecs)
    expect(deployed).toMatch(/web:2$/)
    expect(restored).toMatch(/web:1$/)
  })

  it('treats a deployment that vanished as failed and waits for the one ECS put back', async () => {
    const run = await deploy({}, { 'image-tag': 'vanish' })
    expect(run.result!.status).toBe('rolled-back')
    expect(run.result!.reasons.join('\n')).toMatch(/deployment ecs-svc\/\d+ is gone: ECS replaced it with ecs-svc\/\d+ running web:1/)
  })

  it('fails a rollout that never finishes at the deadline, then rolls back', async () => {
    const run = await deploy({}, { 'image-tag': 'never', timeout: '3s' })
    const result = run.result!
    expect(result.status).toBe('rolled-back')
    expect(result.reasons[0]).toMatch(/the rollout did not finish within 3s; it stood at: IN_PROGRESS, 0\/2 running, 2 pending/)
    // Still in flight at the deadline: ECS's own rollback (StopServiceDeployment ROLLBACK), no second update.
    expect(updates(run.ecs)).toHaveLength(1)
    expect(stops(run.ecs)).toEqual(['ROLLBACK'])
  })

  it('leaves a failed rollout alone when rollback-on-failure is off, and is never green', async () => {
    const run = await deploy({ circuitBreakerRollback: false }, { 'image-tag': 'crash', 'rollback-on-failure': 'false' })
    expect(run.result).toMatchObject({ status: 'failed', ok: false })
    expect(run.result!.message).toMatch(/rollback-on-failure is off/)
    expect(updates(run.ecs)).toHaveLength(1)
  })

  it('judges an old-style service without rolloutState by its only deployment running in full', async () => {
    const run = await deploy({ rolloutState: false }, { 'image-tag': '1.2.0' })
    expect(run.result).toMatchObject({ status: 'succeeded', ok: true })
  })

  it('survives a throttling storm and a 5xx burst by slowing down', async () => {
    const run = await deploy(
      { throttle: { operations: ['DescribeServices'], count: 8 }, serverErrors: { operations: ['DescribeServices'], count: 3 } },
      { 'image-tag': '1.3.0' }
    )
    expect(run.error).toBeUndefined()
    expect(run.result).toMatchObject({ status: 'succeeded', ok: true })
    expect(run.ecs.calls.filter(c => c.status === 400 && c.operation === 'DescribeServices').length).toBe(8)
  })

  it('stops on cancellation, says where the rollout stood, and does not roll back', async () => {
    const controller = new AbortController()
    setTimeout(() => controller.abort(new Error('the run was cancelled (SIGINT)')), 1500)
    const run = await deploy({}, { 'image-tag': 'never' }, ecs => runEcs(ecs.endpoint, { service: 'web', 'image-tag': 'never' }, { cancel: controller.signal }))
    expect(run.result).toMatchObject({ status: 'failed', ok: false })
    expect(run.result!.message).toMatch(/cancelled while rolling out .*web:2.*nothing was rolled back/)
    expect(run.result!.reasons[0]).toMatch(/the run was cancelled \(SIGINT\); the rollout stood at: IN_PROGRESS/)
    expect(updates(run.ecs)).toHaveLength(1)
  })

  it('rolls back by hand to the revision recorded on the running one, and waits for it', async () => {
    const ecs = await startScriptedEcs({ settleMs: 800 })
    try {
      const first = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': '2.0.0' })
      expect(first.result!.status).toBe('succeeded')
      const back = await runEcs(ecs.endpoint, { service: 'web', mode: 'rollback' })
      expect(back.result).toMatchObject({ status: 'succeeded', ok: true })
      expect(back.result!.revision).toMatch(/web:1$/)
      expect(back.result!.previousRevision).toMatch(/web:2$/)
      expect(ecs.calls.filter(c => c.operation === 'RegisterTaskDefinition')).toHaveLength(1)
    } finally {
      await ecs.close()
    }
  })

  it('refuses a DRAINING service before registering anything', async () => {
    const run = await deploy({ services: defaultSeed().map(seed => ({ ...seed, status: 'DRAINING' as const })) }, { 'image-tag': '5.0.0' })
    expect(run.error?.message).toMatch(/ECS service 'web' is DRAINING, not ACTIVE: it cannot be deployed to/)
    expect(run.ecs.calls.map(c => c.operation).filter(op => !op.startsWith('Describe') && !op.startsWith('List'))).toEqual([])
  })
})
