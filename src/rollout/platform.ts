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
  /**
   * `mode: continue`: finds the paused deployment to continue (ECS service deployments); changes
   * nothing. A platform without pauses leaves it out and the engine says the mode is not for it.
   */
  prepareContinue?(): Promise<Plan>
  /**
   * `mode: follow`: finds the deployment an earlier run handed off (`hand-off-at`), to follow it to its
   * end; changes nothing. A platform that never hands off leaves it out.
   */
  prepareFollow?(): Promise<Plan>
}

/** One object the run applied or pruned, with its state, for the summary's object table. */
export interface ObjectState {
  /** `Deployment/web`, `ConfigMap/web-config`, `service/web`. */
  ref: string
  /** `ready`, `not ready: waiting for ingress address`, `failed: ...`, `pruned`, `would be pruned`. */
  state: string
  /** Several ECS services in one step: this service's own result, one entry of the `services` output. */
  service?: ServiceResult
}

/** One service of several deployed in one step (ECS), as the `services` output lists it (JSON). */
export interface ServiceResult {
  service: string
  /** `succeeded`, `failed`, `timed-out`, `cancelled`, `superseded`, `paused`, `rolled-back`, `rollback-failed`, `in-progress`. */
  status: string
  revision: string
  previousRevision: string
  deploymentId: string
  serviceDeploymentArn: string
  /** Why it did not succeed, one line; absent when it did. */
  reason?: string
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
  /**
   * The URL the service answers at, where the platform gives one (ECS Express): the `endpoint-url`
   * output, the Deployment's environment URL without `environment-url`, the base of a `verify-url` path.
   */
  endpointUrl?: string
  /** One line: what the change is ("web: task definition web:7 -> new revision, image web:1.2.3"). */
  description: string
  /** What would change, as a readable diff, checked by the server without changing anything. */
  dryRun(): Promise<string>
  /**
   * After `dryRun`: each object with what the change would do to it (`would be created`, `would change`,
   * `unchanged`, `would be pruned`), for the summary's object table. Absent where there is no set.
   */
  dryRunObjects?(): ObjectState[]
  /**
   * What the dry run's verdict rests on, for its final line: a server-side dry run is a stronger word
   * than checks against the live service (ECS has no dry run of RegisterTaskDefinition or UpdateService).
   */
  checkedBy: string
  /**
   * A step run before the change, from the new revision (an ECS one-off task, a Kubernetes Job): the
   * `pre-deploy-command`, or a Job of the set marked as pre-deploy. It must succeed for `apply` to run;
   * the service itself is untouched whatever it does. Absent when there is nothing to run.
   */
  before?: BeforeStep
  /**
   * `mode: follow`: the deployment (ECS service-deployment ARN) an earlier run handed off and this plan
   * follows; that run's GitHub Deployment is finished by this one.
   */
  follows?: string
  /** Makes the change. `signal` is the run's cancellation: it aborts calls in flight. */
  apply(progress: Progress, signal: AbortSignal): Promise<Rollout>
}

export interface BeforeStep {
  /** One line for the log and dry run: what runs, from what, where. */
  description: string
  /** Runs it to the end under the context's deadline (`pre-deploy-timeout`); streams its log as it goes. */
  run(context: WaitContext): Promise<BeforeOutcome>
}

export interface BeforeOutcome {
  state: 'succeeded' | 'failed' | 'timed-out' | 'cancelled'
  /** Why it did not succeed: the exit code and the log's last lines, or the stop reason when it never ran. */
  reason?: string
  /** `pre-deploy-task` (task ARN or Job name) and `pre-deploy-exit-code`, as known. */
  outputs: Record<string, string>
}

/** A change that was applied and can be followed. */
export interface Rollout {
  /** The revision now being rolled out (task-definition ARN, workload revision number). */
  revision: string
  /** A short name for messages (`web:7`); the revision when not set. */
  label?: string
  previousRevision?: string
  /**
   * Platform-specific outputs (deployment-id, task-definition-arn, service-deployment-arn ...). The
   * rollout may add to it while it waits (a service deployment found late, a hook id at a pause).
   */
  outputs: Record<string, string>
  /** Every object the rollout waited on, with its last state (Kubernetes sets); read after the wait. */
  objects?(): ObjectState[]
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
  /**
   * Set with `on-pause: verify`: the engine's verification (`verify-url`, `verify-command`), run while
   * the deployment waits at a PAUSE hook (against its test listener); the platform then continues the
   * deployment when it passes, or rolls it back when it fails. Called only where test or production
   * traffic reaches the new revision (a check earlier would test the old one): once called, the engine
   * counts the new revision as checked and does not verify again after the rollout.
   */
  verifyAtPause?(): Promise<{ ok: true } | { ok: false; reason: string }>
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
      /**
       * The deployment stopped at a PAUSE lifecycle hook and `on-pause: exit` says to stop waiting: the
       * step succeeds with status `paused`; a later step tests, then continues or rolls back.
       */
      state: 'paused'
      /** One line: where it paused (stage, hook) and how to continue it. */
      reason: string
    }
  | {
      /**
       * The deployment reached the stage `hand-off-at` names (a long bake, a PAUSE hook that may hold for
       * days): the step succeeds with status `in-progress`, and a later job (`mode: follow`) follows the
       * same deployment to its end and gives the verdict.
       */
      state: 'handed-off'
      /** One line: where it stands, and what the later job needs to follow it. */
      reason: string
    }
  | {
      state: 'failed' | 'timed-out' | 'cancelled'
      /** One line: why it did not succeed. */
      reason: string
      /** The platform has already started putting the old revision back (ECS circuit breaker). */
      platformRollback?: Rollout
    }
