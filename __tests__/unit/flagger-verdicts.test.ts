// The Canary verdicts as pure functions (the cluster suite, __tests__/kubernetes/flagger-verdicts.test.ts,
// runs the real Flagger): an unchanged spec takes Flagger's word on it, gates are named, Failed is
// Flagger's own rollback, and on-pause continue/verify cannot open a gate.
import { describe, expect, it } from '@jest/globals'
import { canaryGate, canaryReadiness, flaggerRolledBack, gatedCanaries, markUnchanged } from '../../src/platforms/kubernetes/progressive/flagger-canary.js'
import { templateKey } from '../../src/platforms/kubernetes/workloads/ownership.js'
import type { CanaryBaseline, LiveObject } from '../../src/platforms/kubernetes/readiness/types.js'

const spec = {
  targetRef: { kind: 'Deployment', name: 'web' },
  analysis: { threshold: 1, iterations: 1, webhooks: [{ name: 'gate', type: 'confirm-promotion', url: 'http://hooks/gate' }, { name: 'load', type: 'rollout', url: 'http://hooks/check' }] }
}
const canary = (status: Record<string, unknown>, extra: Record<string, unknown> = {}): LiveObject => ({ kind: 'Canary', metadata: { name: 'web' }, spec: { ...spec, ...extra }, status })

describe('Flagger verdicts', () => {
  it('marks a Canary unchanged only when our apply left its target’s pod template as it was', () => {
    const template = { spec: { containers: [{ name: 'web', image: 'web:1' }] } }
    const baselines = new Map<string, CanaryBaseline>([['web', { lastAppliedSpec: 'h1', target: { ref: 'Deployment/web', template: templateKey(template) } }]])
    markUnchanged(baselines, new Map([['Deployment/web', { spec: { template: { spec: { containers: [{ name: 'web', image: 'web:2' }] } } } }]]))
    expect(baselines.get('web')?.unchanged).toBeUndefined()
    markUnchanged(baselines, new Map([['Deployment/web', { spec: { template: structuredClone(template) } }]]))
    expect(baselines.get('web')?.unchanged).toBe(true)
  })

  it('takes Flagger’s word on an unchanged spec at once: Succeeded/Initialized ready, an analysis followed, Failed failed', () => {
    const unchanged: CanaryBaseline = { lastAppliedSpec: 'h1', unchanged: true }
    expect(canaryReadiness(canary({ phase: 'Succeeded', lastAppliedSpec: 'h1' }), unchanged)).toEqual({
      state: 'ready',
      message: "our apply left the pod template of deployment/web unchanged, so Flagger's verdict on it stands: Succeeded: Flagger promoted our spec"
    })
    expect(canaryReadiness(canary({ phase: 'Progressing', lastAppliedSpec: 'h1' }), unchanged).message).toMatch(/^Progressing: analysis of our spec/)
    expect(canaryReadiness(canary({ phase: 'Failed', lastAppliedSpec: 'h1' }), unchanged).state).toBe('failed')
    // Changed, the same answers are about the spec before ours; suspended, Flagger looks at nothing.
    expect(canaryReadiness(canary({ phase: 'Succeeded', lastAppliedSpec: 'h1' }), { lastAppliedSpec: 'h1' }).state).toBe('waiting')
    expect(canaryReadiness(canary({ phase: 'Succeeded', lastAppliedSpec: 'h1' }, { suspend: true }), unchanged).state).toBe('waiting')
  })

  it('names the gate that holds our spec and how it opens; Failed names the primary as the rollback', () => {
    const moved: CanaryBaseline = { lastAppliedSpec: 'h0' }
    expect(canaryGate(canary({ phase: 'WaitingPromotion', lastAppliedSpec: 'h1' }), moved)).toBe(
      "WaitingPromotion: the analysis of our spec passed; promotion waits for approval at Flagger's confirm-promotion gate, webhook 'gate' (http://hooks/gate); it opens when that webhook answers 200 (with Flagger's loadtester: POST /gate/open with the Canary's name and namespace)"
    )
    expect(canaryGate(canary({ phase: 'WaitingPromotion', lastAppliedSpec: 'h0' }), moved)).toBeUndefined()
    expect(canaryGate(canary({ phase: 'Progressing', lastAppliedSpec: 'h1' }), moved)).toBeUndefined()
    const failed = canary({ phase: 'Failed', lastAppliedSpec: 'h1' })
    expect(flaggerRolledBack(failed, canaryReadiness(failed, { ...moved, analysed: true }), 'shop')).toEqual({ kind: 'Deployment', name: 'web-primary', namespace: 'shop' })
    expect(flaggerRolledBack(failed, canaryReadiness(failed, moved), 'shop')).toBeUndefined()
  })

  it('lists the gate webhooks that on-pause continue or verify cannot open', () => {
    expect(gatedCanaries([{ apiVersion: 'flagger.app/v1beta1', kind: 'Canary', metadata: { name: 'web' }, spec }])).toEqual(["Canary/web (confirm-promotion webhook 'gate')"])
    expect(gatedCanaries([{ apiVersion: 'flagger.app/v1beta1', kind: 'Canary', metadata: { name: 'web' }, spec: { analysis: { webhooks: [{ type: 'rollout' }] } } }])).toEqual([])
  })
})
