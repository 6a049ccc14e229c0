// The pure rules: kubectl's rollout status per kind, krane-like doomed pod states with grace,
// rollout undo's choice of revision and patch, the dry-run diff's stripping, whose rollout it is,
// Secret values masked, and answers that are not the API.
import { describe, expect, it } from '@jest/globals'
import { comparable, manifestDiff } from '../../src/platforms/kubernetes/apply/diff.js'
import { undoPatch, undoTarget, type Revision } from '../../src/platforms/kubernetes/workloads/history.js'
import { FailingSince, diagnosePods, type PodState } from '../../src/platforms/kubernetes/workloads/pods.js'
import { rolloutStatus } from '../../src/platforms/kubernetes/workloads/status.js'
import { apiFailure, looksLikeHtml } from '../../src/platforms/kubernetes/api/errors.js'
import { liveRevision, templateKey, whoseRollout } from '../../src/platforms/kubernetes/workloads/ownership.js'
import { redactSecret } from '../../src/platforms/kubernetes/apply/secrets.js'
import { Progress } from '../../src/rollout/progress.js'

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

describe('diagnosePods: transient failures (as krane treats them) and one report per reason', () => {
  const failedPod = (reason: string, message = 'm'): PodState => ({ metadata: { name: `p-${reason}` }, status: { phase: 'Failed', reason, message } })
  const terminated = (where: 'state' | 'lastState', exitCode: number): PodState => ({
    metadata: { name: 'p' },
    status: { phase: 'Running', containerStatuses: [{ name: 'web', [where]: { terminated: { reason: 'ContainerCannotRun', exitCode, message: 'oci runtime error' } } }] }
  })

  it.each(['Evicted', 'Preempting', 'Terminated', 'NodeShutdown'])('a pod that failed with reason %s is reported, not doomed', reason => {
    const [problem] = diagnosePods([failedPod(reason, 'The node was low on resource: memory.')], new FailingSince(), 0)
    expect(problem).toMatchObject({ reason, doomed: false })
    expect(problem.message).toMatch(/caused by its node; its controller starts another pod/)
  })

  it('a pod that failed for any other reason is doomed', () => {
    expect(diagnosePods([failedPod('UnexpectedAdmissionError')], new FailingSince(), 0)[0].doomed).toBe(true)
    expect(diagnosePods([{ metadata: { name: 'p' }, status: { phase: 'Failed' } }], new FailingSince(), 0)[0]).toMatchObject({ reason: 'Failed', doomed: true })
  })

  it('ContainerCannotRun with exit code 128 is transient, any other exit code is doomed, in state or lastState', () => {
    for (const where of ['state', 'lastState'] as const) {
      expect(diagnosePods([terminated(where, 128)], new FailingSince(), 0)[0]).toMatchObject({ reason: 'ContainerCannotRun', doomed: false })
      const doomed = diagnosePods([terminated(where, 127)], new FailingSince(), 0)[0]
      expect(doomed).toMatchObject({ reason: 'ContainerCannotRun', doomed: true, message: 'failed to start (exit code 127): oci runtime error' })
    }
  })

  it('a Secret or ConfigMap cache not yet synced never dooms CreateContainerConfigError', () => {
    const failing = new FailingSince()
    const notSynced = pod('p', { reason: 'CreateContainerConfigError', message: 'failed to sync secret cache: timed out waiting for the condition' })
    diagnosePods([notSynced], failing, 0)
    expect(diagnosePods([notSynced], failing, 60_000)[0].doomed).toBe(false)
  })

  it('gives a repeated reason the same key, whatever its message or restart count says', () => {
    const failing = new FailingSince()
    const keys = (pods: PodState[]) => diagnosePods(pods, failing, 0).map(p => p.key)
    expect(keys([pod('p', { reason: 'CrashLoopBackOff', message: 'back-off 10s' }, 1, 1)])).toEqual(keys([pod('p', { reason: 'CrashLoopBackOff', message: 'back-off 20s' }, 2, 1)]))
    expect(keys([pod('p', { reason: 'ImagePullBackOff', message: 'Back-off pulling image "a"' })])).toEqual(keys([pod('p', { reason: 'ImagePullBackOff', message: 'Back-off pulling image "a" (again)' })]))
    const unschedulable = (message: string): PodState => ({ metadata: { name: 'p' }, status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message }] } })
    expect(keys([unschedulable('0/3 nodes are available: 1 Insufficient cpu.')])).toEqual(keys([unschedulable('0/3 nodes are available: 2 Insufficient cpu.')]))
    // Different reasons are different facts.
    expect(keys([pod('p', { reason: 'ErrImagePull' })])).not.toEqual(keys([pod('p', { reason: 'ImagePullBackOff' })]))
  })

  it('prints a repeated reason once through Progress', () => {
    const lines: string[] = []
    const progress = new Progress({ info: line => lines.push(line), warning: line => lines.push(line) })
    const failing = new FailingSince()
    for (let restarts = 1; restarts <= 3; restarts++) {
      for (const problem of diagnosePods([pod('p', { reason: 'CrashLoopBackOff', message: `back-off ${restarts * 10}s` }, restarts, 1)], failing, 0)) progress.event(problem.key, problem.message)
    }
    expect(lines).toHaveLength(1)
  })
})

