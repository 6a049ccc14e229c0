// The Canary viewer as a pure function (the cluster suite, __tests__/kubernetes/flagger.test.ts, runs the
// real Flagger): the phase counts only once lastAppliedSpec moved from what it was before our apply.
import { describe, expect, it } from '@jest/globals'
import { failedChecks, noteAnalysis } from '../../src/platforms/kubernetes/progressive/flagger-canary.js'
import { readiness, type LiveObject } from '../../src/platforms/kubernetes/readiness/kinds.js'

const canary = (status: Record<string, unknown>): LiveObject => ({
  kind: 'Canary',
  metadata: { name: 'web', generation: 1 },
  spec: { targetRef: { kind: 'Deployment', name: 'web' }, analysis: { threshold: 2, iterations: 3 } },
  status
})
const judge = (status: Record<string, unknown>, baseline?: { lastAppliedSpec: string }) =>
  readiness(canary(status), 'flagger.app/v1beta1', { waitForLoadBalancers: true, canaries: baseline ? new Map([['web', baseline]]) : new Map() })

describe('Flagger Canary readiness', () => {
  it('never counts a verdict about the spec before ours, nor one of a Canary not read before the apply', () => {
    expect(judge({ phase: 'Succeeded', lastAppliedSpec: 'old' }, { lastAppliedSpec: 'old' })).toEqual({
      state: 'waiting',
      message: 'Flagger has not picked up our spec of deployment/web yet (its phase Succeeded is about the spec before ours)'
    })
    expect(judge({ phase: 'Failed', lastAppliedSpec: 'old' }, { lastAppliedSpec: 'old' }).state).toBe('waiting')
    expect(judge({ phase: 'Succeeded', lastAppliedSpec: 'new' }).state).toBe('waiting')
  })

  it('follows the phases of our spec to Succeeded or Failed, and says a first deploy as such', () => {
    const ours = { lastAppliedSpec: 'new' }
    const before = { lastAppliedSpec: 'old' }
    expect(judge({ phase: 'Initializing', ...ours }, { lastAppliedSpec: '' }).message).toMatch(/^first deploy: Flagger is initializing/)
    expect(judge({ phase: 'Initialized', ...ours }, { lastAppliedSpec: '' }).state).toBe('ready')
    expect(judge({ phase: 'Progressing', iterations: 1, failedChecks: 1, ...ours }, before)).toEqual({
      state: 'waiting',
      message: 'Progressing: analysis of our spec, iteration 1 of 3, 1 of 2 failed checks allowed'
    })
    for (const phase of ['Waiting', 'WaitingPromotion', 'Promoting', 'Finalising']) expect(judge({ phase, ...ours }, before).state).toBe('waiting')
    expect(judge({ phase: 'Succeeded', ...ours }, before)).toEqual({ state: 'ready', message: 'Succeeded: Flagger promoted our spec' })
  })

  it('takes a Failed with our hash for the old spec until Flagger was seen analysing ours (it syncs the hash of a failed Canary first)', () => {
    const baseline = { lastAppliedSpec: 'old' }
    expect(judge({ phase: 'Failed', lastAppliedSpec: 'new' }, baseline)).toEqual({
      state: 'waiting',
      message: 'Flagger has not started the analysis of our spec of deployment/web yet (its phase Failed is about the spec before ours)'
    })
    noteAnalysis(canary({ phase: 'Failed', lastAppliedSpec: 'new' }), baseline)
    expect(judge({ phase: 'Failed', lastAppliedSpec: 'new' }, baseline).state).toBe('waiting')
    noteAnalysis(canary({ phase: 'Progressing', lastAppliedSpec: 'new' }), baseline)
    expect(judge({ phase: 'Failed', lastAppliedSpec: 'new' }, baseline).message).toMatch(/^Failed: Flagger rolled our spec back/)
  })

  it('picks Flagger events that name a failed check or the rollback', () => {
    expect(failedChecks(['New revision detected! Scaling up web.ns', 'Halt web.ns advancement external check acceptance failed 500', 'Rolling back web.ns failed checks threshold reached 2'])).toEqual([
      'Halt web.ns advancement external check acceptance failed 500',
      'Rolling back web.ns failed checks threshold reached 2'
    ])
  })
})
