// The pure rules: kubectl's rollout status per kind, krane-like doomed pod states with grace,
// rollout undo's choice of revision and patch, and the dry-run diff's stripping.
import { describe, expect, it } from '@jest/globals'
import { comparable, manifestDiff } from '../../src/platforms/kubernetes/diff.js'
import { undoPatch, undoTarget, type Revision } from '../../src/platforms/kubernetes/history.js'
import { FailingSince, diagnosePods, type PodState } from '../../src/platforms/kubernetes/pods.js'
import { rolloutStatus } from '../../src/platforms/kubernetes/status.js'

const meta = (generation = 2) => ({ name: 'web', generation })

describe('rolloutStatus (kubectl rules)', () => {
  it('follows a Deployment through its phases', () => {
    const d = (status: object, replicas = 3) => rolloutStatus({ kind: 'Deployment', metadata: meta(), spec: { replicas }, status: { observedGeneration: 2, ...status } })
    expect(rolloutStatus({ kind: 'Deployment', metadata: meta(), status: { observedGeneration: 1 } }).message).toBe('Waiting for deployment "web" spec update to be observed...')
    expect(d({ updatedReplicas: 1 }).message).toBe('Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...')
    expect(d({ updatedReplicas: 3, replicas: 4 }).message).toBe('Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...')
    expect(d({ updatedReplicas: 3, replicas: 3, availableReplicas: 2 }).message).toBe('Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...')
    expect(d({ updatedReplicas: 3, replicas: 3, availableReplicas: 3 })).toEqual({ message: 'deployment "web" successfully rolled out', done: true })
    const stuck = d({ conditions: [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }] })
    expect(stuck.error).toBe('deployment "web" exceeded its progress deadline')
  })

  it('follows a StatefulSet, partitions included', () => {
    const s = (status: object, partition?: number) =>
      rolloutStatus({ kind: 'StatefulSet', metadata: meta(), spec: { replicas: 3, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { partition } } }, status: { observedGeneration: 2, ...status } })
    expect(s({ readyReplicas: 1 }).message).toBe('Waiting for 2 pods to be ready...')
    expect(s({ readyReplicas: 3, updatedReplicas: 1 }, 1).message).toBe('Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated...')
    expect(s({ readyReplicas: 3, updatedReplicas: 2 }, 1).done).toBe(true)
    expect(s({ readyReplicas: 3, updatedReplicas: 2, updateRevision: 'web-2', currentRevision: 'web-1' }).message).toBe('waiting for statefulset rolling update to complete 2 pods at revision web-2...')
    expect(s({ readyReplicas: 3, currentReplicas: 3, updateRevision: 'web-2', currentRevision: 'web-2' }).done).toBe(true)
    const onDelete = rolloutStatus({ kind: 'StatefulSet', metadata: meta(), spec: { updateStrategy: { type: 'OnDelete' } }, status: {} })
    expect(onDelete.error).toMatch(/only available for RollingUpdate/)
  })

  it('follows a DaemonSet', () => {
    const ds = (status: object) => rolloutStatus({ kind: 'DaemonSet', metadata: meta(), spec: {}, status: { observedGeneration: 2, desiredNumberScheduled: 3, ...status } })
    expect(ds({ updatedNumberScheduled: 1 }).message).toBe('Waiting for daemon set "web" rollout to finish: 1 out of 3 new pods have been updated...')
    expect(ds({ updatedNumberScheduled: 3, numberAvailable: 2 }).message).toBe('Waiting for daemon set "web" rollout to finish: 2 of 3 updated pods are available...')
    expect(ds({ updatedNumberScheduled: 3, numberAvailable: 3 }).done).toBe(true)
  })
})

function pod(name: string, waiting?: { reason: string; message?: string }, restartCount = 0, lastExit?: number): PodState {
  return {
    metadata: { name },
    status: {
      phase: 'Pending',
      containerStatuses: [{ name: 'web', restartCount, state: waiting ? { waiting } : { running: {} }, lastState: lastExit !== undefined ? { terminated: { exitCode: lastExit, reason: 'Error' } } : {} }]
    }
  }
}

