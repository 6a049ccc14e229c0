// Whose rollout is it? We follow the revision our apply made, as `kubectl rollout status --revision`
// does: when another apply, `kubectl set image` or `kubectl rollout undo` moves the workload to a
// template that is not ours while we wait, our rollout is superseded; we never wait for, judge, or
// undo someone else's revision. A `kubectl rollout restart` is the one change we follow: it makes a
// new revision of exactly our pod template (plus a restartedAt annotation), so what rolls out is
// still our change, only with fresh pods; we say so when it succeeds.
import { CHANGE_CAUSE } from '../../render/manifests.js'
import { REVISION_ANNOTATION, stripEmpty } from './history.js'

const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt'

interface ManagedField {
  manager?: string
  operation?: string
  time?: string | Date
  subresource?: string
  fieldsV1?: { 'f:spec'?: { 'f:template'?: unknown } }
}

/** What the ownership check reads of a live workload (a watched or read object). */
export interface LiveWorkload {
  kind: string
  metadata: { name: string; uid?: string; generation?: number; annotations?: Record<string, string>; managedFields?: ManagedField[] }
  spec?: { template?: unknown }
  status?: { observedGeneration?: number; updateRevision?: string }
}

export interface RevisionRecord {
  metadata: { name: string; ownerReferences?: Array<{ uid?: string; controller?: boolean }> }
  revision?: number
}

/** The pod template as a canonical string: equal strings, equal templates. */
export function templateKey(template: unknown, ignoreRestart = false): string {
  const copy = structuredClone(template ?? {}) as { metadata?: { annotations?: Record<string, string>; labels?: Record<string, string> } }
  if (ignoreRestart && copy.metadata?.annotations) delete copy.metadata.annotations[RESTARTED_AT]
  if (copy.metadata?.labels) delete copy.metadata.labels['pod-template-hash']
  return JSON.stringify(sortKeys(stripEmpty(copy)))
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, sortKeys(v)]))
  return value
}

/** The revision number a live workload rolls out, once its controller has seen the spec; else undefined. */
export function liveRevision(workload: LiveWorkload, controllerRevisions: Iterable<RevisionRecord>): number | undefined {
  if ((workload.metadata.generation ?? 0) > (workload.status?.observedGeneration ?? 0)) return undefined
  if (workload.kind === 'Deployment') {
    const value = workload.metadata.annotations?.[REVISION_ANNOTATION]
    return value ? Number(value) : undefined
  }
  const owned = [...controllerRevisions].filter(cr => cr.metadata.ownerReferences?.some(o => o.controller && o.uid === workload.metadata.uid))
  if (workload.kind === 'StatefulSet') return owned.find(cr => cr.metadata.name === workload.status?.updateRevision)?.revision
  return Math.max(0, ...owned.map(cr => cr.revision ?? 0)) || undefined
}

export type Ownership =
  | { verdict: 'ours' }
  /** `revision` is undefined until the controller has numbered the restarted template. */
  | { verdict: 'restarted'; revision?: number }
  | { verdict: 'superseded'; revision?: number; reason: string }

/** Our template against the live one: still ours, ours restarted, someone else's (superseded). */
export function whoseRollout(
  ours: { template: string; revision?: number; changeCause?: string },
  live: LiveWorkload,
  controllerRevisions: Iterable<RevisionRecord>
): Ownership {
  if (templateKey(live.spec?.template) === ours.template) return { verdict: 'ours' }
  // A number not yet moved past ours belongs to the template before the change (a Deployment with
  // strategy Recreate numbers the new revision only once the old pods are gone).
  const numbered = liveRevision(live, controllerRevisions)
  const revision = numbered !== undefined && numbered !== ours.revision ? numbered : undefined
  if (templateKey(live.spec?.template, true) === templateKey(JSON.parse(ours.template), true)) return { verdict: 'restarted', revision }
  // Someone else's template: final whether or not its controller has numbered it yet.
  return { verdict: 'superseded', revision, reason: describeOther(live, revision, ours) }
}

/** One line on what runs now instead of ours: revision, images, change-cause, and who changed it. */
export function describeOther(live: LiveWorkload, revision: number | undefined, ours: { revision?: number; changeCause?: string }): string {
  const name = `${live.kind.toLowerCase()}/${live.metadata.name}`
  const images = containerImages(live.spec?.template)
  const cause = live.metadata.annotations?.[CHANGE_CAUSE]
  const said =
    cause && cause !== ours.changeCause
      ? `change-cause: ${cause}`
      : cause
        ? 'no change-cause of its own (it still carries ours, so whoever made it did not record one)'
        : 'no change-cause recorded'
  const by = templateManager(live)
  const to = revision !== undefined ? `revision ${revision}` : 'a new revision (not numbered yet)'
  return `${name} moved on to ${to}${images ? ` (${images})` : ''}, which is not ours${ours.revision !== undefined ? ` (revision ${ours.revision})` : ''}: ${said}${by ? `; its template was last changed by field manager "${by}"` : ''}`
}

export function containerImages(template: unknown): string {
  const spec = (template as { spec?: { containers?: Array<{ name?: string; image?: string }> } } | undefined)?.spec
  return (spec?.containers ?? []).map(c => `${c.name}=${c.image}`).join(', ')
}

/** The field manager that last wrote the pod template, from managedFields (kubectl-set, kubectl-rollout, an applier). */
export function templateManager(live: LiveWorkload): string | undefined {
  const writers = (live.metadata.managedFields ?? []).filter(f => f.fieldsV1?.['f:spec']?.['f:template'] !== undefined && !f.subresource)
  writers.sort((a, b) => new Date(b.time ?? 0).getTime() - new Date(a.time ?? 0).getTime())
  const latest = writers[0]
  return latest?.manager ? `${latest.manager}${latest.operation ? ` (${latest.operation})` : ''}` : undefined
}
