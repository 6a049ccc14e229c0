// The DescribeServices fallback (service-deployment calls denied) backs off through a quiet drain to the
// README's rhythm, instead of a look a second (about 46 calls over 40 s before).
import { describe, expect, it } from '@jest/globals'
import { startScriptedEcs } from '../../test/support/scripted-ecs.js'
import { runEcs } from '../helpers/run.js'

describe('ECS fallback rhythm', () => {
  it('looks at a 40 s drain about 20 times, not once a second', async () => {
    // Two tasks start within 2 s; then the old ones drain for 40 s before ECS says COMPLETED.
    const ecs = await startScriptedEcs({ settleMs: 2000, drainMs: 40_000, serviceDeployments: { denied: true } })
    try {
      const run = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': '2.0.0', timeout: '2m' })
      expect(run.result).toMatchObject({ status: 'succeeded', ok: true })
      expect(run.log.some(line => /following the rollout by DescribeServices alone/.test(line))).toBe(true)
      const updated = ecs.calls.find(c => c.operation === 'UpdateService')!.at
      // The drain: from the last task's start (2 s after the update) to the end, 40 s later.
      const inDrain = ecs.calls.filter(c => c.operation === 'DescribeServices' && c.at >= updated + 2000 && c.at <= updated + 42_000)
      expect(inDrain.length).toBeGreaterThan(5)
      // A busy machine only makes the gaps longer: this bound cannot race.
      expect(inDrain.length).toBeLessThanOrEqual(25)
    } finally {
      await ecs.close()
    }
  }, 90_000)
})
