// Whose rollout is it? The action against the scripted ECS endpoint while someone else deploys too
// (another revision, a redeploy of ours, the previous revision by hand), ECS's own rollback, and
// services without a circuit breaker whose tasks keep failing (at once, after a while, by the hundred).
import { describe, expect, it } from '@jest/globals'
import { DescribeServicesCommand, RegisterTaskDefinitionCommand, UpdateServiceCommand, type ECSClient, type Service } from '@aws-sdk/client-ecs'
import { defaultSeed, startScriptedEcs, type ScriptedEcs, type ScriptedEcsOptions, type SeedService } from '../../test/support/scripted-ecs.js'
import { ecsClient, runEcs, type EcsRun } from '../helpers/run.js'

const THEIR_COMMIT = 'feedfacefeedfacefeedfacefeedfacefeedface'
const THEIR_RUN = 'https://github.com/acme/shop/actions/runs/9999'

/** Runs the action against a fresh scripted endpoint while `meanwhile` plays someone else. */
async function deployWhile(
  options: ScriptedEcsOptions,
  inputs: Record<string, string>,
  meanwhile: (other: ECSClient, ecs: ScriptedEcs) => Promise<void> = async () => {},
  { settle = true } = {}
): Promise<EcsRun & { ecs: ScriptedEcs; other: ECSClient; after: Service }> {
  const ecs = await startScriptedEcs({ settleMs: 1500, failAfterMs: 1200, ...options })
  const other = ecsClient(ecs.endpoint)
  try {
    const [run] = await Promise.all([runEcs(ecs.endpoint, { service: 'web', timeout: '30s', ...inputs }), meanwhile(other, ecs)])
    const after = settle ? await settled(other) : (await other.send(new DescribeServicesCommand({ services: ['web'] }))).services![0]!
    return { ...run, ecs, other, after }
  } finally {
    other.destroy()
    await ecs.close()
  }
}

