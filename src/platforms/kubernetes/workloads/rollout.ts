import { objectName } from '../../../render/manifests.js'
import { stoppedOutcome } from '../../../rollout/poll-loop.js'
import { sleep } from '../../../rollout/poll.js'
import type { Progress } from '../../../rollout/progress.js'
import type { ObjectState, Rollout, WaitContext, WaitOutcome } from '../../../rollout/platform.js'
import { AppliedSet } from '../readiness/applied-set.js'
import { StaleObject, type KubeApi } from '../api/client.js'
import { currentRevisionNumber, revisionsOf, templateOf, undoPatch, undoTarget, type Revision, type UndoPatch, type Workload } from './history.js'
import { newRevisionObjects, type Owned as Controlled, type WatchedWorkload } from './new-pods.js'
import { DEFAULT_DOOM_RULES, FailingSince, describeProblem, diagnosePods, logTailText, readLogTail, type DoomRules, type PodProblem, type PodState } from './pods.js'
import { staleAsNotOurs, templateKey, undoProof, whoseRollout, type LiveWorkload, type RevisionRecord, type LivePrecondition } from './ownership.js'
import { madeBy, readWorkload, type TrackedWorkload } from './tracked.js'
import { ifOurs, type Owned } from '../../../rollout/ownership.js'
import { rolloutStatus, type WorkloadState } from './status.js'
import { Changes, CollectionWatch } from '../api/watch.js'
import { LiveLogs, type LiveLogSettings, type LivePod } from '../logs/live-logs.js'
import { CHANGE_CAUSE } from '../../../render/manifests.js'

interface WarningEvent {
  metadata: { name: string; uid?: string }
  involvedObject?: { uid?: string; kind?: string; name?: string }
  reason?: string
  message?: string
  count?: number
  series?: { count?: number }
  lastTimestamp?: string
  eventTime?: string
}

/** How long a foreign template may stay unnumbered before the superseded report goes out without its number. */
const NUMBERING_GRACE_MS = 5000

const PLURAL: Record<string, string> = { Deployment: 'deployments', StatefulSet: 'statefulsets', DaemonSet: 'daemonsets' }

/**
 * The rollout of an applied manifest set, followed by watching (never polling) its workloads, their
 * new pods and Warning events, with kubectl's rules for done and krane's for doomed.
 */
export class KubernetesRollout implements Rollout {
  readonly revision: string
  label: string
  readonly previousRevision?: string
  readonly outputs: Record<string, string> = {}
  readonly workloads: TrackedWorkload[]
  private readonly api: KubeApi
  private readonly fieldManager: string
  private readonly rules: DoomRules
  /** Since when each workload has run a template that is not ours, by name. */
  private readonly foreignSince: Record<string, number> = {}
  /** Said with a success that came about unusually (a `kubectl rollout restart` of our template). */
  private readonly notes: string[] = []
  /** Every object of the applied set and its state; the workloads alone when no set was applied. */
  private set: AppliedSet
  /** The set holds more than the workloads: the progress line counts objects. */
  private setHasOthers = false
  /** Housekeeping after success (pruning), set by the platform. */
  afterSuccess?: (progress: Progress) => Promise<void>
  /** `follow-logs`, set by the platform: the logs of our revision's new pods shown while waiting. */
  liveLogs?: LiveLogSettings

  constructor(api: KubeApi, workloads: TrackedWorkload[], fieldManager: string, rules: DoomRules = DEFAULT_DOOM_RULES) {
    this.api = api
    this.workloads = workloads
    this.fieldManager = fieldManager
    this.rules = rules
    // None when the target is an Argo Rollout: the applied set follows it (follow names it).
    const target = workloads[0] as TrackedWorkload | undefined
    this.revision = target?.revision !== undefined ? String(target.revision) : 'unknown'
    this.previousRevision = target?.previousRevision !== undefined ? String(target.previousRevision) : undefined
    const restored = target?.restored !== undefined && target.restored !== target.revision ? `revision ${target.restored}, now ` : ''
    this.label = target ? `${target.kind.toLowerCase()}/${target.name} ${restored}revision ${this.revision}` : 'the applied set'
    this.set = new AppliedSet(
      workloads.map(w => ({ apiVersion: 'apps/v1', kind: w.kind, name: w.name, namespace: w.namespace })),
      { waitForLoadBalancers: true }
    )
  }

