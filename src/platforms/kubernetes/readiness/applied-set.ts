import { ProblemList, UserError } from '../../../errors.js'
import type { Manifest } from '../../../render/manifests.js'
import type { Progress } from '../../../rollout/progress.js'
import type { ObjectState, WaitContext } from '../../../rollout/platform.js'
import type { KubeApi } from '../api/client.js'
import { FailingSince, describeProblem, diagnosePods, logTailText, readLogTail, type PodState } from '../workloads/pods.js'
import { groupKind, hasViewer, readiness, readyAtOnce, type LiveObject, type Readiness, type ReadinessOptions } from './kinds.js'
import type { CanaryBaseline } from './types.js'
import type { HealthChecks } from './health-checks.js'
import { NOT_WAITED, applyWaitRules, firstStatusGrace, noStatusYet, waitRules, type WaitRules } from './wait-rules.js'
import type { Rollout } from '../../../rollout/platform.js'
import { ProgressiveDelivery, type AppliedAnswer } from '../progressive/index.js'
import { readCanaryBaselines } from '../progressive/flagger-canary.js'
import { CollectionWatch, type Changes } from '../api/watch.js'

/** One object the set applied, as the server's answer to our apply named it. */
export interface AppliedObject {
  apiVersion: string
  kind: string
  name: string
  /** Absent for cluster-scoped kinds (CustomResourceDefinition, ClusterRole). */
  namespace?: string
  /** A Service's spec.type: only a LoadBalancer (whose address is waited for) needs a watch. */
  serviceType?: string
  /** Its annotations as applied: the per-object wait rules (wait-rules.ts) are read from them. */
  annotations?: Record<string, string>
}

interface Owned {
  metadata: { name: string; uid?: string; ownerReferences?: Array<{ uid?: string }> }
}

/** `Deployment/web`: how the summary's object table and the progress line name an object. */
export function objectRef(object: { kind: string; name: string }): string {
  return `${object.kind}/${object.name}`
}

/** Where an object's state is kept: by group too (two kinds of one name in different groups are two objects). */
function stateKey(object: { apiVersion: string; kind: string; name: string }): string {
  return `${groupKind(object.apiVersion, object.kind)}/${object.name}`
}

const APPS_WORKLOADS = new Set(['Deployment.apps', 'StatefulSet.apps', 'DaemonSet.apps'])

/** The workloads are followed by KubernetesRollout itself (revisions, pods, rollback). */
export function isAppsWorkload(object: { apiVersion: string; kind: string }): boolean {
  return APPS_WORKLOADS.has(groupKind(object.apiVersion, object.kind))
}

/**
 * Every object of an applied set and where each stands, kept current by one watch per kind and
 * namespace (never one per object): what the progress line, the failure and the summary's object
 * table say. Workloads are judged by KubernetesRollout and recorded here; kinds that are ready once
 * stored (ConfigMap, Secret, RBAC, HPA, PDB...) are never watched.
 */
export class AppliedSet {
  private readonly objects: AppliedObject[]
  private readonly options: ReadinessOptions
  private readonly states = new Map<string, Readiness>()
  private readonly pruned: ObjectState[] = []
  /** The watched collection of each followed object. */
  private readonly collections = new Map<AppliedObject, CollectionWatch<never>>()
  /** Log tails read from a Job's crashed pods while it ran: its pods may be gone when it fails. */
  private readonly jobLogs = new Map<string, string>()
  private readonly logsRead = new Set<string>()
  /** Grace clocks of each object's pods, apart: diagnosePods forgets every clock it was not given. */
  private readonly failing = new Map<string, FailingSince>()
  /** Each object's wait rules, from its annotations. */
  private readonly rules = new Map<AppliedObject, WaitRules>()
  /** When each object was first seen failed, in a row: for `deploy-service/fail-after`. */
  private readonly failedSince = new Map<string, number>()
  /** Custom resources whose CRD has a status subresource: only their controller writes a status. */
  private readonly statusOwned = new Set<AppliedObject>()
  /** About when the set was applied: the first-status grace counts from here. */
  private readonly appliedAt = Date.now()
  /** Argo Rollouts and Flagger Canaries of the set: whose revision, what their controller said, pauses. */
  private readonly progressive: ProgressiveDelivery

