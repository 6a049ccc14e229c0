// The progressive-delivery controllers a set may hold (Argo Rollouts, Flagger), as the set's wait meets
// them: whose revision each follows (ours, or another deploy's: superseded), what Flagger said since our
// apply, and what `on-pause` does at a pause. The kinds' verdicts themselves are in argo-rollout.ts and
// flagger-canary.ts; the calls that change a Rollout (promote, abort) in argo-actions.ts.

import { NotOurs } from '../../../rollout/ownership.js'
import type { Progress } from '../../../rollout/progress.js'
import type { Rollout, WaitContext } from '../../../rollout/platform.js'
import { StaleObject, type KubeApi } from '../api/client.js'
import { templateKey } from '../workloads/ownership.js'
import type { LiveObject, Readiness, ReadinessOptions } from '../readiness/types.js'
import { abortRollouts, promoteRollout } from './argo-actions.js'
import { ArgoFollower } from './argo-analysis.js'
import { indefinitePause, oursOrSuperseded } from './argo-rollout.js'
import { CanaryEvents, canaryGate, flaggerRolledBack, markUnchanged, noteAnalysis } from './flagger-canary.js'

/** An object of the set as the wait names it. */
export interface FollowedObject {
  apiVersion: string
  kind: string
  name: string
  namespace?: string
}

/** What our apply's answer says of an object, as far as this module reads it. */
export interface AppliedAnswer {
  apiVersion?: string
  kind?: string
  metadata?: { generation?: number }
  spec?: { template?: unknown; workloadRef?: { kind?: string; name?: string } }
}

function refOf(object: { kind: string; name: string }): string {
  return `${object.kind}/${object.name}`
}

export class ProgressiveDelivery {
  private readonly options: ReadinessOptions
  /** Our pod template of each Argo Rollout, from our apply's answer: the revision its verdict must be about. */
  private readonly ourTemplates = new Map<string, string>()
  /** A Rollout with a workloadRef: the generation our apply gave the Deployment it reads its template from. */
  private readonly workloadGenerations = new Map<string, { workload: string; generation: number }>()
  /** The pauses (Rollout and step) this run promoted: each once. */
  private readonly promoted = new Set<string>()
  /** The pauses where `on-pause: verify` failed, with why: the wait fails there (and stays failed). */
  private readonly verified = new Map<string, string>()
  /** What the wait says about the Rollouts of ours: steps, analysis runs, where and why one failed. */
  private readonly argo = new ArgoFollower()
  /** Warning events of the followed objects: a failed Flagger Canary's reason names its failed checks. */
  private readonly events = new CanaryEvents()
  /** Set when another revision took over one of them: the rollout reports `superseded`, never a failure. */
  superseded?: string
  /** Set when an Argo Rollout of ours reached an indefinite pause (or a Canary a gate) and `on-pause` is exit. */
  paused?: string
  /** Set when Flagger failed our spec: it rolled back already, and the workload named here serves the previous spec. */
  rolledBack?: { kind: string; name: string; namespace: string }

  constructor(options: ReadinessOptions) {
    this.options = options
  }

  /**
   * The server's answers to our apply: an Argo Rollout's pod template as we left it is "our revision";
   * for a Rollout with a workloadRef, the referenced Deployment's template and generation are.
   */
  applied(answers: Map<string, AppliedAnswer>): void {
    for (const [ref, answer] of answers) {
      if (!answer.apiVersion?.startsWith('argoproj.io/') || answer.kind !== 'Rollout') continue
      if (answer.spec?.template) this.ourTemplates.set(ref, templateKey(answer.spec.template))
      const workloadRef = answer.spec?.workloadRef
      const workload = workloadRef ? answers.get(`${workloadRef.kind}/${workloadRef.name}`) : undefined
      // Its verdicts, pauses and abort are about our Deployment's template: the one our apply left there.
      if (workload?.spec?.template) this.ourTemplates.set(ref, templateKey(workload.spec.template))
      if (workload?.metadata?.generation !== undefined) this.workloadGenerations.set(ref, { workload: `${workloadRef?.kind}/${workloadRef?.name}`, generation: workload.metadata.generation })
    }
    // A Canary's target left as it was (a re-run of the same commit): Flagger's word on it is about ours.
    markUnchanged(this.options.canaries, answers)
  }

  /** An Argo Rollout of ours: progress per step and analysis; a failure names its step and its failed analysis. */
  async followArgo(api: KubeApi, object: FollowedObject, live: LiveObject, state: Readiness, progress: Progress): Promise<Readiness> {
    const ref = refOf(object)
    if (!this.ourTemplates.has(ref)) return state
    return this.argo.follow(api, { ref, name: object.name, namespace: object.namespace }, live, state, progress)
  }

  /** Another revision in one of ours: why (and `superseded` is set), else undefined. */
  supersededIn(object: FollowedObject, live: LiveObject): string | undefined {
    const ours = this.ourTemplates.get(refOf(object))
    const foreign = ours === undefined ? undefined : oursOrSuperseded(live, ours, templateKey)
    if (foreign) this.superseded = `${refOf(object)} ${foreign}`
    return foreign
  }