  /** Waits for every object of the applied set too (workloads are among them), each by its kind's rules. */
  follow(set: AppliedSet, objectCount: number, target?: string): this {
    this.set = set
    if (!this.workloads.length && target) this.label = `${target} (its controller's revision of our template)`
    this.setHasOthers = objectCount > this.workloads.length
    return this
  }

  /** Every object waited on, with its last state, and what was pruned. */
  objects(): ObjectState[] {
    return this.set.table()
  }

  /**
   * Waits (briefly) until each workload's controller has seen the change, then reads its revision number.
   * "Ours" is the template in the server's answer to our own apply or patch (see `madeBy`): a read after
   * it may already show someone else's change, which must never be taken for ours.
   */
  static async settle(api: KubeApi, workloads: TrackedWorkload[], fieldManager: string, rules?: DoomRules): Promise<KubernetesRollout> {
    const settled: TrackedWorkload[] = []
    for (const tracked of workloads) {
      let live = await readWorkload(api, tracked)
      let revisions = live ? await revisionsOf(api, live) : []
      const ours = tracked.template ?? (live ? templateKey(live.spec?.template) : undefined)
      const movedOn = (): boolean => live !== undefined && ours !== undefined && templateKey(live.spec?.template) !== ours
      // A Deployment's revision is the ReplicaSet that holds our template. Its controller makes it only
      // after it observed the change, and with strategy Recreate only once the old pods are gone: until
      // then the Deployment still carries the old number, which must never be taken for ours.
      const holdingOurs = (): number | undefined => revisions.find(r => live && templateOf(live.kind, r) !== undefined && templateKey(templateOf(live.kind, r)) === ours)?.number
      const observed = (w: Workload): boolean => (w.metadata.generation ?? 0) <= (w.status?.observedGeneration ?? 0)
      const settledYet = (): boolean => !live || movedOn() || (observed(live) && (live.kind !== 'Deployment' || holdingOurs() !== undefined))
      for (let i = 0; i < 50 && !settledYet(); i++) {
        await sleep(200, api.signal)
        live = await readWorkload(api, tracked)
        revisions = live ? await revisionsOf(api, live) : []
      }
      // Not numbered in time (a slow Recreate): unknown, which `undo` and the wait both handle.
      const revision = !live ? undefined : live.kind === 'Deployment' || movedOn() ? holdingOurs() : currentRevisionNumber(live, revisions)
      settled.push({ ...tracked, revision, template: ours, changeCause: tracked.changeCause ?? live?.metadata.annotations?.[CHANGE_CAUSE] })
    }
    return new KubernetesRollout(api, settled, fieldManager, rules)
  }

  async wait(context: WaitContext): Promise<WaitOutcome> {
    const { progress, deadline } = context
    const stop = new AbortController()
    const signal = AbortSignal.any([stop.signal, deadline.signal])
    // Every request made while waiting (lists, logs) ends at the deadline or on cancellation.
    const api = this.api.withSignal(signal)
    const changes = new Changes()
    const watches = this.startWatches(api, changes, signal)
    const failing = new FailingSince()
    const logsRead = new Set<string>()
    let status = 'waiting for the first list of the workloads'
    const live = this.liveLogs && this.liveLogs.mode !== 'off' ? new LiveLogs(api, progress, this.liveLogs) : undefined
    try {
      // Inside the try: if the set's watches cannot start, the workload watches are stopped too.
      watches.others = await this.set.start(api, changes, signal)
      while (!deadline.signal.aborted) {
        const all = Object.values(watches).flat()
        const fatal = all.find(w => w.fatal)?.fatal
        if (fatal) throw fatal
        const trouble = all.find(w => w.trouble)?.trouble
        if (trouble) progress.event(`watch-trouble:${trouble}`, `the API server is unreachable for now (${trouble}); watching again as soon as it is back`)
        if (all.every(w => w.synced)) {
          const verdict = await this.assess(api, watches, failing, logsRead, { progress, verifyAtPause: context.verifyAtPause }, live)
          status = verdict.status
          if (verdict.outcome) return verdict.outcome
        }
        await changes.next(1000, deadline.signal)
      }
      // A set that did not get ready in time: every object not ready, each with why.
      const notReady = this.setHasOthers ? this.set.notReady() : []
      return stoppedOutcome(context, notReady.length ? `${this.set.statusLine().split(';')[0]}; not ready: ${notReady.join('; ')}` : status)
    } finally {
      stop.abort()
      // Whatever ended the wait, the log streams end with it.
      await live?.stop()
    }
  }

