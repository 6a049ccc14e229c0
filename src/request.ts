import type { ImageVersion } from './render/image.js'

export type PlatformName = 'ecs' | 'kubernetes'
export type Mode = 'deploy' | 'rollback' | 'render'

/** Everything a run needs, parsed and validated from the action inputs before any network call. */
export interface DeployRequest {
  /** ECS service name, or the name of the Kubernetes Deployment, StatefulSet or DaemonSet. */
  service: string
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
  github: GitHubContext
  ecs: EcsSettings
  kubernetes: KubernetesSettings
}

export interface GitHubContext {
  /** GitHub environment to record a Deployment in; undefined means no Deployment is recorded. */
  environment?: string
  environmentUrl?: string
  token?: string
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

export interface EcsSettings {
  cluster: string
  desiredCount?: number
  forceNewDeployment: boolean
  /** Keep this many ACTIVE revisions of the family after a successful deploy; undefined keeps all. */
  keepRevisions?: number
}

export interface KubernetesSettings {
  namespace?: string
  /** Kubeconfig content (not a path); undefined means the standard chain. */
  kubeconfig?: string
  context?: string
  fieldManager: string
  forceConflicts: boolean
}