describe('whose rollout', () => {
  const template = (image: string, annotations?: Record<string, string>) => ({ metadata: { labels: { app: 'web' }, annotations }, spec: { containers: [{ name: 'web', image }] } })
  const live = (image: string, options: { revision?: string; generation?: number; observed?: number; cause?: string; annotations?: Record<string, string> } = {}) => ({
    kind: 'Deployment',
    metadata: {
      name: 'web',
      generation: options.generation ?? 3,
      annotations: { 'deployment.kubernetes.io/revision': options.revision ?? '3', ...(options.cause ? { 'kubernetes.io/change-cause': options.cause } : {}) },
      managedFields: [
        { manager: 'deploy-service', operation: 'Apply', time: '2026-01-01T10:00:00Z', fieldsV1: { 'f:spec': { 'f:template': {} } } },
        { manager: 'kubectl-set', operation: 'Update', time: '2026-01-01T10:05:00Z', fieldsV1: { 'f:spec': { 'f:template': {} } } },
        { manager: 'kube-controller-manager', operation: 'Update', time: '2026-01-01T10:06:00Z', subresource: 'status', fieldsV1: {} }
      ]
    },
    spec: { template: template(image, options.annotations) },
    status: { observedGeneration: options.observed ?? options.generation ?? 3 }
  })
  const ours = { template: templateKey(template('web:2')), revision: 2, changeCause: 'deploy-service: web:2 from commit abc' }

  it('is ours while the template is ours, whatever field order or empty fields the server adds', () => {
    expect(whoseRollout(ours, { ...live('web:2'), spec: { template: { spec: { containers: [{ image: 'web:2', name: 'web' }] }, metadata: { annotations: {}, labels: { app: 'web' }, creationTimestamp: null } } } }, [])).toEqual({ verdict: 'ours' })
  })

  it('follows a restart of our template, with the new revision number', () => {
    expect(whoseRollout(ours, live('web:2', { annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-01-01T10:05:00Z' } }), [])).toEqual({ verdict: 'restarted', revision: 3 })
  })

  it('is superseded by another template, naming its revision, images, change-cause and field manager', () => {
    const other = whoseRollout(ours, live('web:9', { cause: 'deploy-service: web:9 from commit def (https://github.com/acme/shop/actions/runs/7)' }), [])
    expect(other).toEqual({
      verdict: 'superseded',
      revision: 3,
      reason: 'deployment/web moved on to revision 3 (web=web:9), which is not ours (revision 2): change-cause: deploy-service: web:9 from commit def (https://github.com/acme/shop/actions/runs/7); its template was last changed by field manager "kubectl-set (Update)"'
    })
    // kubectl set image leaves our change-cause on the object: it is not theirs, and we say so.
    const kept = whoseRollout(ours, live('web:9', { cause: ours.changeCause }), [])
    expect(kept.verdict === 'superseded' && kept.reason).toMatch(/no change-cause of its own \(it still carries ours/)
  })

  it('is superseded at once by a foreign template its controller has not numbered yet', () => {
    const unobserved = whoseRollout(ours, live('web:9', { generation: 4, observed: 3 }), [])
    expect(unobserved.verdict === 'superseded' && unobserved.reason).toMatch(/^deployment\/web moved on to a new revision \(not numbered yet\) \(web=web:9\), which is not ours \(revision 2\)/)
    // Recreate numbers the new revision late: a number that is still ours is not theirs.
    const late = whoseRollout(ours, live('web:9', { revision: '2' }), [])
    expect(late).toMatchObject({ verdict: 'superseded', revision: undefined })
    expect(whoseRollout(ours, live('web:2', { revision: '2', annotations: { 'kubectl.kubernetes.io/restartedAt': 'now' } }), [])).toEqual({ verdict: 'restarted', revision: undefined })
  })

  it('reads StatefulSet and DaemonSet revision numbers from their ControllerRevisions', () => {
    const owner = [{ uid: 'u1', controller: true }]
    const revisions = [
      { metadata: { name: 'db-aaa', ownerReferences: owner }, revision: 1 },
      { metadata: { name: 'db-bbb', ownerReferences: owner }, revision: 4 },
      { metadata: { name: 'other', ownerReferences: [{ uid: 'u2', controller: true }] }, revision: 9 }
    ]
    const workload = (kind: string) => ({ kind, metadata: { name: 'db', uid: 'u1', generation: 2 }, status: { observedGeneration: 2, updateRevision: 'db-aaa' } })
    expect(liveRevision(workload('StatefulSet'), revisions)).toBe(1)
    expect(liveRevision(workload('DaemonSet'), revisions)).toBe(4)
  })
})

describe('Secret values', () => {
  const secret = (value: string) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data: { password: Buffer.from(value).toString('base64') }, stringData: { token: value } })

  it('are replaced by a keyed hash: the keys stay, a changed value shows a changed hash', () => {
    const masked = redactSecret(secret('hunter2-very-secret'))
    expect(Object.keys(masked.data)).toEqual(['password'])
    expect(JSON.stringify(masked)).not.toMatch(/hunter2|aHVudGVy/)
    expect(masked.stringData.token).toMatch(/^\(secret value, hmac [0-9a-f]{10}\)$/)
    expect(redactSecret(secret('hunter2-very-secret'))).toEqual(masked)
    expect(redactSecret(secret('other')).data.password).not.toBe(masked.data.password)
    const config = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: 'visible' } }
    expect(redactSecret(config)).toBe(config)
  })

  it('never reach the dry-run diff, which still says which key changed', () => {
    const before = { ...secret('old-password-1'), metadata: { name: 's', annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"data":{"password":"b2xkLXBhc3N3b3JkLTE="}}' } } }
    const diff = manifestDiff([{ kind: 'Secret', name: 's', live: before, after: secret('new-password-2') }])
    expect(diff).toMatch(/-\s+password: \(secret value, hmac [0-9a-f]+\)/)
    expect(diff).toMatch(/\+\s+password: \(secret value, hmac [0-9a-f]+\)/)
    for (const leak of ['old-password-1', 'new-password-2', Buffer.from('old-password-1').toString('base64'), Buffer.from('new-password-2').toString('base64')]) expect(diff).not.toContain(leak)
  })
})

describe('answers that are not the API', () => {
  it('names an HTML page from a proxy as such', () => {
    expect(looksLikeHtml('<!DOCTYPE html><html><body>Sign in</body></html>')).toBe(true)
    expect(looksLikeHtml('{"kind":"Status"}')).toBe(false)
    const failure = apiFailure({ code: 502, body: '<html><head><title>502 Bad Gateway</title></head></html>' })
    expect(failure?.message).toMatch(/an HTML page, not the Kubernetes API's JSON \(HTTP 502; a proxy, load balancer or login page answered\)/)
  })
})