  private startWatches(api: KubeApi, changes: Changes, signal: AbortSignal): Record<string, Array<CollectionWatch<never>>> {
    const namespaces = [...new Set(this.workloads.map(w => w.namespace))]
    const kinds = new Set(this.workloads.map(w => w.kind))
    const start = (path: (ns: string) => string, options = {}): Array<CollectionWatch<never>> =>
      namespaces.map(ns => {
        const watch = new CollectionWatch<never>(api, path(ns), options, changes, signal)
        void watch.run()
        return watch
      })
    const apps = (plural: string) => (ns: string) => `/apis/apps/v1/namespaces/${ns}/${plural}`
    return {
      ...Object.fromEntries([...kinds].map(kind => [kind, start(apps(PLURAL[kind]))])),
      replicaSets: kinds.has('Deployment') ? start(apps('replicasets')) : [],
      // StatefulSets too: their revision numbers (ours, or someone else's) are on ControllerRevisions.
      controllerRevisions: kinds.has('DaemonSet') || kinds.has('StatefulSet') ? start(apps('controllerrevisions')) : [],
      pods: start(ns => `/api/v1/namespaces/${ns}/pods`),
      events: start(ns => `/api/v1/namespaces/${ns}/events`, { fieldSelector: 'type=Warning', optional: true })
    }
  }

