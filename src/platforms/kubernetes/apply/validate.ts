import type { KubernetesObject } from '@kubernetes/client-node'
import { ProblemList, UserError, type Problem } from '../../../errors.js'
import { isArgoRollout, isWorkload, objectName, type KubeObject, type Manifest } from '../../../render/manifests.js'
import type { SourceDocument } from '../../../render/source.js'
import type { KubeApi } from '../api/client.js'
import { conflictManagers, explainApiError } from '../api/errors.js'
import { currentRevisionNumber, revisionsOf, type Workload } from '../workloads/history.js'
import type { DiffPair } from './diff.js'
import type { TrackedWorkload } from '../workloads/tracked.js'
import { waitRules } from '../readiness/wait-rules.js'

/** The field manager name of Argo Rollouts' controller (its client's user agent). */
const ARGO_ROLLOUTS_MANAGER = 'rollouts-controller'

export interface Validated {
  /** Each object as the server's dry run would store it, with the live one, for the diff. */
  pairs: DiffPair[]
  /** The workloads of the set, the target first, with the revision each runs now. */
  workloads: TrackedWorkload[]
  /** Lines for the plan: what was changed in the set before applying it (replicas left to an HPA). */
  notes: string[]
  /** Objects applied with force: their only conflict is with our own field manager's earlier patch. */
  forced: Set<KubeObject>
}

export interface ValidateOptions {
  fieldManager: string
  force: boolean
  /** The rollout will be waited for: workloads whose rollout cannot be followed are refused. */
  wait: boolean
}

/**
 * Checks the whole set against the server before anything changes: every kind is known, and a
 * server-side dry run of every object passes (schema, admission, namespace, conflicts). All
 * problems are reported together, each at its file:line; nothing is applied.
 */
export async function validateManifests(api: KubeApi, manifests: Manifest[], target: Manifest, namespace: string, options: ValidateOptions): Promise<Validated> {
  const problems = new ProblemList()
  const known: Manifest[] = []
  for (const manifest of manifests) {
    const { object, source } = manifest
    // The per-object wait rules (deploy-service/wait, fail-after, ready-when) are checked before anything changes.
    for (const message of waitRules(object.metadata.annotations).problems) problems.add({ input: 'template', location: source.locate(['metadata', 'annotations']), message: `${objectName(object)}: ${message}` })
    const resource = await api.resource(object.apiVersion, object.kind)
    if (!resource) {
      problems.add({ input: 'template', location: source.locate(['kind']), message: `the server knows no kind ${object.kind} in ${object.apiVersion}: check apiVersion and kind, or install its CustomResourceDefinition first` })
      continue
    }
    // A cluster-scoped object has no namespace, though Helm charts often write one (the server ignores
    // it): dropped here, so every key built from the object (prune's keep-list) matches the live one.
    if (resource.namespaced) object.metadata.namespace = namespace
    else delete object.metadata.namespace
    known.push(manifest)
  }
  problems.throwIfAny()

  const notes = await leaveReplicasToAutoscalers(api, known, namespace, options.fieldManager)
  const pairs: DiffPair[] = []
  const forced = new Set<KubeObject>()
  for (const { object, source } of known) {
    try {
      const live = await api.read(object as KubernetesObject)
      const apply = (force: boolean) => api.apply(object as KubernetesObject, { fieldManager: options.fieldManager, force, dryRun: true })
      let after: KubernetesObject
      try {
        after = await apply(options.force)
      } catch (error) {
        // Our own rollback or image-only patch wrote these fields as an update under our field manager
        // name; server-side apply counts that as another manager. Taking fields back from ourselves
        // takes nothing from anyone else.
        // Argo Rollouts' controller writes a whole Rollout back with an update (v1.8), so it "owns" every
        // spec field it merely carried over: it decided none of them, and our new template is ours to set.
        const carriedOver = (m: string) => m === ARGO_ROLLOUTS_MANAGER && object.kind === 'Rollout' && object.apiVersion.startsWith('argoproj.io/')
        const managers = conflictManagers(error)
        if (!managers?.length || !managers.every(m => m === options.fieldManager || carriedOver(m))) throw error
        after = await apply(true)
        forced.add(object)
      }
      pairs.push({ kind: object.kind, name: object.metadata.name, after, live })
      if (options.wait) for (const problem of unfollowable(after as Workload & KubeObject, source)) problems.add(problem)
    } catch (error) {
      const explained = explainApiError(error, `apply ${objectName(object)} (server dry run)`, source.locate([]))
      if (!(explained instanceof UserError)) throw explained
      // Keep the location of the document for errors that name no file (forbidden, conflicts ...).
      problems.add({ ...explained.problems[0], location: explained.problems[0].location ?? source.locate([]) })
    }
  }
  problems.throwIfAny()

  const workloads: TrackedWorkload[] = []
  // A Rollout is followed by its controller's word (the applied set), not by ReplicaSet revisions.
  for (const { object } of [...(isArgoRollout(target.object) ? [] : [target]), ...known.filter(m => m !== target && isWorkload(m.object))]) {
    const live = pairs.find(p => p.kind === object.kind && p.name === object.metadata.name)?.live as Workload | undefined
    const previousRevision = live ? currentRevisionNumber(live, await revisionsOf(api, live)) : undefined
    workloads.push({ kind: object.kind, name: object.metadata.name, namespace, previousRevision })
  }
  return { pairs, workloads, notes, forced }
}

