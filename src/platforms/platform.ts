import type { ImageChange } from '../render/containers.js'
import type { Deadline } from '../rollout/deadline.js'
import type { Progress } from '../rollout/progress.js'
import type { DeployRequest, PlatformName } from '../request.js'

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
  /** The rendered task definition or manifests, as a user would read them. */
  text: string
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
  apply(progress: Progress): Promise<Rollout>
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
  /** Puts the previous revision back; the returned rollout is waited for like any other. */
  undo(progress: Progress): Promise<Rollout>
  /** Housekeeping after a successful deploy (ECS keep-revisions); problems are warnings, never failures. */
  afterSuccess?(progress: Progress): Promise<void>
}

export interface WaitContext {
  deadline: Deadline
  progress: Progress
}

export type WaitOutcome =
  | { state: 'succeeded' }
  | {
      state: 'failed' | 'timed-out' | 'cancelled'
      /** One line: why it did not succeed. */
      reason: string
      /** The platform has already started putting the old revision back (ECS circuit breaker). */
      platformRollback?: Rollout
    }

export async function loadPlatform(name: PlatformName, request: DeployRequest): Promise<Platform> {
  // Loaded on demand so an ECS deploy never parses the Kubernetes client (ncc makes separate chunks).
  if (name === 'ecs') return (await import('./ecs/index.js')).createEcsPlatform(request)
  return (await import('./kubernetes/index.js')).createKubernetesPlatform(request)
}