  /** Reads the watched state: done, doomed, or still going (with a status line). */
  private async assess(
    api: KubeApi,
    watches: Record<string, Array<CollectionWatch<never>>>,
    failing: FailingSince,
    logsRead: Set<string>,
    { progress, verifyAtPause }: Pick<WaitContext, 'progress' | 'verifyAtPause'>,
    live?: LiveLogs
  ): Promise<{ outcome?: WaitOutcome; status: string }> {
    const values = <T>(list: Array<CollectionWatch<never>>): T[] => list.flatMap(w => [...w.objects.values()] as T[])
    const collections = { pods: values<PodState & Controlled>(watches.pods), replicaSets: values<Controlled>(watches.replicaSets), controllerRevisions: values<Controlled & { revision?: number }>(watches.controllerRevisions) }
    const events = values<WarningEvent>(watches.events)
    const pending: string[] = []
    const doomed: PodProblem[] = []
    const errors: string[] = []
    const uids: Array<string | undefined> = []
    const revisionPods: Array<{ workload: string; namespace: string; pods: LivePod[] }> = []
    for (const tracked of this.workloads) {
      // Listed items carry no kind: the collection they come from says it.
      const live = values<WatchedWorkload & WorkloadState>(watches[tracked.kind]).find(w => w.metadata.name === tracked.name)
      if (!live) {
        pending.push(`${tracked.kind.toLowerCase()}/${tracked.name} not found`)
        this.set.record(tracked.kind, tracked.name, { state: 'waiting', message: 'not found' })
        continue
      }
      const workload = { ...live, kind: tracked.kind }
      const owner = this.ownership(tracked, workload as unknown as LiveWorkload, collections.controllerRevisions, progress)
      if (owner.superseded) return { status: owner.superseded, outcome: { state: 'superseded', reason: owner.superseded } }
      if (owner.waiting) {
        pending.push(owner.waiting)
        this.set.record(tracked.kind, tracked.name, { state: 'waiting', message: owner.waiting })
        continue
      }
      const state = rolloutStatus(workload)
      if (state.error) errors.push(state.error)
      else if (!state.done) pending.push(state.message)
      this.set.record(tracked.kind, tracked.name, { state: state.error ? 'failed' : state.done ? 'ready' : 'waiting', message: state.error ?? state.message })
      const { pods, owners } = newRevisionObjects(workload, collections)
      revisionPods.push({ workload: tracked.name, namespace: tracked.namespace, pods })
      const problems = diagnosePods(pods, failing, Date.now(), this.rules)
      for (const problem of problems) progress.event(problem.key, describeProblem(problem))
      for (const problem of problems.filter(p => p.crashed && !logsRead.has(`${p.pod}/${p.container}`))) {
        logsRead.add(`${problem.pod}/${problem.container}`)
        await this.printLogTail(api, tracked.namespace, problem, progress, false)
      }
      doomed.push(...problems.filter(p => p.doomed))
      uids.push(live.metadata.uid, ...owners.map(o => o.metadata.uid), ...pods.map(p => p.metadata.uid))
    }
    live?.update(revisionPods)
    for (const uid of this.set.uids(collections.pods)) uids.push(uid)
    const watched = new Set(uids)
    for (const event of events.filter(e => watched.has(e.involvedObject?.uid))) {
      const count = event.series?.count ?? event.count ?? 1
      // Once per object, reason and message: the kubelet repeats an event by raising its count.
      const times = count > 1 ? ` (${count} times so far)` : ''
      progress.event(`event:${event.involvedObject?.uid}:${event.reason}:${event.message}`, `event: ${event.involvedObject?.kind?.toLowerCase()}/${event.involvedObject?.name}: ${event.reason}: ${event.message}${times}`)
      this.set.noteWarning(event.involvedObject?.uid, event.message, event.lastTimestamp ?? event.eventTime)
    }
    // The other objects of the set, each by its kind's rules (readiness/kinds.ts); after the events, which
    // a failed Canary's reason quotes.
    const setFailure = await this.set.assess(api, collections.pods, progress, verifyAtPause)
    if (this.set.superseded) return { status: this.set.superseded, outcome: { state: 'superseded', reason: this.set.superseded } }
    if (this.set.paused) return { status: this.set.paused, outcome: { state: 'paused', reason: this.set.paused } }
    const status = this.setHasOthers ? this.set.statusLine() : pending.length ? pending.join('; ') : 'all workloads rolled out'
    if (setFailure) errors.push(setFailure)
    if (errors.length) return { status, outcome: { state: 'failed', reason: errors.join('; '), platformRollback: await this.flaggerRollback() } }
    if (doomed.length) return { status, outcome: await this.failFast(api, doomed, progress) }
    if (pending.length === 0 && this.set.allReady()) {
      if (this.setHasOthers) progress.step(this.set.statusLine())
      progress.step(`rolled out: ${this.workloads.length === 0 ? this.label : ''}${this.workloads.map(w => `${w.kind.toLowerCase()}/${w.name}${w.revision !== undefined ? ` revision ${w.revision}` : ''}`).join(', ')}`)
      return { status, outcome: this.notes.length ? { state: 'succeeded', note: this.notes.join('; ') } : { state: 'succeeded' } }
    }
    progress.status(status)
    return { status }
  }