  /** The `health-checks` file's rules: for the kinds they name, they judge instead of kinds.ts. */
  private readonly health?: HealthChecks

  constructor(objects: AppliedObject[], options: ReadinessOptions, health?: HealthChecks) {
    this.objects = objects
    this.options = options
    this.health = health
    this.progressive = new ProgressiveDelivery(options)
    for (const object of objects) this.rules.set(object, waitRules(object.annotations).rules)
    for (const object of objects) {
      if (isAppsWorkload(object)) continue
      if (!this.rules.get(object)!.wait) this.states.set(stateKey(object), NOT_WAITED)
      else if (!this.needsWatch(object)) this.states.set(stateKey(object), readiness({ kind: object.kind, metadata: { name: object.name }, spec: { type: object.serviceType } }, object.apiVersion, options))
    }
  }

  private needsWatch(object: AppliedObject): boolean {
    if (readyAtOnce(object.apiVersion, object.kind)) return false
    if (this.rules.get(object)?.wait === false) return false
    // Only a LoadBalancer's address is waited for, and only with wait-for-load-balancers.
    if (object.apiVersion === 'v1' && object.kind === 'Service') return object.serviceType === 'LoadBalancer' && this.options.waitForLoadBalancers
    return true
  }

  /** The objects this set follows itself: not workloads, not ready once applied. */
  private followed(): AppliedObject[] {
    return this.objects.filter(o => !isAppsWorkload(o) && this.needsWatch(o))
  }

  /** Pods of the set are read from the rollout's own watch of the namespace's pods: no second watch. */
  private static isPod(object: AppliedObject): boolean {
    return object.apiVersion === 'v1' && object.kind === 'Pod'
  }

  /** The collection each followed object is watched in (pods excepted: the rollout watches those). */
  private async collectionPaths(api: KubeApi): Promise<Map<string, AppliedObject[]>> {
    const byPath = new Map<string, AppliedObject[]>()
    for (const object of this.followed().filter(o => !AppliedSet.isPod(o))) {
      const collection = await api.collectionPath(object.apiVersion, object.kind, object.namespace)
      // Known when it was applied: a CRD deleted since. Nothing can say it is ready.
      if (!collection) throw new Error(`the server no longer knows kind ${object.kind} in ${object.apiVersion}, so ${objectRef(object)} cannot be followed`)
      const { path } = collection
      byPath.set(path, [...(byPath.get(path) ?? []), object])
    }
    return byPath
  }

  /**
   * Before anything changes: one list of each collection the wait will watch, so that a kubeconfig
   * that may not read one (a Role without `list` on jobs) stops the deploy here, at the object's file,
   * instead of failing the wait after the apply.
   */
  async checkReadable(api: KubeApi, manifests: Manifest[]): Promise<void> {
    const problems = new ProblemList()
    for (const [path, objects] of await this.collectionPaths(api)) {
      try {
        await api.list(path, { fieldSelector: `metadata.name=${objects[0].name}`, limit: '1' })
      } catch (error) {
        if (!(error instanceof UserError)) throw error
        const manifest = manifests.find(m => m.object.kind === objects[0].kind && m.object.metadata.name === objects[0].name)
        problems.add({
          input: 'template',
          location: manifest?.source.locate([]),
          message: `waiting for ${objectRef(objects[0])} watches ${path}, which the kubeconfig's user may not list: ${error.problems[0]?.message ?? error.message}. Grant list and watch on it, or deploy with wait: false`
        })
      }
    }
    problems.throwIfAny()
  }

  /** Starts one list + watch per kind and namespace of the followed objects. */
  async start(api: KubeApi, changes: Changes, signal: AbortSignal): Promise<Array<CollectionWatch<never>>> {
    const byPath = await this.collectionPaths(api)
    const watches: Array<CollectionWatch<never>> = []
    for (const [path, objects] of byPath) {
      // One object of its kind: list and watch just that one (a cluster's CRDs can weigh megabytes).
      const options = objects.length === 1 ? { fieldSelector: `metadata.name=${objects[0].name}` } : {}
      const watch = new CollectionWatch<never>(api, path, options, changes, signal)
      void watch.run()
      watches.push(watch)
      for (const object of objects) this.collections.set(object, watch)
    }
    await this.findStatusSubresources(api)
    return watches
  }

