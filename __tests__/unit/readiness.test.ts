// The per-kind readiness viewers, as pure functions of an object (the cluster suite covers them live).
import { describe, expect, it } from '@jest/globals'
import { groupKind, readiness, readyAtOnce, type LiveObject } from '../../src/platforms/kubernetes/readiness/kinds.js'
import { groupKindOf } from '../../src/platforms/kubernetes/prune/applyset.js'
import { AppliedSet } from '../../src/platforms/kubernetes/readiness/applied-set.js'

const options = { waitForLoadBalancers: true }
const object = (kind: string, fields: Partial<LiveObject> = {}): LiveObject => ({ kind, metadata: { name: 'x', generation: 1, ...fields.metadata }, ...fields }) as LiveObject
const cond = (type: string, status: string, reason?: string, message?: string) => ({ type, status, reason, message })

describe('readiness of each kind', () => {
  it('takes kinds without a status to wait for as ready at once, without a watch', () => {
    for (const [apiVersion, kind] of [['v1', 'ConfigMap'], ['v1', 'Secret'], ['autoscaling/v2', 'HorizontalPodAutoscaler'], ['policy/v1', 'PodDisruptionBudget'], ['rbac.authorization.k8s.io/v1', 'Role']]) {
      expect([kind, readyAtOnce(apiVersion, kind)]).toEqual([kind, true])
      expect(readiness(object(kind), apiVersion, options).state).toBe('ready')
    }
    expect(readyAtOnce('batch/v1', 'Job')).toBe(false)
    expect(readyAtOnce('example.com/v1', 'ConfigMap')).toBe(false)
  })

  it('waits for a Job to complete; a failed Job fails with its condition; a suspended one is not waited for', () => {
    expect(readiness(object('Job', { status: { active: 1 } }), 'batch/v1', options)).toEqual({ state: 'waiting', message: 'running: 0 of 1 completions succeeded, 1 active, 0 failed' })
    expect(readiness(object('Job', { status: { succeeded: 1, conditions: [cond('Complete', 'True')] } }), 'batch/v1', options).state).toBe('ready')
    expect(readiness(object('Job', { status: { conditions: [cond('Failed', 'True', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit')] } }), 'batch/v1', options)).toEqual({
      state: 'failed',
      message: 'failed: BackoffLimitExceeded: Job has reached the specified backoff limit'
    })
    expect(readiness(object('Job', { spec: { suspend: true }, status: { conditions: [cond('Suspended', 'True')] } }), 'batch/v1', options).state).toBe('ready')
  })

  it('judges a Pod by its phase and Ready condition', () => {
    expect(readiness(object('Pod', { status: { phase: 'Succeeded' } }), 'v1', options).state).toBe('ready')
    expect(readiness(object('Pod', { status: { phase: 'Running', conditions: [cond('Ready', 'True')] } }), 'v1', options).state).toBe('ready')
    expect(readiness(object('Pod', { status: { phase: 'Failed', reason: 'Error' } }), 'v1', options)).toEqual({ state: 'failed', message: 'phase Failed: Error' })
    expect(readiness(object('Pod', { status: { phase: 'Pending', containerStatuses: [{ name: 'app', state: { waiting: { reason: 'ErrImagePull' } } }] } }), 'v1', options)).toEqual({ state: 'waiting', message: 'container app: ErrImagePull' })
  })

  it('waits for a PVC to be Bound; Lost fails', () => {
    expect(readiness(object('PersistentVolumeClaim', { status: { phase: 'Pending' } }), 'v1', options)).toEqual({ state: 'waiting', message: 'not bound yet (phase Pending)' })
    expect(readiness(object('PersistentVolumeClaim', { spec: { volumeName: 'pv-1' }, status: { phase: 'Bound' } }), 'v1', options)).toEqual({ state: 'ready', message: 'Bound to pv-1' })
    expect(readiness(object('PersistentVolumeClaim', { status: { phase: 'Lost' } }), 'v1', options).state).toBe('failed')
  })

  it('waits for a LoadBalancer Service\'s address unless told not to; other Services are ready at once', () => {
    const lb = object('Service', { spec: { type: 'LoadBalancer' }, status: { loadBalancer: {} } })
    expect(readiness(lb, 'v1', options).state).toBe('waiting')
    expect(readiness(lb, 'v1', { waitForLoadBalancers: false }).state).toBe('ready')
    expect(readiness(object('Service', { spec: { type: 'LoadBalancer' }, status: { loadBalancer: { ingress: [{ hostname: 'lb.example' }] } } }), 'v1', options)).toEqual({ state: 'ready', message: 'load balancer at lb.example' })
    expect(readiness(object('Service', { spec: { type: 'ClusterIP' } }), 'v1', options).state).toBe('ready')
  })

  it('waits for a CRD to be Established; names not accepted fail', () => {
    const api = 'apiextensions.k8s.io/v1'
    expect(readiness(object('CustomResourceDefinition', { status: { conditions: [] } }), api, options).state).toBe('waiting')
    expect(readiness(object('CustomResourceDefinition', { status: { conditions: [cond('NamesAccepted', 'True'), cond('Established', 'True')] } }), api, options).state).toBe('ready')
    expect(readiness(object('CustomResourceDefinition', { status: { conditions: [cond('NamesAccepted', 'False', 'MultipleNamesNotAllowed', 'plural is already in use')] } }), api, options)).toEqual({
      state: 'failed',
      message: 'names not accepted: MultipleNamesNotAllowed: plural is already in use'
    })
  })

  it('judges custom resources as kstatus does: generation observed, Reconciling, Stalled, then Ready', () => {
    const api = 'example.com/v1'
    const widget = (status: LiveObject['status'], generation = 2) => object('Widget', { metadata: { name: 'w', generation }, status })
    expect(readiness(widget({ observedGeneration: 1, conditions: [cond('Ready', 'True')] }), api, options)).toEqual({ state: 'waiting', message: 'its controller has not seen generation 2 yet (status.observedGeneration is 1)' })
    expect(readiness(widget({ observedGeneration: 2, conditions: [cond('Reconciling', 'True', 'Progressing', 'applying')] }), api, options)).toEqual({ state: 'waiting', message: 'Reconciling: Progressing: applying' })
    expect(readiness(widget({ observedGeneration: 2, conditions: [cond('Stalled', 'True', 'Invalid', 'bad size')] }), api, options)).toEqual({ state: 'failed', message: 'Stalled: Invalid: bad size' })
    expect(readiness(widget({ observedGeneration: 2, conditions: [cond('Ready', 'False', 'Issuing', 'waiting for the CA')] }), api, options)).toEqual({ state: 'waiting', message: 'Ready=False: Issuing: waiting for the CA' })
    expect(readiness(widget({ observedGeneration: 2, conditions: [cond('Ready', 'True')] }), api, options).state).toBe('ready')
    // Nothing says otherwise: ready (kstatus: current).
    expect(readiness(widget(undefined), api, options).state).toBe('ready')
    expect(readiness(object('Widget', { metadata: { name: 'w', deletionTimestamp: '2026-01-01T00:00:00Z' } }), api, options)).toEqual({ state: 'waiting', message: 'being deleted' })
  })

  it('keeps kubectl\'s rules for workloads', () => {
    const deployment = object('Deployment', { spec: { replicas: 2 }, status: { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 1 } })
    expect(readiness(deployment, 'apps/v1', options)).toEqual({ state: 'waiting', message: 'Waiting for deployment "x" rollout to finish: 1 of 2 updated replicas are available...' })
  })

  it('names group-kinds as the ApplySet annotation and the viewer table do', () => {
    expect(groupKindOf({ apiVersion: 'apps/v1', kind: 'Deployment' })).toBe('Deployment.apps')
    expect(groupKindOf({ apiVersion: 'v1', kind: 'ConfigMap' })).toBe('ConfigMap')
    expect(groupKind('cert-manager.io/v1', 'Certificate')).toBe('Certificate.cert-manager.io')
  })
})

describe('AppliedSet states', () => {
  it('keeps two kinds of one name in different groups apart: a ready apps Deployment does not make a custom Deployment ready', () => {
    const set = new AppliedSet(
      [
        { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: 'shop' },
        { apiVersion: 'pipelines.example.com/v1', kind: 'Deployment', name: 'web', namespace: 'shop' }
      ],
      { waitForLoadBalancers: true }
    )
    set.record('Deployment', 'web', { state: 'ready', message: '1/1 updated' })
    expect(set.allReady()).toBe(false)
    expect(set.table()).toEqual([
      { ref: 'Deployment/web', state: 'ready: 1/1 updated' },
      { ref: 'Deployment/web', state: 'not waited for' }
    ])
  })
})