  /**
   * Follows our revision, as `kubectl rollout status --revision` does: a template that is not ours
   * means our rollout was superseded (never waited for or undone); a restart of ours is followed.
   */
  private ownership(tracked: TrackedWorkload, live: LiveWorkload, controllerRevisions: Iterable<RevisionRecord>, progress: Progress): { superseded?: string; waiting?: string } {
    if (tracked.template === undefined) return {}
    const name = `${tracked.kind.toLowerCase()}/${tracked.name}`
    const owner = whoseRollout({ template: tracked.template, revision: tracked.revision, changeCause: tracked.changeCause, applied: tracked.applied }, live, controllerRevisions)
    if (owner.verdict === 'superseded') {
      // The controller numbers a new revision within moments (Recreate: once the old pods are gone):
      // wait a little so the report can name it, but never long.
      const since = (this.foreignSince[name] ??= Date.now())
      if (owner.revision === undefined && Date.now() - since < NUMBERING_GRACE_MS) return { waiting: `${name}: its pod template was changed by someone else; waiting for its controller to number the new revision` }
      return { superseded: owner.reason }
    }
    delete this.foreignSince[name]
    if (owner.verdict === 'restarted') {
      if (owner.revision === undefined) return { waiting: `${name}: restarted (kubectl rollout restart) while we waited; waiting for its controller to number the new revision` }
      const note = `${name} was restarted (kubectl rollout restart) while we waited: revision ${owner.revision} has our pod template with fresh pods, so it was followed instead of revision ${tracked.revision}`
      progress.step(note)
      this.notes.push(note)
      // From now on the restarted template is ours: its pods are our change's pods.
      tracked.template = templateKey(live.spec?.template)
      tracked.revision = owner.revision
    }
    if (owner.verdict === 'edited') {
      // Reloader's annotation, a policy controller's label: every field we applied still has our value.
      const who = owner.by ? `field manager "${owner.by}"` : 'someone else'
      if (owner.revision === undefined) return { waiting: `${name}: its pod template was edited by ${who} in fields we did not set; waiting for its controller to number the new revision` }
      const note = `${name}'s pod template was edited by ${who} while we waited, in fields we did not set: revision ${owner.revision} keeps every field we applied, so it was followed instead of ${tracked.revision !== undefined ? `revision ${tracked.revision}` : 'our unnumbered one'}`
      progress.step(note)
      this.notes.push(note)
      tracked.template = templateKey(live.spec?.template)
      tracked.revision = owner.revision
    }
    return {}
  }

  /**
   * Flagger failed our spec and has rolled back by itself (its primary serves the previous spec): that is
   * the platform's rollback, followed as such; ours (`undo`) would make Flagger analyse the old spec anew.
   */
  private async flaggerRollback(): Promise<Rollout | undefined> {
    const primary = this.set.rolledBack
    // Flagger rolled back whatever rollback-on-failure says, as ECS's circuit breaker does: said and followed as such.
    if (!primary) return undefined
    const restore = await KubernetesRollout.settle(this.api, [primary], this.fieldManager, this.rules)
    restore.label = `${restore.label} (Flagger's primary, serving the previous spec)`
    return restore
  }

  /** Collects the evidence (reasons, log tails) before a rollback deletes the failing pods. */
  private async failFast(api: KubeApi, doomed: PodProblem[], progress: Progress): Promise<WaitOutcome> {
    const first = doomed[0]
    for (const [i, problem] of doomed.slice(0, 5).entries()) {
      // The first is the headline the engine reports; the others follow it as details, each once.
      if (i > 0) progress.reason(`${describeProblem(problem)} (this will not heal by itself)`)
      if (problem.crashed) await this.printLogTail(api, this.workloads[0].namespace, problem, progress, true)
    }
    const more = doomed.length > 1 ? ` (and ${doomed.length - 1} more)` : ''
    return { state: 'failed', reason: `${describeProblem(first)} (this will not heal by itself)${more}` }
  }

  private async printLogTail(api: KubeApi, namespace: string, problem: PodProblem, progress: Progress, asReason: boolean): Promise<void> {
    const read = await readLogTail(api, { namespace, pod: problem.pod, container: problem.container!, previous: true })
    if ('error' in read) {
      progress.event(`log-error:${problem.pod}`, `could not read the log of pod ${problem.pod}: ${read.error}`)
      return
    }
    if (read.lines.length === 0) return
    const text = logTailText(problem.pod, problem.container!, true, read.lines)
    if (asReason) progress.reason(text)
    else progress.event(`log:${problem.pod}:${problem.container}:${read.lines.join('\n')}`, text)
  }