  /** Which followed custom resources have a status subresource (discovery lists it as `<plural>/status`). */
  private async findStatusSubresources(api: KubeApi): Promise<void> {
    for (const object of this.followed().filter(o => !hasViewer(o.apiVersion, o.kind))) {
      const collection = await api.collectionPath(object.apiVersion, object.kind, object.namespace)
      const plural = collection?.path.slice(collection.path.lastIndexOf('/') + 1)
      const discovery = await api.get<{ resources?: Array<{ name: string }> }>(object.apiVersion.includes('/') ? `/apis/${object.apiVersion}` : `/api/${object.apiVersion}`)
      if (discovery?.resources?.some(r => r.name === `${plural}/status`)) this.statusOwned.add(object)
    }
  }

  /** The kind's verdict, then the first-status grace and the object's own wait rules over it. */
  private withRules(object: AppliedObject, live: LiveObject, judged: Readiness): Readiness {
    const key = stateKey(object)
    let state = this.statusOwned.has(object) && noStatusYet(live.status) ? firstStatusGrace(judged, Date.now() - this.appliedAt) : judged
    if (state.state !== 'failed') this.failedSince.delete(key)
    else if (!this.failedSince.has(key)) this.failedSince.set(key, Date.now())
    state = applyWaitRules(state, this.rules.get(object)!, this.failedSince.get(key), Date.now())
    return state
  }

  /** The server's answers to our apply: an Argo Rollout's pod template as we left it is "our revision". */
  applied(answers: Map<string, AppliedAnswer>): void {
    this.progressive.applied(answers)
  }

  /** Set when another revision took over an Argo Rollout of ours: the rollout reports `superseded`. */
  get superseded(): string | undefined {
    return this.progressive.superseded
  }

  /** Set when an Argo Rollout of ours reached an indefinite pause and `on-pause` is exit. */
  get paused(): string | undefined {
    return this.progressive.paused
  }

  /** Set when Flagger failed our spec and rolled back itself: the workload that serves the previous spec. */
  get rolledBack(): { kind: string; name: string; namespace: string } | undefined {
    return this.progressive.rolledBack
  }

  /**
   * The Flagger Canaries of the set, read now (right before our rollback changes their target): the
   * rollback's wait follows Flagger's analysis of the restored spec to its verdict, as a deploy's does.
   */
  async canariesForUndo(api: KubeApi): Promise<{ set: AppliedSet; count: number } | undefined> {
    const canaries = this.objects.filter(o => o.kind === 'Canary' && o.apiVersion.startsWith('flagger.app/'))
    if (!canaries.length) return undefined
    const baselines = new Map<string, CanaryBaseline>()
    await readCanaryBaselines(api, canaries.map(c => ({ apiVersion: c.apiVersion, kind: c.kind, metadata: { name: c.name, namespace: c.namespace } })), baselines)
    // Flagger never took up our spec: the restored one is the spec it knows, and its word on it stands.
    for (const [name, baseline] of baselines) if (baseline.lastAppliedSpec && baseline.lastAppliedSpec === this.options.canaries?.get(name)?.lastAppliedSpec) baseline.unchanged = true
    return { set: new AppliedSet(canaries, { ...this.options, onPause: 'wait', canaries: baselines }, this.health), count: canaries.length }
  }

  /** Rollback of the Argo Rollouts of ours in the set: Argo's abort; undefined when there are none. */
  abortOurs(api: KubeApi, progress: Progress): Promise<Rollout | undefined> {
    return this.progressive.abortOurs(api, this.objects, progress)
  }

  /** A workload's state, as KubernetesRollout judged it. */
  record(kind: string, name: string, state: Readiness): void {
    // Only apps workloads (Deployment, StatefulSet, DaemonSet) are judged there, all in group apps.
    this.states.set(stateKey({ apiVersion: 'apps/v1', kind, name }), state)
  }