/**
 * Workloads whose rollout `kubectl rollout status` cannot follow, refused before anything changes
 * (applying them and then failing would roll back a change that never had a chance): a StatefulSet or
 * DaemonSet with updateStrategy OnDelete, and a paused Deployment. Read from the server's dry-run
 * answer, so a pause set live by someone else counts too.
 */
export function unfollowable(after: Workload & KubeObject, source?: SourceDocument): Problem[] {
  if (!isWorkload(after)) return []
  const name = objectName(after)
  const spec = after.spec as { paused?: boolean; updateStrategy?: { type?: string } } | undefined
  const templated = (path: Array<string | number>): boolean => source !== undefined && hasPath(source.value, path)
  const where = (path: Array<string | number>) => (source ? source.locate(templated(path) ? path : []) : undefined)
  const problems: Problem[] = []
  if (after.kind !== 'Deployment' && spec?.updateStrategy?.type === 'OnDelete') {
    const path = ['spec', 'updateStrategy', 'type']
    const origin = templated(path) ? 'the template sets' : 'it has (live)'
    problems.push({
      input: source ? 'template' : 'service',
      location: where(path),
      message: `${name} uses updateStrategy OnDelete (${origin} it): its pods change only when someone deletes them, so its rollout cannot be followed (kubectl rollout status refuses it too). Set spec.updateStrategy.type: RollingUpdate, or deploy it with wait: false and delete its pods yourself`
    })
  }
  if (after.kind === 'Deployment' && spec?.paused === true) {
    const path = ['spec', 'paused']
    const inTemplate = templated(path)
    const origin = !source ? ' on the live Deployment' : inTemplate ? ' in the template' : ', set on the live Deployment, not in the template'
    problems.push({
      input: source ? 'template' : 'service',
      location: where(path),
      message: `${name} is paused (spec.paused: true${origin}): a paused Deployment does not roll out, so this deploy would only wait and then roll back. ${inTemplate ? 'Remove spec.paused from the template' : `Resume it first (kubectl rollout resume ${name})`}, or deploy with wait: false`
    })
  }
  return problems
}

function hasPath(value: unknown, path: Array<string | number>): boolean {
  let at = value as Record<string | number, unknown> | undefined
  for (const key of path) {
    if (!at || typeof at !== 'object' || !(key in at)) return false
    at = at[key] as Record<string | number, unknown> | undefined
  }
  return true
}

interface Autoscaler {
  metadata: { name: string }
  spec?: { scaleTargetRef?: { kind?: string; name?: string } }
}

/**
 * A HorizontalPodAutoscaler (in the set, or live in the namespace) owns the replicas of its target:
 * applying the template's spec.replicas would undo its scaling on every deploy (or conflict with it).
 * The field is left out of the apply, unless we still own it live: server-side apply would then
 * remove it and the Deployment would drop to 1 replica, so we apply the live value instead (the
 * HPA's value is kept either way, and the HPA takes the field over when it next scales).
 */
async function leaveReplicasToAutoscalers(api: KubeApi, manifests: Manifest[], namespace: string, fieldManager: string): Promise<string[]> {
  const scaled = manifests.filter(m => (m.object.kind === 'Deployment' || m.object.kind === 'StatefulSet') && (m.object.spec as { replicas?: unknown } | undefined)?.replicas !== undefined)
  if (scaled.length === 0) return []
  const inSet = manifests.filter(m => m.object.kind === 'HorizontalPodAutoscaler').map(m => m.object as unknown as Autoscaler)
  const notes: string[] = []
  let live: Autoscaler[] = []
  try {
    live = (await api.list<Autoscaler>(`/apis/autoscaling/v2/namespaces/${namespace}/horizontalpodautoscalers`)).items
  } catch (error) {
    if (!(error instanceof UserError)) throw error
    notes.push(`could not look for HorizontalPodAutoscalers in namespace ${namespace} (${error.message}); spec.replicas is applied as the template says`)
  }
  for (const { object } of scaled) {
    const hpa = [...inSet, ...live].find(h => h.spec?.scaleTargetRef?.kind === object.kind && h.spec.scaleTargetRef.name === object.metadata.name)
    if (!hpa) continue
    const spec = object.spec as { replicas?: unknown }
    const current = await api.read<KubernetesObject & { spec?: { replicas?: number } }>({ ...object, metadata: { ...object.metadata, namespace } } as KubernetesObject)
    const ownsReplicas = (current?.metadata?.managedFields ?? []).some(
      f => f.manager === fieldManager && f.operation === 'Apply' && (f.fieldsV1 as { 'f:spec'?: Record<string, unknown> } | undefined)?.['f:spec']?.['f:replicas'] !== undefined
    )
    const written = spec.replicas
    if (ownsReplicas && current?.spec?.replicas !== undefined) spec.replicas = current.spec.replicas
    else delete spec.replicas
    notes.push(
      `${objectName(object)}: spec.replicas (${String(written)} in the template) is left to HorizontalPodAutoscaler ${hpa.metadata.name}` +
        (current?.spec?.replicas !== undefined ? `, which keeps its ${current.spec.replicas} replica(s)` : '')
    )
  }
  return notes
}
