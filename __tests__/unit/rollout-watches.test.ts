// The rollout's watches: whatever ends the wait, they are all stopped. No cluster is needed: the
// workload watches only have to be started (against an address nothing answers on) and then stopped.
import { describe, expect, it } from '@jest/globals'
import { KubeApi, loadKubeConfig } from '../../src/platforms/kubernetes/api/client.js'
import type { AppliedSet } from '../../src/platforms/kubernetes/readiness/applied-set.js'
import { KubernetesRollout } from '../../src/platforms/kubernetes/workloads/rollout.js'
import { Deadline } from '../../src/rollout/deadline.js'
import { Progress } from '../../src/rollout/progress.js'

const unreachable = `apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: 'https://127.0.0.1:1'}}]
users: [{name: none, user: {token: not-a-secret}}]
contexts: [{name: none, context: {cluster: none, user: none, namespace: default}}]
current-context: none
`

describe('kubernetes rollout watches', () => {
  it('stops the workload watches when the set watches fail to start', async () => {
    const api = new KubeApi(loadKubeConfig({ kubeconfig: unreachable, fieldManager: 'deploy-service', forceConflicts: false, helmValues: [], helmSet: {}, prune: false, waitForLoadBalancers: true }))
    let watchSignal: AbortSignal | undefined
    // The set's start is where discovery can fail (a kind gone between apply and wait): it gets the signal the workload watches run under.
    const failingSet = {
      start: async (_api: unknown, _changes: unknown, signal: AbortSignal) => {
        watchSignal = signal
        throw new Error('discovery failed')
      }
    } as unknown as AppliedSet
    const rollout = new KubernetesRollout(api, [{ kind: 'Deployment', name: 'absent', namespace: 'default' }], 'deploy-service').follow(failingSet, 2)
    const deadline = new Deadline(60_000)
    try {
      await expect(rollout.wait({ deadline, progress: new Progress({ info: () => {}, warning: () => {} }), cancel: new AbortController().signal })).rejects.toThrow('discovery failed')
      expect(watchSignal?.aborted).toBe(true)
    } finally {
      deadline.dispose()
    }
  }, 60_000)
})
