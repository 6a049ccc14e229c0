import type { ImageChange } from '../render/containers.js'
import type { Deadline } from './deadline.js'
import type { Progress } from './progress.js'
import type { PlatformName } from '../request.js'

/**
 * One deployment target. Both implementations (ECS, Kubernetes) are driven by the same engine:
 * prepare (render + validate, change nothing) -> apply -> wait -> on failure undo -> wait.
 */
export interface Platform {
  readonly name: PlatformName
  /** Renders and validates a deploy against the live system; changes nothing. */
  prepareDeploy(): Promise<Plan>
  /** Finds the revision `mode: rollback` returns to (`to-revision` or the previous one); changes nothing. */
  prepareRollback(): Promise<Plan>
  /** Renders only, reading the live system only when there is no template. */
  render(): Promise<Rendered>
}

export interface Rendered {
  /** The rendered task definition or manifests, whole: written to the rendered file only. */
  text: string
  /**
   * The same with every secret value (ECS `environment` values, Kubernetes Secret `data`/`stringData`)
   * replaced by a short hash: the only form that may reach the log, the summary or a Deployment.
   */
  redactedText: string
  /** File name for the rendered result, e.g. `web-task-definition.json`. */
  fileName: string
  images: ImageChange[]
}

/** A validated change, ready to apply. */
export interface Plan extends Rendered {
  /** What runs now (task-definition ARN, workload revision), before the change. */
  previousRevision?: string
  /** One line: what the change is ("web: task definition web:7 -> new revision, image web:1.2.3"). */
  description: string
  /** What would change, as a readable diff, checked by the server without changing anything. */
  dryRun(): Promise<string>
  /**
   * What the dry run's verdict rests on, for its final line: a server-side dry run is a stronger word
   * than checks against the live service (ECS has no dry run of RegisterTaskDefinition or UpdateService).
   */
  checkedBy: string
  /** Makes the change. `signal` is the run's cancellation: it aborts calls in flight. */
  apply(progress: Progress, signal: AbortSignal): Promise<Rollout>
}

/** A change that was applied and can be followed. */
export interface Rollout {
  /** The revision now being rolled out (task-definition ARN, workload revision number). */
  revision: string
  /** A short name for messages (`web:7`); the revision when not set. */
  label?: string
  previousRevision?: string
  /** Platform-specific outputs (deployment-id, task-definition-arn ...). */
  outputs: Record<string, string>
  wait(context: WaitContext): Promise<WaitOutcome>
  /**
   * Puts the previous revision back; the returned rollout is waited for like any other. The context's
   * deadline is the rollback's own (a fresh `timeout`); every call made for it honours its signal.
   */
  undo(context: WaitContext): Promise<Rollout>
  /** Housekeeping after a successful deploy (ECS keep-revisions); problems are warnings, never failures. */
  afterSuccess?(progress: Progress): Promise<void>
}

export interface WaitContext {
  /** Fires at the timeout or on cancellation: every call made while waiting passes its signal. */
  deadline: Deadline
  progress: Progress
  /**
   * The run's cancellation alone. Calls made after the deadline passed (the stopped tasks of a rollout
   * that timed out) combine it with a short timeout of their own.
   */
  cancel: AbortSignal
}

export type WaitOutcome =
  | {
      state: 'succeeded'
      /** Said with the success when it came about unusually (another run redeployed our revision). */
      note?: string
    }
  | {
      /**
       * Another change replaced ours while we waited (another UpdateService, apply or rollout): the step
       * fails, and nothing is rolled back, since what runs now is someone else's.
       */
      state: 'superseded'
      /** One line: what runs now instead of our revision, and who deployed it where that is known. */
      reason: string
    }
  | {
      state: 'failed' | 'timed-out' | 'cancelled'
      /** One line: why it did not succeed. */
      reason: string
      /** The platform has already started putting the old revision back (ECS circuit breaker). */
      platformRollback?: Rollout
    }
