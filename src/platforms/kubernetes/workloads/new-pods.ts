// Which pods belong to the revision being rolled out, read from the watched collections: the new
// ReplicaSet's pod-template-hash for a Deployment, the update revision for a StatefulSet, the newest
// ControllerRevision for a DaemonSet.
import { REVISION_ANNOTATION } from './history.js'
import type { PodState } from './pods.js'

export interface Owned {
  metadata: {
    name: string
    uid?: string
    labels?: Record<string, string>
    annotations?: Record<string, string>
    ownerReferences?: Array<{ uid?: string; controller?: boolean }>
  }
}

export interface WatchedWorkload extends Owned {
  kind: string
  metadata: Owned['metadata'] & { generation?: number }
  status?: { observedGeneration?: number; updateRevision?: string }
}

export interface Collections {
  pods: Iterable<PodState & Owned>
  replicaSets: Iterable<Owned>
  controllerRevisions: Iterable<Owned & { revision?: number }>
}

function ownedBy(item: Owned, uid: string | undefined): boolean {
  return Boolean(uid) && Boolean(item.metadata.ownerReferences?.some(o => o.controller && o.uid === uid))
}

/** The objects whose events tell about this rollout: the new ReplicaSet (Deployment) and the new pods. */
export function newRevisionObjects(workload: WatchedWorkload, collections: Collections): { pods: Array<PodState & Owned>; owners: Owned[] } {
  const observed = (workload.metadata.generation ?? 0) <= (workload.status?.observedGeneration ?? 0)
  if (!observed) return { pods: [], owners: [] }
  if (workload.kind === 'Deployment') {
    const revision = workload.metadata.annotations?.[REVISION_ANNOTATION]
    const replicaSet = [...collections.replicaSets].find(rs => ownedBy(rs, workload.metadata.uid) && rs.metadata.annotations?.[REVISION_ANNOTATION] === revision)
    if (!replicaSet) return { pods: [], owners: [] }
    const pods = [...collections.pods].filter(pod => ownedBy(pod, replicaSet.metadata.uid))
    return { pods, owners: [replicaSet] }
  }
  const hash = workload.kind === 'StatefulSet' ? workload.status?.updateRevision?.replace(`${workload.metadata.name}-`, '') : newestRevisionHash(workload, collections)
  const pods = [...collections.pods].filter(pod => {
    const label = pod.metadata.labels?.['controller-revision-hash']
    return ownedBy(pod, workload.metadata.uid) && hash !== undefined && (label === hash || label === `${workload.metadata.name}-${hash}`)
  })
  return { pods, owners: [] }
}

function newestRevisionHash(workload: WatchedWorkload, collections: Collections): string | undefined {
  const revisions = [...collections.controllerRevisions].filter(cr => ownedBy(cr, workload.metadata.uid)).sort((a, b) => (a.revision ?? 0) - (b.revision ?? 0))
  return revisions.at(-1)?.metadata.labels?.['controller-revision-hash']
}