describe('diagnosePods (doomed states, with grace)', () => {
  it('does not fail on a single pull error, but does once "not found" lasts past the grace', () => {
    const failing = new FailingSince()
    const notFound = pod('p', { reason: 'ErrImagePull', message: 'failed to resolve reference "x:missing": not found' })
    expect(diagnosePods([notFound], failing, 0)[0]).toMatchObject({ reason: 'ErrImagePull', doomed: false })
    expect(diagnosePods([pod('p', { reason: 'ImagePullBackOff', message: 'Back-off pulling image: not found' })], failing, 5_000)[0].doomed).toBe(false)
    expect(diagnosePods([notFound], failing, 8_000)[0].doomed).toBe(true)
  })

  it('restarts the grace clock when a pull recovers; other pull errors get longer', () => {
    const failing = new FailingSince()
    const timeout = pod('p', { reason: 'ErrImagePull', message: 'dial tcp: i/o timeout' })
    diagnosePods([timeout], failing, 0)
    expect(diagnosePods([timeout], failing, 20_000)[0].doomed).toBe(false)
    diagnosePods([pod('p')], failing, 21_000)
    expect(diagnosePods([timeout], failing, 30_000)[0].doomed).toBe(false)
    expect(diagnosePods([timeout], failing, 55_000)[0].doomed).toBe(true)
  })

  it('fails a crash loop after the restart limit, with its exit code, and invalid images at once', () => {
    const failing = new FailingSince()
    expect(diagnosePods([pod('p', { reason: 'CrashLoopBackOff' }, 1, 1)], failing, 0)[0]).toMatchObject({ doomed: false, crashed: true })
    const crash = diagnosePods([pod('p', { reason: 'CrashLoopBackOff' }, 3, 1)], failing, 0)[0]
    expect(crash).toMatchObject({ doomed: true, message: 'restarted 3 times (exit code 1, Error)' })
    expect(diagnosePods([pod('p', { reason: 'InvalidImageName', message: 'bad' })], failing, 0)[0].doomed).toBe(true)
    expect(diagnosePods([pod('p', { reason: 'CreateContainerConfigError', message: 'secret "s" not found' })], failing, 0)[0].doomed).toBe(false)
    expect(diagnosePods([pod('p', { reason: 'CreateContainerConfigError', message: 'secret "s" not found' })], failing, 10_000)[0].doomed).toBe(true)
    expect(diagnosePods([pod('p', { reason: 'ContainerCreating' })], failing, 0)).toEqual([])
  })
})

describe('rollout undo', () => {
  const revision = (number: number, image: string): Revision => ({
    number,
    name: `web-${number}`,
    content: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image }] } },
    annotations: { 'deployment.kubernetes.io/revision': String(number), 'kubernetes.io/change-cause': `deploy ${image}` }
  })
  const history = [revision(1, 'web:1'), revision(2, 'web:2'), revision(3, 'web:3')]
  const live = { kind: 'Deployment', metadata: { name: 'web', annotations: { 'deployment.kubernetes.io/revision': '3' } }, spec: { template: history[2].content as object } }

  it('goes to the second newest revision, or the one asked for', () => {
    expect(undoTarget(live, history).number).toBe(2)
    expect(undoTarget(live, history, 1).number).toBe(1)
    expect(() => undoTarget(live, history, 9)).toThrow(/deployment\/web has no revision 9; it has 1, 2, 3/)
    expect(() => undoTarget(live, history.slice(0, 1))).toThrow(/no previous revision to roll back to/)
  })

  it('patches the template and copies the change cause, skipping what already runs', () => {
    const patch = undoPatch(live, history[0])
    expect(patch?.contentType).toBe('application/json-patch+json')
    expect(patch?.patch).toEqual([
      { op: 'replace', path: '/spec/template', value: history[0].content },
      { op: 'replace', path: '/metadata/annotations', value: { 'deployment.kubernetes.io/revision': '3', 'kubernetes.io/change-cause': 'deploy web:1' } }
    ])
    expect(undoPatch(live, history[2])).toBeUndefined()
  })
})

describe('dry-run diff', () => {
  it('strips server bookkeeping and status, and says when nothing changes', () => {
    const live = { kind: 'ConfigMap', metadata: { name: 'c', uid: 'u', resourceVersion: '5', managedFields: [{}], creationTimestamp: 'x' }, data: { a: '1' }, status: { x: 1 } }
    expect(comparable(live)).toEqual({ kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: '1' } })
    expect(manifestDiff([{ kind: 'ConfigMap', name: 'c', live, after: { ...live, metadata: { ...live.metadata, resourceVersion: '6' } } }])).toMatch(/^no change/)
    const diff = manifestDiff([{ kind: 'ConfigMap', name: 'c', live, after: { ...live, data: { a: '2' } } }])
    expect(diff).toContain("-  a: \"1\"")
    expect(diff).toContain("+  a: \"2\"")
  })
})