  /**
   * `kubectl rollout undo` on each workload this rollout changed, back to the revision it ran before,
   * but only while the workload still runs our revision (the fields we applied hold, ownership.ts): a
   * fresh read proves it, and the patch carries that read's uid and resourceVersion, so a change that
   * lands between the read and the patch is refused by the API server. Someone else's revision is
   * never undone: `NotOurs`, superseded.
   */
  async undo(context: WaitContext): Promise<Rollout> {
    const { progress, deadline } = context
    const api = this.api.withSignal(deadline.signal)
    const plans: Array<{ tracked: TrackedWorkload; target: Revision; patch?: UndoPatch; owned: Owned<LivePrecondition>; name: string }> = []
    // Every workload is proved ours before any is patched: all or nothing.
    for (const tracked of this.workloads) {
      if (tracked.previousRevision === undefined || tracked.previousRevision === tracked.revision) continue
      const planned = await this.proveUndo(api, tracked)
      if (planned) plans.push({ tracked, ...planned })
    }
    if (plans.length === 0) {
      // A Rollout (argoproj.io) of ours rolls back by Argo's own abort.
      const aborted = await this.set.abortOurs(api, progress)
      if (aborted) return aborted
      throw new Error('nothing to roll back: no workload of this deploy had a previous revision')
    }
    // Read before the undo changes their target: Flagger's verdict on the restored spec is the rollback's.
    const canaries = await this.set.canariesForUndo(api)
    const answers: unknown[] = []
    for (const plan of plans) {
      let answer: unknown
      // A status update between our read and our patch (the controller's) changes the resourceVersion
      // too: read again and prove again, a few times, rather than give up a rollback that is ours to make.
      for (let attempt = 1; plan.patch; attempt++) {
        try {
          answer = await api.patch(plan.owned, { apiVersion: 'apps/v1', kind: plan.tracked.kind, metadata: { name: plan.tracked.name, namespace: plan.tracked.namespace } }, plan.patch.patch, plan.patch.contentType, { fieldManager: this.fieldManager })
          break
        } catch (error) {
          if (!(error instanceof StaleObject) || attempt >= UNDO_ATTEMPTS) staleAsNotOurs(plan.owned.action)(error)
          const again = await this.proveUndo(api, plan.tracked)
          if (!again) break
          Object.assign(plan, again)
        }
      }
      answers.push(answer)
    }
    const restore = await KubernetesRollout.settle(
      api,
      plans.map(({ tracked, target }, i) => madeBy({ ...tracked, template: undefined, changeCause: undefined, applied: undefined, previousRevision: tracked.revision, restored: target.number }, answers[i], this.fieldManager)),
      this.fieldManager,
      this.rules
    )
    restore.liveLogs = this.liveLogs
    if (canaries) restore.follow(canaries.set, restore.workloads.length + canaries.count)
    for (const [i, { name, target }] of plans.entries()) {
      const now = restore.workloads[i].revision
      const renumbered = now !== undefined && now !== target.number ? `, now revision ${now}` : ''
      progress.step(`${name}: rolled back to revision ${target.number}${renumbered}${target.changeCause ? ` (${target.changeCause})` : ''}`)
    }
    return restore
  }

  /**
   * A fresh read of one workload: the revision to go back to, the patch, and the proof that what runs
   * now is still ours (with its uid and resourceVersion). Undefined when the workload is gone.
   */
  private async proveUndo(api: KubeApi, tracked: TrackedWorkload): Promise<{ target: Revision; patch?: UndoPatch; owned: Owned<LivePrecondition>; name: string } | undefined> {
    const live = await readWorkload(api, tracked)
    if (!live) return undefined
    const name = objectName(live)
    const revisions = await revisionsOf(api, live)
    const owned = await ifOurs<LivePrecondition, Owned<LivePrecondition>>(`roll back ${name}`, async () => undoProof(tracked, live, currentRevisionNumber(live, revisions)), async proof => proof)
    const target = undoTarget(live, revisions, tracked.previousRevision)
    return { target, patch: undoPatch(live, target), owned, name }
  }
}

/** How many times a rollback patch refused for a stale resourceVersion is proved and tried again. */
const UNDO_ATTEMPTS = 3
