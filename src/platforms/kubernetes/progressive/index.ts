// The progressive-delivery controllers a set may hold (Argo Rollouts, Flagger), as the set's wait meets
// them: whose revision each follows (ours, or another deploy's: superseded), what Flagger said since our
// apply, and what `on-pause` does at a pause. The kinds' verdicts themselves are in argo-rollout.ts and
// flagger-canary.ts; the calls that change a Rollout (promote, abort) in argo-actions.ts.

import { NotOurs } from '../../../rollout/ownership.js'
import type { Progress } from '../../../rollout/progress.js'
import type { Rollout } from '../../../rollout/platform.js'
import { StaleObject, type KubeApi } from '../api/client.js'
import { templateKey } from '../workloads/ownership.js'
import type { LiveObject, Readiness, ReadinessOptions } from '../readiness/types.js'
import { abortRollout, promoteRollout } from './argo-actions.js'
import { indefinitePause, oursOrSuperseded } from './argo-rollout.js'
import { CanaryEvents, canaryGate, flaggerRolledBack, markUnchanged, noteAnalysis } from './flagger-canary.js'

/** An object of the set as the wait names it. */
export interface FollowedObject {
  apiVersion: string
  kind: string
  name: string
  namespace?: string
}

function refOf(object: { kind: string; name: string }): string {
  return `${object.kind}/${object.name}`
}

export class ProgressiveDelivery {
  private readonly options: ReadinessOptions
  /** Our pod template of each Argo Rollout, from our apply's answer: the revision its verdict must be about. */
  private readonly ourTemplates = new Map<string, string>()
  /** The pauses (Rollout and step) this run promoted: each once. */
  private readonly promoted = new Set<string>()
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

  /** The server's answers to our apply: an Argo Rollout's pod template as we left it is "our revision". */
  applied(answers: Map<string, { apiVersion?: string; kind?: string; spec?: { template?: unknown } }>): void {
    for (const [ref, answer] of answers) {
      if (answer.apiVersion?.startsWith('argoproj.io/') && answer.kind === 'Rollout' && answer.spec?.template) this.ourTemplates.set(ref, templateKey(answer.spec.template))
    }
    // A Canary's target left as it was (a re-run of the same commit): Flagger's word on it is about ours.
    markUnchanged(this.options.canaries, answers)
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

  /** The kind's verdict with what the controller said: a failed Canary's failed checks, and Flagger's own rollback. */
  explain(object: FollowedObject, live: LiveObject, state: Readiness): Readiness {
    if (object.kind !== 'Canary') return state
    this.rolledBack ??= flaggerRolledBack(live, state, object.namespace)
    return this.events.explain(live, state, this.options.canaries?.get(object.name))
  }

  /** A Warning event of a followed object (the rollout's one watch of events hands them over). */
  noteWarning(uid: string | undefined, message: string | undefined, at: string | undefined): void {
    this.events.note(uid, message, at)
  }

  /** An Argo Rollout of ours at a pause without a duration: `on-pause` exit stops the wait, continue promotes it once. */
  async atPause(api: KubeApi, object: FollowedObject, live: LiveObject, progress: Progress): Promise<void> {
    const { onPause, fieldManager } = this.options
    const ours = this.ourTemplates.get(refOf(object))
    const pause = ours !== undefined && (onPause === 'exit' || onPause === 'continue') ? indefinitePause(live) : undefined
    if (!pause || ours === undefined) return
    if (onPause === 'exit') {
      this.paused = `${refOf(object)} ${pause}`
      return
    }
    const at = `${refOf(object)}@${String((live.status as { currentStepIndex?: number } | undefined)?.currentStepIndex)}`
    if (this.promoted.has(at) || !fieldManager) return
    this.promoted.add(at)
    try {
      await promoteRollout(api, object, ours, fieldManager, progress)
    } catch (error) {
      // Superseded is found by the next look at the watch; any other refusal is said and waited out.
      if (error instanceof StaleObject) this.promoted.delete(at)
      else if (!(error instanceof NotOurs)) throw error
      progress.event(`not-promoted:${at}`, error.message)
    }
  }

  /** Rollback of the Argo Rollouts of ours among `objects`: Argo's abort; undefined when there are none. */
  async abortOurs(api: KubeApi, objects: FollowedObject[], progress: Progress): Promise<Rollout | undefined> {
    const ours = objects.filter(o => this.ourTemplates.has(refOf(o)))
    if (!ours.length || !this.options.fieldManager) return undefined
    // One Rollout per service is the case deploy-service knows: the first is the one it rolls back.
    return abortRollout(api, ours[0], this.ourTemplates.get(refOf(ours[0]))!, this.options.fieldManager, progress)
  }
}