  /** A Warning event of a followed object (the rollout's one watch of events hands them over). */
  noteWarning(uid: string | undefined, message: string | undefined, at: string | undefined): void {
    this.progressive.noteWarning(uid, message, at)
  }

  /** Objects deleted (or that a dry run would delete) by pruning, for the object table. */
  recordPruned(states: ObjectState[]): void {
    this.pruned.push(...states)
  }

  /** The uids of the followed objects and their pods, for picking out their Warning events. */
  uids(pods: Owned[]): Set<string> {
    const uids = new Set<string>()
    for (const object of this.followed()) {
      const live = (AppliedSet.isPod(object) ? pods.find(p => p.metadata.name === object.name) : this.collections.get(object)?.objects.get(object.name)) as Owned | undefined
      if (!live?.metadata.uid) continue
      uids.add(live.metadata.uid)
      for (const pod of pods) if (pod.metadata.ownerReferences?.some(o => o.uid === live.metadata.uid)) uids.add(pod.metadata.uid ?? '')
    }
    return uids
  }

  /**
   * Judges every followed object from its watch. Returns the failure (one line) when one failed, after
   * reporting the evidence (a failed Job's log tail) as reasons.
   */
  async assess(api: KubeApi, pods: Array<PodState & Owned>, progress: Progress, verifyAtPause?: WaitContext['verifyAtPause']): Promise<string | undefined> {
    const failures: string[] = []
    for (const object of this.followed()) {
      const ref = objectRef(object)
      const key = stateKey(object)
      const live = (AppliedSet.isPod(object) ? pods.find(p => p.metadata.name === object.name) : this.collections.get(object)?.objects.get(object.name)) as LiveObject | undefined
      if (!live) {
        // A Job with ttlSecondsAfterFinished: 0 is deleted once complete: what was seen ready stays so.
        if (this.states.get(key)?.state !== 'ready') this.states.set(key, { state: 'waiting', message: 'not found (deleted since it was applied?)' })
        continue
      }
      const foreign = this.progressive.supersededIn(object, live)
      if (foreign) {
        this.states.set(key, { state: 'failed', message: `superseded: ${foreign}` })
        continue
      }
      this.progressive.observe(object, live)
      const typed = { ...live, kind: object.kind }
      let state = this.health?.judge(typed, object.apiVersion) ?? readiness(typed, object.apiVersion, this.options)
      const failing = this.failing.get(key) ?? new FailingSince()
      this.failing.set(key, failing)
      if (object.kind === 'Job' && live.metadata.uid) {
        const jobPods = pods.filter(p => p.metadata.ownerReferences?.some(o => o.uid === live.metadata.uid))
        state = (await this.followJobPods(api, object, jobPods, failing, progress, state)) ?? state
        if (state.state === 'failed') await this.reportJobLog(api, object, live.metadata.uid, jobPods, progress)
      }
      if (object.kind === 'Pod' && state.state !== 'ready') {
        const doomed = diagnosePods([live as unknown as PodState], failing, Date.now()).find(p => p.doomed)
        if (doomed) state = { state: 'failed', message: `${describeProblem(doomed)} (this will not heal by itself)` }
      }
      state = this.progressive.explain(object, live, state)
      state = await this.progressive.followArgo(api, object, live, state, progress)
      state = this.withRules(object, live, state)
      // `on-pause: verify` that failed at the pause fails the object (the rollback aborts it).
      const atPause = await this.progressive.atPause(api, object, live, progress, verifyAtPause)
      if (atPause) state = { state: 'failed', message: atPause }
      this.states.set(key, state)
      if (state.state === 'failed') failures.push(`${ref} ${state.message}`)
    }
    return failures.length ? failures.join('; ') : undefined
  }