/** Waits for the action's UpdateService to have been answered; returns the task definition it set. */
async function ourUpdate(ecs: ScriptedEcs): Promise<string> {
  for (;;) {
    const call = ecs.calls.find(c => c.operation === 'UpdateService' && c.status === 200)
    if (call) return (call.input as { taskDefinition: string }).taskDefinition
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

/** Another deploy, as another workflow would make it: a new revision with its own tags, then UpdateService. */
async function theirDeploy(other: ECSClient, tag: string): Promise<string> {
  const seed = defaultSeed()[0]!.taskDefinition as { containerDefinitions: { image: string }[] }
  const containers = seed.containerDefinitions.map((c, i) => (i === 0 ? { ...c, image: `registry.example/web:${tag}` } : c))
  const registered = await other.send(new RegisterTaskDefinitionCommand({
    ...(seed as object),
    family: 'web',
    containerDefinitions: containers,
    tags: [{ key: 'deploy-service:commit', value: THEIR_COMMIT }, { key: 'deploy-service:run', value: THEIR_RUN }]
  } as never))
  const arn = registered.taskDefinition!.taskDefinitionArn!
  await other.send(new UpdateServiceCommand({ service: 'web', taskDefinition: arn }))
  return arn
}

/** The service once its PRIMARY deployment has settled (or after 15 s): what the server holds afterwards. */
async function settled(client: ECSClient): Promise<Service> {
  const until = Date.now() + 15_000
  for (;;) {
    const service = (await client.send(new DescribeServicesCommand({ services: ['web'] }))).services![0]!
    const primary = service.deployments!.find(d => d.status === 'PRIMARY')!
    if (primary.rolloutState !== 'IN_PROGRESS' || Date.now() > until) return service
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

const updates = (ecs: ScriptedEcs): string[] =>
  ecs.calls.filter(c => c.operation === 'UpdateService' && c.status === 200).map(c => String((c.input as { taskDefinition?: string }).taskDefinition ?? '').split('/').pop()!)
/** stopType of each StopServiceDeployment ECS accepted: our rollback of a service deployment in flight. */
const stops = (ecs: ScriptedEcs): string[] =>
  ecs.calls.filter(c => c.operation === 'StopServiceDeployment' && c.status === 200).map(c => String((c.input as { stopType?: string }).stopType))

const noBreaker = (seed: Partial<SeedService> = {}): SeedService[] =>
  defaultSeed().map(s => ({ ...s, ...seed, circuitBreaker: { enable: false, rollback: false } }))

describe('ECS: another deploy lands while we wait', () => {
  it('reports a rollout replaced by another revision as superseded, names it and who deployed it, and undoes nothing', async () => {
    const run = await deployWhile({ settleMs: 3000 }, { 'image-tag': '2.0.0' }, async (other, ecs) => {
      await ourUpdate(ecs)
      await theirDeploy(other, '3.0.0')
    })
    expect(run.error).toBeUndefined()
    const result = run.result!
    expect(result).toMatchObject({ status: 'superseded', ok: false })
    expect(result.rollback).toBeUndefined()
    // Ours is still listed (ACTIVE) until theirs completes, then ECS drops it: both are true, by when the action looks.
    expect(result.message).toMatch(/^web:2 was superseded while rolling out: service web now rolls out web:3 \(deployment ecs-svc\/\d+\), which replaced ours \(ecs-svc\/\d+ of web:2, (left ACTIVE IN_PROGRESS|now gone from the service)\)/)
    expect(result.message).toContain(`for commit ${THEIR_COMMIT} in run ${THEIR_RUN}`)
    expect(result.message).toMatch(/nothing was rolled back$/)
    // Ours and theirs, and no third update: nothing was rolled back.
    expect(updates(run.ecs)).toEqual(['web:2', 'web:3'])
    expect(run.after.taskDefinition).toMatch(/web:3$/)
    expect(run.after.deployments).toEqual([expect.objectContaining({ status: 'PRIMARY', rolloutState: 'COMPLETED', taskDefinition: run.after.taskDefinition })])
  })

  it('says when a deploy that is not deploy-service replaced ours (no tags on its task definition)', async () => {
    const run = await deployWhile({ settleMs: 3000 }, { 'image-tag': '2.0.0' }, async (other, ecs) => {
      await ourUpdate(ecs)
      // A console click back to what ran before, while ours is still rolling: a person's change, not ECS's rollback.
      await other.send(new UpdateServiceCommand({ service: 'web', taskDefinition: 'web:1' }))
    })
    expect(run.result).toMatchObject({ status: 'superseded', ok: false })
    expect(run.result!.message).toMatch(/now rolls out web:1 \(deployment ecs-svc\/\d+\), which replaced ours .*its task definition has no deploy-service tags/)
    expect(updates(run.ecs)).toEqual(['web:2', 'web:1'])
    expect(run.after.taskDefinition).toMatch(/web:1$/)
  })

  it('follows a redeploy of our own revision by someone else to success, says so, and rolls nothing back', async () => {
    const run = await deployWhile({ settleMs: 3000 }, { 'image-tag': '2.0.0' }, async (other, ecs) => {
      const ours = await ourUpdate(ecs)
      await other.send(new UpdateServiceCommand({ service: 'web', taskDefinition: ours, forceNewDeployment: true }))
    })
    const result = run.result!
    expect(result).toMatchObject({ status: 'succeeded', ok: true })
    expect(result.message).toMatch(/^deployed web:2 in \d+s \(completed by deployment ecs-svc\/\d+ of the same revision, started by another deploy\)$/)
    expect(run.log.some(line => /started by another deploy, rolls out web:2 again \(the same revision\): following it/.test(line))).toBe(true)
    expect(updates(run.ecs)).toEqual(['web:2', 'web:2'])
    expect(run.after.taskDefinition).toMatch(/web:2$/)
    expect(run.after.deployments).toHaveLength(1)
  })

  // ECS says why in one of two ways, both true, and which one the action reads depends on when it looks:
  // while ECS rolls back, our deployment is still listed, FAILED with the breaker's reason; once the
  // rollback completed, ECS has dropped it from the service, and the action says it is gone, replaced by
  // the breaker's rollback. On a busy machine the first look may come after the rollback completed.
  const BREAKER_HEADLINE = /^(ECS deployment circuit breaker: tasks failed to start\.|deployment ecs-svc\/\d+ is gone: ECS replaced it with ecs-svc\/\d+ running web:1 \(the circuit breaker rolled back\))$/

  it('still reports ECS’s own circuit-breaker rollback as rolled back by the platform, not superseded', async () => {
    const run = await deployWhile({}, { 'image-tag': 'crash-9' })
    const result = run.result!
    expect(result).toMatchObject({ status: 'rolled-back', ok: false, rollback: { by: 'platform', healthy: true } })
    expect(result.reasons[0]).toMatch(BREAKER_HEADLINE)
    expect(updates(run.ecs)).toEqual(['web:2'])
    expect(run.after.taskDefinition).toMatch(/web:1$/)
  })

  it('reports it the same way when ECS had finished rolling back before the action looked', async () => {
    // The rollback completes 30 ms after the breaker fires: the action's first look after it comes later, as on a busy machine.
    const run = await deployWhile({ settleMs: 30 }, { 'image-tag': 'crash-9' })
    const result = run.result!
    expect(result).toMatchObject({ status: 'rolled-back', ok: false, rollback: { by: 'platform', healthy: true } })
    expect(result.reasons[0]).toMatch(BREAKER_HEADLINE)
    expect(updates(run.ecs)).toEqual(['web:2'])
    expect(run.after.taskDefinition).toMatch(/web:1$/)
  })

  it('reports a rollback of ours that someone else replaces as superseded, and does not fight it', async () => {
    const run = await deployWhile({ circuitBreakerRollback: false, settleMs: 3000 }, { 'image-tag': 'crash-3' }, async (other, ecs) => {
      // Wait for our own rollback (the second update), then deploy over it.
      while (updates(ecs).length < 2) await new Promise(resolve => setTimeout(resolve, 20))
      await theirDeploy(other, '3.1.0')
    })
    const result = run.result!
    expect(result.ok).toBe(false)
    expect(result.status).toBe('superseded')
    expect(result.reasons.join('\n')).not.toMatch(/did not become healthy/)
    expect(result.reasons.join('\n')).toMatch(/the rollback to web:1 was superseded: service web now rolls out web:3 \(deployment ecs-svc\/\d+\), which replaced ours \(ecs-svc\/\d+ of web:1/)
    expect(updates(run.ecs)).toEqual(['web:2', 'web:1', 'web:3'])
    expect(run.after.taskDefinition).toMatch(/web:3$/)
  })
})

describe('ECS without a circuit breaker: tasks that keep failing', () => {
  it('fails fast on a crashing image with each stopped task’s reason, then rolls back itself', async () => {
    const run = await deployWhile({ services: noBreaker() }, { 'image-tag': 'crash', timeout: '60s' })
    const result = run.result!
    expect(result).toMatchObject({ status: 'rolled-back', ok: false, rollback: { by: 'action', healthy: true } })
    // Failed by the threshold, not by the deadline.
    expect(result.reasons[0]).toMatch(/^\d+ tasks of web:2 \(deployment ecs-svc\/\d+\) failed, reaching the threshold at which ECS's circuit breaker fails a deployment \(3: half the desired count, at least 3, at most 200\); this service has no circuit breaker/)
    expect(result.reasons).toContain('tasks of web:2 stopped: EssentialContainerExited: Essential container in task exited (web: Container exited with code 1, exit code 1)')
    expect(run.log.filter(line => /task [0-9a-f]{32} stopped: EssentialContainerExited/.test(line)).length).toBeGreaterThanOrEqual(3)
    // Only our deployment's stopped tasks were listed.
    const listed = run.ecs.calls.filter(c => c.operation === 'ListTasks').map(c => c.input as { startedBy?: string; desiredStatus?: string })
    expect(listed.length).toBeGreaterThan(0)
    expect(new Set(listed.map(i => i.startedBy))).toEqual(new Set([result.outputs['deployment-id']]))
    expect(listed.every(i => i.desiredStatus === 'STOPPED')).toBe(true)
    // The deployment was still in flight: ECS's own rollback (StopServiceDeployment ROLLBACK), no second update.
    expect(updates(run.ecs)).toEqual(['web:2'])
    expect(stops(run.ecs)).toEqual(['ROLLBACK'])
    expect(run.after).toMatchObject({ taskDefinition: expect.stringMatching(/web:1$/), runningCount: 2 })
  })

  it('fails tasks that run a few seconds before they stop, though ECS’s failedTasks stays 0', async () => {
    let failedTasksSeen = 0
    let watching = true
    const run = await deployWhile({ services: noBreaker(), taskLifeMs: 2000 }, { 'image-tag': 'dies-1', timeout: '60s' }, async (other, ecs) => {
      const ours = await ourUpdate(ecs)
      // Watch what ECS says of our deployment meanwhile: its failedTasks never counts these tasks.
      while (watching) {
        const service = (await other.send(new DescribeServicesCommand({ services: ['web'] }))).services![0]!
        const deployment = service.deployments!.find(d => d.taskDefinition === ours)
        failedTasksSeen = Math.max(failedTasksSeen, deployment?.failedTasks ?? 0)
        if (!deployment || updates(ecs).length > 1 || stops(ecs).length > 0) watching = false
        await new Promise(resolve => setTimeout(resolve, 100))
      }
    })
    const result = run.result!
    expect(failedTasksSeen).toBe(0)
    expect(result).toMatchObject({ status: 'rolled-back', rollback: { by: 'action', healthy: true } })
    expect(Number(/^(\d+) tasks of web:2 \(deployment ecs-svc\/\d+\) failed/.exec(result.reasons[0]!)?.[1])).toBeGreaterThanOrEqual(3)
    expect(result.reasons).toContain('tasks of web:2 stopped: EssentialContainerExited: Essential container in task exited (web: Container exited with code 1, exit code 1)')
    // The deployment was still in flight: ECS's own rollback (StopServiceDeployment ROLLBACK), no second update.
    expect(updates(run.ecs)).toEqual(['web:2'])
    expect(stops(run.ecs)).toEqual(['ROLLBACK'])
    expect(run.after.taskDefinition).toMatch(/web:1$/)
  })

  it('looks up no stopped task while a rollout without a breaker is healthy', async () => {
    const run = await deployWhile({ services: noBreaker() }, { 'image-tag': '2.1.0' })
    expect(run.result).toMatchObject({ status: 'succeeded', ok: true })
    expect(run.ecs.calls.filter(c => c.operation === 'ListTasks')).toEqual([])
  })

  it('ends a rollout that timed out even when the last stopped-task lookup never answers', async () => {
    const run = await deployWhile({ hang: { operations: ['ListTasks'] } }, { 'image-tag': 'never', timeout: '2s', 'rollback-on-failure': 'false' }, undefined, { settle: false })
    expect(run.result).toMatchObject({ status: 'failed', ok: false })
    expect(run.result!.reasons[0]).toMatch(/^the rollout did not finish within 2s; it stood at: IN_PROGRESS/)
    // The lookup was made, and abandoned: it has a bound of its own once the deadline has passed.
    expect(run.ecs.calls.filter(c => c.operation === 'ListTasks').map(c => c.status)).toEqual([0])
    expect(updates(run.ecs)).toEqual(['web:2'])
    expect(run.after.deployments![0]).toMatchObject({ status: 'PRIMARY', rolloutState: 'IN_PROGRESS', taskDefinition: expect.stringMatching(/web:2$/) })
  }, 30_000)

  it('counts stopped tasks beyond one ListTasks page (250 tasks, threshold 125)', async () => {
    const run = await deployWhile({ services: noBreaker({ desiredCount: 250 }), settleMs: 1000 }, { 'image-tag': 'crash', timeout: '60s' })
    const result = run.result!
    expect(result).toMatchObject({ status: 'rolled-back', rollback: { by: 'action' } })
    const counted = Number(/^(\d+) tasks of web:2 .*\(125: half the desired count/.exec(result.reasons[0] ?? '')?.[1])
    // One page holds at most 100: more than that were counted, so every page was read.
    expect(counted).toBeGreaterThanOrEqual(250)
    const listed = run.ecs.calls.filter(c => c.operation === 'ListTasks').map(c => c.input as { nextToken?: string })
    expect(listed.some(i => i.nextToken)).toBe(true)
    expect(run.log.filter(line => /task [0-9a-f]{32} stopped: /.test(line)).length).toBe(counted)
    // The deployment was still in flight: ECS's own rollback (StopServiceDeployment ROLLBACK), no second update.
    expect(updates(run.ecs)).toEqual(['web:2'])
    expect(stops(run.ecs)).toEqual(['ROLLBACK'])
  })
})
