// Rollout status of one workload, with the rules of `kubectl rollout status`
// (kubectl/pkg/polymorphichelpers/rollout_status.go): one pure viewer per kind, chosen by kind.

export interface RolloutStatus {
  /** Where the rollout stands, in kubectl's words. */
  message: string
  done: boolean
  /** Set when the rollout can no longer finish by itself (ProgressDeadlineExceeded, wrong strategy). */
  error?: string
}

interface Condition {
  type?: string
  status?: string
  reason?: string
  message?: string
}

/** The fields of Deployment, StatefulSet and DaemonSet the viewers read. */
export interface WorkloadState {
  kind: string
  metadata: { name: string; generation?: number; annotations?: Record<string, string> }
  spec?: {
    replicas?: number
    updateStrategy?: { type?: string; rollingUpdate?: { partition?: number } }
  }
  status?: {
    observedGeneration?: number
    replicas?: number
    updatedReplicas?: number
    readyReplicas?: number
    availableReplicas?: number
    currentReplicas?: number
    currentRevision?: string
    updateRevision?: string
    conditions?: Condition[]
    desiredNumberScheduled?: number
    updatedNumberScheduled?: number
    numberAvailable?: number
  }
}

type Viewer = (workload: WorkloadState) => RolloutStatus

function deploymentStatus(d: WorkloadState): RolloutStatus {
  const name = d.metadata.name
  const status = d.status ?? {}
  if ((d.metadata.generation ?? 0) > (status.observedGeneration ?? 0)) {
    return { message: `Waiting for deployment "${name}" spec update to be observed...`, done: false }
  }
  const progressing = status.conditions?.find(c => c.type === 'Progressing')
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    return { message: `deployment "${name}" exceeded its progress deadline`, done: false, error: `deployment "${name}" exceeded its progress deadline` }
  }
  const updated = status.updatedReplicas ?? 0
  const replicas = d.spec?.replicas
  if (replicas !== undefined && updated < replicas) {
    return { message: `Waiting for deployment "${name}" rollout to finish: ${updated} out of ${replicas} new replicas have been updated...`, done: false }
  }
  if ((status.replicas ?? 0) > updated) {
    return { message: `Waiting for deployment "${name}" rollout to finish: ${(status.replicas ?? 0) - updated} old replicas are pending termination...`, done: false }
  }
  if ((status.availableReplicas ?? 0) < updated) {
    return { message: `Waiting for deployment "${name}" rollout to finish: ${status.availableReplicas ?? 0} of ${updated} updated replicas are available...`, done: false }
  }
  return { message: `deployment "${name}" successfully rolled out`, done: true }
}

function daemonSetStatus(ds: WorkloadState): RolloutStatus {
  const name = ds.metadata.name
  const status = ds.status ?? {}
  const strategy = ds.spec?.updateStrategy?.type ?? 'RollingUpdate'
  if (strategy !== 'RollingUpdate') return onlyRollingUpdate(strategy)
  if ((ds.metadata.generation ?? 0) > (status.observedGeneration ?? 0)) {
    return { message: `Waiting for daemon set spec update to be observed...`, done: false }
  }
  const desired = status.desiredNumberScheduled ?? 0
  const updated = status.updatedNumberScheduled ?? 0
  if (updated < desired) {
    return { message: `Waiting for daemon set "${name}" rollout to finish: ${updated} out of ${desired} new pods have been updated...`, done: false }
  }
  const available = status.numberAvailable ?? 0
  if (available < desired) {
    return { message: `Waiting for daemon set "${name}" rollout to finish: ${available} of ${desired} updated pods are available...`, done: false }
  }
  return { message: `daemon set "${name}" successfully rolled out`, done: true }
}

function statefulSetStatus(sts: WorkloadState): RolloutStatus {
  const status = sts.status ?? {}
  const strategy = sts.spec?.updateStrategy?.type ?? 'RollingUpdate'
  if (strategy !== 'RollingUpdate') return onlyRollingUpdate(strategy)
  if (!status.observedGeneration || (sts.metadata.generation ?? 0) > status.observedGeneration) {
    return { message: 'Waiting for statefulset spec update to be observed...', done: false }
  }
  const replicas = sts.spec?.replicas
  const ready = status.readyReplicas ?? 0
  if (replicas !== undefined && ready < replicas) {
    return { message: `Waiting for ${replicas - ready} pods to be ready...`, done: false }
  }
  const updated = status.updatedReplicas ?? 0
  const partition = sts.spec?.updateStrategy?.rollingUpdate?.partition ?? 0
  if (partition > 0) {
    if (replicas !== undefined && updated < replicas - partition) {
      return { message: `Waiting for partitioned roll out to finish: ${updated} out of ${replicas - partition} new pods have been updated...`, done: false }
    }
    return { message: `partitioned roll out complete: ${updated} new pods have been updated...`, done: true }
  }
  if (status.updateRevision !== status.currentRevision) {
    return { message: `waiting for statefulset rolling update to complete ${updated} pods at revision ${status.updateRevision}...`, done: false }
  }
  return { message: `statefulset rolling update complete ${status.currentReplicas ?? 0} pods at revision ${status.currentRevision}...`, done: true }
}

function onlyRollingUpdate(strategy: string): RolloutStatus {
  const error = `rollout status is only available for RollingUpdate strategy type (this one uses ${strategy})`
  return { message: error, done: false, error }
}

const VIEWERS: Record<string, Viewer> = {
  Deployment: deploymentStatus,
  StatefulSet: statefulSetStatus,
  DaemonSet: daemonSetStatus
}

/** The rollout status of a Deployment, StatefulSet or DaemonSet, exactly as kubectl would say it. */
export function rolloutStatus(workload: WorkloadState): RolloutStatus {
  const viewer = VIEWERS[workload.kind]
  if (!viewer) return { message: `no rollout status for kind ${workload.kind}`, done: false, error: `no rollout status for kind ${workload.kind}` }
  return viewer(workload)
}