  /**
   * Called with every observation, before the kind's verdict: Flagger seen analysing our spec; a Canary of
   * ours held at one of Flagger's gates ends the wait with `on-pause: exit` (only its webhook opens it).
   */
  observe(object: FollowedObject, live: LiveObject): void {
    if (object.kind !== 'Canary') return
    const baseline = this.options.canaries?.get(object.name)
    noteAnalysis(live, baseline)
    const gate = this.options.onPause === 'exit' ? canaryGate(live, baseline) : undefined
    if (gate) this.paused = `${refOf(object)} ${gate}`
  }

  /**
   * The kind's verdict with what the controller said: a Rollout's reading of our workloadRef, a failed
   * Canary's failed checks, and Flagger's own rollback.
   */
  explain(object: FollowedObject, live: LiveObject, state: Readiness): Readiness {
    if (object.kind === 'Rollout') return this.workloadObserved(object, live) ?? state
    if (object.kind !== 'Canary') return state
    this.rolledBack ??= flaggerRolledBack(live, state, object.namespace)
    return this.events.explain(live, state, this.options.canaries?.get(object.name))
  }

  /**
   * A Rollout with a workloadRef judges the Deployment's template as its controller last resolved it:
   * its verdict is about our change only once status.workloadObservedGeneration reached the generation
   * our apply gave that Deployment (Argo's own isWorkloadGenerationObserved compares it with the
   * annotation its informer writes, which can lag our apply). Until then, waiting.
   */
  private workloadObserved(object: FollowedObject, live: LiveObject): Readiness | undefined {
    const ours = this.workloadGenerations.get(refOf(object))
    if (!ours) return undefined
    const observed = Number((live.status as { workloadObservedGeneration?: string } | undefined)?.workloadObservedGeneration)
    if (Number.isInteger(observed) && observed >= ours.generation) return undefined
    return { state: 'waiting', message: `Progressing: its controller has not read our ${ours.workload} (generation ${ours.generation}) yet` }
  }

  /** A Warning event of a followed object (the rollout's one watch of events hands them over). */
  noteWarning(uid: string | undefined, message: string | undefined, at: string | undefined): void {
    this.events.note(uid, message, at)
  }

  /**
   * An Argo Rollout of ours at a pause without a duration: `on-pause` exit stops the wait, continue promotes
   * it once, verify (with the engine's `verify`) checks it there, then promotes it, or returns the failure
   * (the rollback then aborts it). Each pause (Rollout and step) is acted on once.
   */
  async atPause(api: KubeApi, object: FollowedObject, live: LiveObject, progress: Progress, verify?: WaitContext['verifyAtPause']): Promise<string | undefined> {
    const { onPause, fieldManager } = this.options
    const ours = this.ourTemplates.get(refOf(object))
    const acts = onPause === 'exit' || onPause === 'continue' || (onPause === 'verify' && verify !== undefined)
    const pause = ours !== undefined && acts ? indefinitePause(live) : undefined
    if (!pause || ours === undefined) return undefined
    if (onPause === 'exit') {
      this.paused = `${refOf(object)} ${pause}`
      return undefined
    }
    const at = `${refOf(object)}@${String((live.status as { currentStepIndex?: number } | undefined)?.currentStepIndex)}`
    if (this.verified.has(at)) return this.verified.get(at)
    if (this.promoted.has(at) || !fieldManager) return undefined
    if (onPause === 'verify' && verify) {
      // The canary serves its share of the traffic here: what the check sees is our revision.
      progress.step(`${refOf(object)} ${pause.split(':')[0]}: verifying before it goes on (on-pause: verify)`)
      const check = await verify()
      if (!check.ok) {
        const failed = `verification at the pause failed: ${check.reason}`
        this.verified.set(at, failed)
        return failed
      }
      progress.step('verification at the pause passed: promoting it')
    }
    this.promoted.add(at)
    try {
      await promoteRollout(api, object, ours, fieldManager, progress, `on-pause: ${onPause}`)
    } catch (error) {
      // Superseded is found by the next look at the watch; any other refusal is said and waited out.
      if (error instanceof StaleObject) this.promoted.delete(at)
      else if (!(error instanceof NotOurs)) throw error
      progress.event(`not-promoted:${at}`, error.message)
    }
    return undefined
  }

  /** Rollback of the Argo Rollouts of ours among `objects`: Argo's abort; undefined when there are none. */
  async abortOurs(api: KubeApi, objects: FollowedObject[], progress: Progress): Promise<Rollout | undefined> {
    const ours = objects.filter(o => this.ourTemplates.has(refOf(o)))
    if (!ours.length || !this.options.fieldManager) return undefined
    return abortRollouts(api, ours.map(o => ({ rollout: o, ourTemplate: this.ourTemplates.get(refOf(o))! })), this.options.fieldManager, progress)
  }
}
