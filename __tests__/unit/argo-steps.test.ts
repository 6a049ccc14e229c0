// The words of the Argo Rollouts wait as pure functions (the cluster suite, __tests__/kubernetes/
// argo-analysis.test.ts, runs the real controller): each kind of canary step, a timed pause's time left,
// the stable/canary counts, and a failed AnalysisRun's metrics.
import { describe, expect, it } from '@jest/globals'
import { analysisFailure, analysisLine } from '../../src/platforms/kubernetes/progressive/argo-analysis.js'
import { currentStep, durationSeconds, podCounts, stepText } from '../../src/platforms/kubernetes/progressive/argo-rollout.js'

describe('Argo Rollouts steps', () => {
  it('names each kind of step as the kubectl plugin does', () => {
    expect(stepText({ setWeight: 20 })).toBe('setWeight 20%')
    expect(stepText({ pause: {} })).toBe('pause without a duration (waits to be promoted)')
    expect(stepText({ analysis: { templates: [{ templateName: 'errors' }, { templateName: 'latency' }] } })).toBe('analysis (errors, latency)')
    expect(stepText({ experiment: { templates: [{ name: 'baseline' }] } })).toBe('experiment (baseline)')
    expect(stepText({ setCanaryScale: { replicas: 3 } })).toBe('setCanaryScale 3 replicas')
    expect(stepText({ setCanaryScale: { matchTrafficWeight: true } })).toBe('setCanaryScale matching the traffic weight')
  })

  it('says how long a timed pause the controller reached has left', () => {
    expect(durationSeconds('2m')).toBe(120)
    expect(durationSeconds(45)).toBe(45)
    expect(durationSeconds('30')).toBe(30)
    const started = '2026-01-01T00:00:00Z'
    expect(stepText({ pause: { duration: '1m' } }, started, Date.parse(started) + 20_500)).toBe('pause 1m (40s left)')
    expect(stepText({ pause: { duration: '1m' } })).toBe('pause 1m')
  })

  it('gives the current step 1-based with stable and canary counts; none once every step is done', () => {
    const live = (index: number) => ({
      kind: 'Rollout',
      metadata: { name: 'shop' },
      spec: { strategy: { canary: { steps: [{ setWeight: 50 }, { pause: {} }] } } },
      status: { currentStepIndex: index, stableRS: 'a', currentPodHash: 'b', replicas: 3, updatedReplicas: 1, availableReplicas: 3 }
    })
    expect(currentStep(live(1))).toEqual({ index: 2, count: 2, text: 'pause without a duration (waits to be promoted)' })
    expect(currentStep(live(2))).toBeUndefined()
    expect(podCounts(live(1).status)).toBe('stable 2, canary 1, 3 available of 3')
    expect(podCounts({ ...live(1).status, currentPodHash: 'a' })).toBe('stable 3, canary 0, 3 available of 3')
  })

  it('names the failed metric of an AnalysisRun with its condition and last three values', () => {
    const run = {
      metadata: { name: 'shop-abc-2-1' },
      spec: { metrics: [{ name: 'errors', failureCondition: 'result > 5', failureLimit: 1 }, { name: 'ok', successCondition: 'result == true' }] },
      status: {
        phase: 'Failed',
        message: 'Metric "errors" assessed Failed',
        metricResults: [
          { name: 'errors', phase: 'Failed', count: 4, successful: 1, failed: 3, measurements: [1, 7, 9, 12].map(v => ({ phase: v > 5 ? 'Failed' : 'Successful', value: String(v) })) },
          { name: 'ok', phase: 'Successful', count: 4, successful: 4 }
        ]
      }
    }
    expect(analysisFailure(run)).toBe(
      'analysis run shop-abc-2-1 Failed: Metric "errors" assessed Failed; metric "errors" Failed (4 measured, 1 successful, 3 failed; failureCondition `result > 5`, failureLimit 1; last measurements: Failed value 7, Failed value 9, Failed value 12)'
    )
    expect(analysisFailure(run, 'RolloutAborted: Metric "errors" assessed Failed')).toMatch(/^analysis run shop-abc-2-1 Failed; metric "errors"/)
    expect(analysisLine(run)).toBe('analysis run shop-abc-2-1: Failed: metric "errors" Failed (4 measured, 1 successful, 3 failed); metric "ok" Successful (4 measured, 4 successful, 0 failed)')
  })
})
