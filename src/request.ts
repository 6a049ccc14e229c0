import type { SourceLocation } from './errors.js'
import type { ImageVersion } from './render/image.js'

export type PlatformName = 'ecs' | 'kubernetes'
/**
 * `continue`: continue a paused ECS service deployment (a PAUSE lifecycle hook), then wait for it like
 * any deploy. `follow`: in a later job, follow the ECS service deployment an earlier run handed off
 * (`hand-off-at`) to its end, and give the verdict.
 */
export type Mode = 'deploy' | 'rollback' | 'render' | 'continue' | 'follow'

/**
 * The lifecycle stages of an ECS service deployment, in the order a deployment passes them (the API
 * reference's ServiceDeploymentLifecycleStage).
 */
export const LIFECYCLE_STAGES = [
  'RECONCILE_SERVICE', 'PRE_SCALE_UP', 'SCALE_UP', 'POST_SCALE_UP', 'TEST_TRAFFIC_SHIFT', 'POST_TEST_TRAFFIC_SHIFT',
  'PRODUCTION_TRAFFIC_SHIFT', 'POST_PRODUCTION_TRAFFIC_SHIFT', 'BAKE_TIME', 'CLEAN_UP'
] as const
export type LifecycleStage = (typeof LIFECYCLE_STAGES)[number]

/** Everything a run needs, parsed and validated from the action inputs before any network call. */
export interface DeployRequest {
  /** ECS service name, or the name of the Kubernetes Deployment, StatefulSet or DaemonSet. */
  service: string
  /**
   * Every service named in `service` (one per line or comma-separated), in order; one for Kubernetes and
   * for every mode but `deploy`. With several, `service` is them joined by commas (for messages only).
   */
  services: string[]
  mode: Mode
  /** Undefined until inferred from the template (containerDefinitions vs apiVersion/kind). */
  platform?: PlatformName
  /** The new tag or digest, from `image-tag`; applied to the repository already in the template. */
  imageVersion?: ImageVersion
  /** The full new image reference, from `image`; wins over `imageVersion`. */
  image?: string
  /** Containers that get the new image; empty means: the one named like the service, else the only one. */
  containers: string[]
  /** Template file, folder or glob; undefined means the live task definition or workload is the template. */
  template?: string
  /** `${KEY}` values from the `vars` input (built-ins are added when rendering). */
  vars: Record<string, string>
  dryRun: boolean
  wait: boolean
  timeoutMs: number
  rollbackOnFailure: boolean
  /** For `mode: rollback`: ARN, family:revision or revision number; undefined means the previous one. */
  toRevision?: string
  /** Where `mode: render` and dry runs write the rendered result. */
  outputDir: string
  /** A one-off command run from the new revision before the service changes (a migration). */
  preDeploy?: PreDeployCommand
  /** Checks after a successful rollout; a failed check is a failed rollout (rolled back). */
  verify?: VerifySettings
  github: GitHubContext
  ecs: EcsSettings
  kubernetes: KubernetesSettings
}

export interface GitHubContext {
  /** GitHub environment to record a Deployment in; undefined means no Deployment is recorded. */
  environment?: string
  environmentUrl?: string
  token?: string
  /** `pr-comment`: a dry run on a pull request writes its plan as one comment there, updated by later runs. */
  prComment: boolean
  /** GITHUB_EVENT_NAME (`pull_request`, `push` ...). */
  eventName: string
  /** GITHUB_EVENT_PATH: the event's payload (the pull request's number when GITHUB_REF does not hold it). */
  eventPath: string
  sha: string
  ref: string
  refName: string
  repository: string
  runId: string
  runNumber: string
  actor: string
  serverUrl: string
  apiUrl: string
  /** Link to this workflow run, recorded on what we deploy so a rollback can name it. */
  runUrl: string
}

