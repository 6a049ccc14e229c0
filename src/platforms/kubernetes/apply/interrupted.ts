// An apply that failed part-way (a conflict, an API outage, a webhook or a quota that refuses the real
// apply after the dry run passed): objects 1-2 of 5 are applied, and a workload among them is already
// rolling out. Nobody may leave it so, unwatched: what was applied is named, and its workloads are
// rolled back (rollback-on-failure, through the ownership-checked undo) or followed to the end.
import { errorMessage } from '../../../errors.js'
import type { ObjectState, Rollout, WaitContext, WaitOutcome } from '../../../rollout/platform.js'
import type { KubernetesRollout } from '../workloads/rollout.js'

/** What the apply got through, and where it stopped. */
export interface Interruption {
  /** `Deployment/web`, ... in the order they were applied. */
  applied: string[]
  /** The object whose apply failed, and the ones after it that were never sent. */
  failed: string
  notApplied: string[]
  total: number
  error: unknown
}

/** One line: which object failed, why, and what was and was not applied. */
export function describeInterruption(stop: Interruption): string {
  return `${stoppedAt(stop)}: ${errorMessage(stop.error)}; applied before it: ${stop.applied.join(', ') || 'nothing'}${notApplied(stop)}`
}

/** `the apply stopped at ConfigMap/b (object 3 of 5)`. */
export function stoppedAt(stop: Interruption): string {
  return `the apply stopped at ${stop.failed} (object ${stop.applied.length + 1} of ${stop.total})`
}

export function notApplied(stop: Interruption): string {
  return stop.notApplied.length ? `; not applied: ${stop.notApplied.join(', ')}` : ''
}

/**
 * The rollout of the workloads an interrupted apply changed. Its wait fails (the set is not what the
 * template says), at once when rollback-on-failure will put the previous revisions back, else after
 * following the workloads to the end, so that the step reports how they came out. The undo is the
 * workloads' own (`rollout undo`, only while they run our revision). Nothing is pruned.
 */
export class InterruptedRollout implements Rollout {
  readonly revision: string
  readonly label: string
  readonly previousRevision?: string
  readonly outputs: Record<string, string>
  private readonly rollout: KubernetesRollout
  private readonly stop: Interruption
  private readonly rollBack: boolean

  constructor(rollout: KubernetesRollout, stop: Interruption, rollbackOnFailure: boolean) {
    this.rollout = rollout
    this.stop = stop
    this.revision = rollout.revision
    this.label = rollout.label
    this.previousRevision = rollout.previousRevision
    this.outputs = rollout.outputs
    // A workload made by this apply (a first deploy) has no revision to go back to: it is followed.
    this.rollBack = rollbackOnFailure && rollout.workloads.some(w => w.previousRevision !== undefined && w.previousRevision !== w.revision)
  }

  objects(): ObjectState[] {
    return this.rollout.objects()
  }

  async wait(context: WaitContext): Promise<WaitOutcome> {
    const reason = describeInterruption(this.stop)
    if (this.rollBack) return { state: 'failed', reason }
    context.progress.step(`${reason}; following what was applied, since it rolls out all the same`)
    const outcome = await this.rollout.wait(context)
    if (outcome.state === 'succeeded') return { state: 'failed', reason: `${reason}; the workloads applied before it rolled out (${this.label}), but the set is incomplete` }
    if (outcome.state === 'failed' || outcome.state === 'timed-out') return { ...outcome, reason: `${reason}; then ${outcome.reason}` }
    return outcome
  }

  undo(context: WaitContext): Promise<Rollout> {
    return this.rollout.undo(context)
  }
  // No afterSuccess: pruning after a set that was never whole would delete what the template still has.
}