  /**
   * A Job's pods: their problems are shown as they come, and a crashed container's log tail is read at
   * once (the Job controller deletes the pods of a Job that failed). Only a pod that can never start
   * (an image that does not exist, a missing Secret past its grace) fails the Job here: crashes and
   * failed pods are the Job's to count against its backoffLimit.
   */
  private async followJobPods(api: KubeApi, job: AppliedObject, pods: Array<PodState & Owned>, failing: FailingSince, progress: Progress, state: Readiness): Promise<Readiness | undefined> {
    if (state.state !== 'waiting') return undefined
    const problems = diagnosePods(pods, failing, Date.now())
    for (const problem of problems) {
      progress.event(problem.key, `${objectRef(job)}: ${describeProblem(problem)}`)
      if (problem.crashed && problem.container && !this.logsRead.has(problem.key)) {
        this.logsRead.add(problem.key)
        const log = await this.logTail(api, job.namespace ?? '', problem.pod, problem.container, true, progress)
        if (log) {
          this.jobLogs.set(job.name, log)
          progress.event(`log:${problem.key}`, log)
        }
      }
    }
    const neverStarts = problems.find(p => p.doomed && !p.crashed && p.container !== undefined && p.reason !== 'ContainerCannotRun')
    return neverStarts ? { state: 'failed', message: `cannot start its pod: ${describeProblem(neverStarts)} (this will not heal by itself)` } : undefined
  }

  /** The log tail of a failed Job's pod: read now if a pod is left, else the one read while it ran. */
  private async reportJobLog(api: KubeApi, job: AppliedObject, uid: string, pods: Array<PodState & Owned>, progress: Progress): Promise<void> {
    const key = `job-log:${uid}`
    if (this.logsRead.has(key)) return
    this.logsRead.add(key)
    const failedPod = pods.find(p => p.status?.phase === 'Failed') ?? pods[0]
    const container = failedPod?.status?.containerStatuses?.find(c => c.state?.terminated || c.lastState?.terminated)
    let log: string | undefined
    if (failedPod && container) {
      const restarted = !container.state?.terminated && container.lastState?.terminated !== undefined
      log = await this.logTail(api, job.namespace ?? '', failedPod.metadata.name, container.name, restarted, progress)
    }
    log ??= this.jobLogs.get(job.name)
    progress.reason(log ?? `${objectRef(job)}: no log to show (its pods are gone)`)
  }

  private async logTail(api: KubeApi, namespace: string, pod: string, container: string, previous: boolean, progress: Progress): Promise<string | undefined> {
    const read = await readLogTail(api, { namespace, pod, container, previous })
    if ('error' in read) {
      progress.event(`log-error:${pod}:${container}`, `could not read the log of pod ${pod}: ${read.error}`)
      return undefined
    }
    return read.lines.length ? logTailText(pod, container, previous, read.lines) : undefined
  }

  /** One line: how many are ready, and the first that is not with why. */
  statusLine(): string {
    const total = this.objects.length
    const notReady = this.objects.filter(o => this.states.get(stateKey(o))?.state !== 'ready')
    const first = notReady[0]
    if (!first) return `${total}/${total} objects ready`
    const why = this.states.get(stateKey(first))?.message ?? 'not judged yet'
    const more = notReady.length > 1 ? ` (and ${notReady.length - 1} more)` : ''
    return `${total - notReady.length}/${total} objects ready; waiting for ${objectRef(first)}: ${why}${more}`
  }

  /** Every object not yet ready, with why: for the reason of a run that timed out. */
  notReady(): string[] {
    return this.objects.filter(o => this.states.get(stateKey(o))?.state !== 'ready').map(o => `${objectRef(o)}: ${this.states.get(stateKey(o))?.message ?? 'not judged yet'}`)
  }

  allReady(): boolean {
    return this.objects.every(o => this.states.get(stateKey(o))?.state === 'ready')
  }

  /** The object table: every applied object with its last state, then what was pruned. */
  table(): ObjectState[] {
    const rows = this.objects.map(object => {
      const state = this.states.get(stateKey(object))
      const text = !state ? 'not waited for' : state.state === 'ready' ? (state.message === 'ready once applied' ? 'ready' : `ready: ${state.message}`) : state.state === 'failed' ? `failed: ${state.message}` : `not ready: ${state.message}`
      return { ref: objectRef(object), state: text }
    })
    return [...rows, ...this.pruned]
  }
}
