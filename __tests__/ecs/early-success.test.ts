// Early success criteria (deploymentConfiguration.earlySuccessCriteria) on a rolling service, played by the
// scripted endpoint as the API reference describes them: ECS calls the service deployment SUCCESSFUL once
// healthyPercent of the desired count runs healthy, then scales the rest (and, DEFERRED, removes the old
// tasks) in the background. SUCCESSFUL is the verdict: the action never waits for the background work.
import { describe, expect, it } from '@jest/globals'
import { DescribeServiceDeploymentsCommand, DescribeServicesCommand } from '@aws-sdk/client-ecs'
import { startScriptedEcs } from '../../test/support/scripted-ecs.js'
import { EARLY_SUCCESS_REASON } from '../../test/support/scripted-ecs-early.js'
import { ecsClient, runEcs, type EcsRun } from '../helpers/run.js'
import { seedWith } from '../helpers/ecs-strategies.js'

const steps = (run: EcsRun) => run.result!.progress.timeline.map(entry => entry.message)

/**
 * The early verdict's line, checked against itself: ECS called it with at least `needed` of 4 new tasks up;
 * the look that saw SUCCESSFUL may come after one more started (the rollout goes on), so the count is read
 * from the line, and what it says is left to do must fit that count.
 */
function earlyVerdict(run: EcsRun, needed: number): { healthy: number; rest: string } {
  const said = steps(run).find(m => m.startsWith('SUCCESSFUL by early success criteria'))
  const match = /: (\d) of 4 tasks of the new revision healthy \(\d+% asked\); (.*)$/.exec(said ?? '')
  expect(match).not.toBeNull()
  const healthy = Number(match![1])
  expect(healthy).toBeGreaterThanOrEqual(needed)
  const rest = match![2]!
  if (healthy < 4) expect(rest).toContain(`scaling the new revision from ${healthy} to 4 tasks`)
  else expect(rest).not.toContain('scaling the new revision')
  return { healthy, rest }
}
// Four tasks started over 4 s; the old ones drain for ten minutes: far past the 30 s timeout, so a run
// that waited for the background work would time out instead of succeeding.
const early = (cleanup: 'BLOCKING' | 'DEFERRED', healthyPercent = 50) => ({
  settleMs: 5000,
  drainMs: cleanup === 'DEFERRED' ? 600_000 : 0,
  services: seedWith({ minimumHealthyPercent: 50, maximumPercent: 200, earlySuccessCriteria: { enable: true, healthyPercent, sourceServiceRevisionCleanup: cleanup } }, { desiredCount: 4 })
})

describe('ECS early success criteria', () => {
  it('takes SUCCESSFUL as the verdict, says how many tasks were healthy and what ECS goes on doing, never waiting for it', async () => {
    const ecs = await startScriptedEcs(early('DEFERRED'))
    try {
      const run = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': '2.0.0', timeout: '30s' })
      expect(run.error).toBeUndefined()
      expect(run.result).toMatchObject({ status: 'succeeded', ok: true })
      // The plan says it before anything changes.
      expect(run.log[0]).toMatch(/early success: SUCCESSFUL once 50% of the desired count is healthy and the bake passed, then scales the rest and removes the old tasks in the background \(DEFERRED\), unguarded by the circuit breaker and alarms/)
      const said = steps(run).find(m => m.startsWith('SUCCESSFUL by early success criteria'))
      expect(said).toBeDefined()
      expect(said).toContain(`(${EARLY_SUCCESS_REASON})`)
      // At least two of four were up when ECS called it; the old revision's four tasks still run (DEFERRED).
      const { rest } = earlyVerdict(run, 2)
      expect(rest).toMatch(/removing the old revision's 4 tasks \(DEFERRED\) in the background, no longer guarded by its circuit breaker or alarms; no verify-url or verify-command is set, so nothing checks the rest: set one$/)
      expect(run.result!.message).toMatch(/\(SUCCESSFUL by early success criteria/)
      // ECS's background work goes on after the step: the old tasks still run, the service is not steady yet.
      const client = ecsClient(ecs.endpoint)
      const service = (await client.send(new DescribeServicesCommand({ services: ['web'] }))).services![0]!
      expect(service.runningCount).toBeGreaterThan(4)
      const sd = (await client.send(new DescribeServiceDeploymentsCommand({ serviceDeploymentArns: [service.currentServiceDeployment!] }))).serviceDeployments![0]!
      expect(sd).toMatchObject({ status: 'SUCCESSFUL', statusReason: EARLY_SUCCESS_REASON })
    } finally {
      await ecs.close()
    }
  })

  it('runs the verification afterwards, named as the only guard left (BLOCKING: the old tasks were removed first)', async () => {
    const ecs = await startScriptedEcs(early('BLOCKING', 75))
    try {
      const run = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': '2.0.0', timeout: '30s', 'verify-command': 'echo checked' })
      expect(run.result).toMatchObject({ status: 'succeeded', ok: true })
      expect(run.log[0]).toMatch(/early success: SUCCESSFUL once 75% of the desired count is healthy and the bake passed, after removing the old tasks \(BLOCKING\), then scales the rest in the background/)
      const said = steps(run).find(m => m.startsWith('SUCCESSFUL by early success criteria'))
      expect(said).toContain('(75% asked)')
      // BLOCKING: the old tasks were gone before SUCCESSFUL, so only the scaling (if any) is left.
      const { rest } = earlyVerdict(run, 3)
      expect(rest).not.toContain('old revision')
      expect(rest).toMatch(/the verification that follows is the only check left$/)
      const verdict = steps(run).indexOf(said!)
      expect(steps(run).indexOf('verification passed')).toBeGreaterThan(verdict)
    } finally {
      await ecs.close()
    }
  })
})