/** A one-off task (ECS) or Job (Kubernetes) from the new revision; it must exit 0 before the rollout starts. */
export interface PreDeployCommand {
  /** The container's command: argv as given (a YAML/JSON list), or `['sh', '-c', text]` for a string. */
  command: string[]
  /** The container that runs it; undefined means the target container (the one that gets the new image). */
  container?: string
  /** Its own limit, from `pre-deploy-timeout` (default 10m). */
  timeoutMs: number
}

export interface VerifySettings {
  /** GET this URL until it answers with an expected status (and body text), within `timeoutMs`. */
  url?: string
  /** Accepted HTTP statuses; default 200-299. */
  statuses: Array<[number, number]>
  /** Text the body must contain. */
  text?: string
  /** Run on the runner through @actions/exec (`sh -c`); exit 0 passes. */
  command?: string
  /** From `verify-timeout` (default 2m), for the URL and the command together. */
  timeoutMs: number
}

/** What to do when an ECS service deployment reaches a PAUSE lifecycle hook. */
export type OnPause = 'wait' | 'exit' | 'continue' | 'verify'

export interface EcsSettings {
  cluster: string
  /** `on-pause` (default `wait`). */
  onPause: OnPause
  /**
   * For `mode: continue` and `mode: rollback`: the service deployment to act on; default the latest in
   * flight. For `mode: follow`: the one an earlier run handed off; default the service's current one.
   */
  serviceDeploymentArn?: string
  /**
   * `hand-off-at`: stop waiting once the service deployment reaches this stage (or a later one), with
   * status `in-progress`; a later job follows it with `mode: follow`.
   */
  handOffAt?: LifecycleStage
  /** CodeDeploy-controlled services: an AppSpec file whose `Hooks` are added to the one built from the service. */
  codedeployAppspec?: string
  desiredCount?: number
  forceNewDeployment: boolean
  /** Keep this many ACTIVE revisions of the family after a successful deploy; undefined keeps all. */
  keepRevisions?: number
  /**
   * `update-scheduled-tasks`: after a successful (verified) deploy, and after `mode: rollback`, move the
   * EventBridge rules and Scheduler schedules that run the family in this cluster to the new revision.
   */
  updateScheduledTasks: boolean
  /** `follow-logs` (the same input as Kubernetes'): the new tasks' container logs shown while waiting. */
  followLogs?: 'one' | 'all' | 'off'
}

export interface KubernetesSettings {
  namespace?: string
  /** Kubeconfig content (not a path); undefined means the standard chain. */
  kubeconfig?: string
  /**
   * An EKS cluster by name: endpoint and CA from DescribeCluster, a token made from the job's AWS
   * credentials and renewed before it expires; no kubeconfig then.
   */
  eksCluster?: string
  context?: string
  fieldManager: string
  forceConflicts: boolean
  /** Helm charts: values files given to `helm template` (-f), in order. */
  helmValues: string[]
  /** Helm charts: `--set` values, KEY=value. */
  helmSet: Record<string, string>
  /** Delete what an earlier deploy of this service applied and the set no longer holds (ApplySet). */
  prune: boolean
  /**
   * Objects of the set that another ApplySet holds and that this one may take over: `all`, or their
   * `Kind/name`. Others are refused before anything changes.
   */
  adopt?: 'all' | string[]
  /** PersistentVolumeClaims that prune may delete once they leave the set; others are never pruned. */
  pruneVolumeClaims?: string[]
  /** Wait for a LoadBalancer Service's ingress address (false on clusters without a load-balancer controller). */
  waitForLoadBalancers: boolean
  /** `health-checks`: custom health rules per kind (Flux's healthCheckExprs), not compiled yet. */
  healthChecks?: HealthCheckRule[]
  /** `follow-logs`: the new pods' logs shown while waiting: one pod (`one`), every one (`all`) or none (`off`). */
  followLogs?: 'one' | 'all' | 'off'
}

/** One kind's health rule from the `health-checks` file: CEL expressions with where each stands. */
export interface HealthCheckRule {
  apiVersion: string
  kind: string
  expressions: Partial<Record<'current' | 'inProgress' | 'failed', { text: string; location: SourceLocation }>>
}
