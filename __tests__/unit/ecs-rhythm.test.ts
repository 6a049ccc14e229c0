// The ECS poll rhythm by phase (service-deployment/rhythm.ts): at least every 2 s while tasks are pending or starting,
// the slow rhythm through bakes and drains; the DescribeServices fallback keeps the same drain rhythm.
import { describe, expect, it } from '@jest/globals'
import type { ServiceDeployment } from '@aws-sdk/client-ecs'
import { drainLookMs, LookRhythm } from '../../src/platforms/ecs/service-deployment/rhythm.js'

// The largest jitter (+10 %): a ceiling must hold even then.
const high = () => 1
const starting: ServiceDeployment = { status: 'IN_PROGRESS', targetServiceRevision: { requestedTaskCount: 2, runningTaskCount: 0, pendingTaskCount: 2 } }

/** Looks a rhythm takes over `spanMs` of a phase where nothing visible changes. */
function looks(next: (now: number) => number, spanMs: number): number[] {
  const gaps: number[] = []
  for (let now = 0; now < spanMs; ) {
    const gap = next(now)
    gaps.push(gap)
    now += gap
  }
  return gaps
}

describe('LookRhythm', () => {
  it('looks at least every 2 s while tasks are pending or starting, however long nothing visible changes', () => {
    const rhythm = new LookRhythm(high)
    const gaps = looks(now => rhythm.next(starting, false, now), 20_000)
    expect(Math.max(...gaps)).toBeLessThanOrEqual(2000)
    // It still backs off from the first second.
    expect(gaps[0]).toBeLessThan(gaps.at(-1)!)
  })

  it('keeps the slow rhythm of a bake of known length: every 30 s, and every second near its end', () => {
    const rhythm = new LookRhythm(() => 0.5)
    const baking: ServiceDeployment = { status: 'IN_PROGRESS', lifecycleStage: 'BAKE_TIME', deploymentConfiguration: { bakeTimeInMinutes: 2 }, targetServiceRevision: { requestedTaskCount: 2, runningTaskCount: 2, pendingTaskCount: 0 } }
    expect(rhythm.next(baking, true, 0)).toBe(30_000)
    expect(rhythm.next(baking, false, 116_000)).toBe(1000)
  })

  it('backs off through a quiet 40 s drain instead of looking every second (the DescribeServices fallback uses it too)', () => {
    const rhythm = new LookRhythm(high)
    const gaps = looks(now => rhythm.tasks(true, false, now), 40_000)
    // About 10 looks in the first 10 s (most rollouts end there), 10 at 2 s until 30 s, then 6 s: about 22, not 46.
    expect(gaps.length).toBeLessThanOrEqual(24)
    expect(drainLookMs(5_000, high)).toBeLessThanOrEqual(1100)
    expect(drainLookMs(35_000, high)).toBeGreaterThanOrEqual(6000)
  })
})
