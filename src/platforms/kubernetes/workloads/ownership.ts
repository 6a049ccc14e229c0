// Whose rollout is it? We follow the revision our apply made, as `kubectl rollout status --revision`
// does: when another apply, `kubectl set image` or `kubectl rollout undo` moves the workload to a
// template that is not ours while we wait, our rollout is superseded; we never wait for, judge, or
// undo someone else's revision. A `kubectl rollout restart` is the one change we follow: it makes a
// new revision of exactly our pod template (plus a restartedAt annotation), so what rolls out is
// still our change, only with fresh pods; we say so when it succeeds. More generally, "ours" is judged
// by the fields we applied (issue 16): a controller that edits other fields of the template
// (Stakater Reloader's annotation) leaves our change ours; a change to a field we set (another apply of
// our image, `kubectl set image`, Keel) does not.
import type { KubernetesObject } from '@kubernetes/client-node'
import { CHANGE_CAUSE, objectName, type KubeObject } from '../../../render/manifests.js'
import { REVISION_ANNOTATION, stripEmpty, type Workload } from './history.js'
import { NotOurs, type Proof } from '../../../rollout/ownership.js'
import { StaleObject, type KubeApi, type ObjectPrecondition } from '../api/client.js'

const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt'

export interface ManagedField {
  manager?: string
  operation?: string
  time?: string | Date
  subresource?: string
  fieldsV1?: { 'f:spec'?: { 'f:template'?: unknown } }
}

/** The uid and resourceVersion a destructive call carries as its precondition (a Kubernetes `Owned`). */
/** The uid and resourceVersion of the read that proved a workload ours (the client's one precondition type). */
export type LivePrecondition = ObjectPrecondition

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
  /** Someone edited fields of the template that we did not set (`by`: their field manager); ours all hold. */
  | { verdict: 'edited'; revision?: number; by?: string }
  | { verdict: 'superseded'; revision?: number; reason: string }

/** What our own apply or patch wrote into the pod template: the fields our field manager owns, with their values. */
export interface AppliedFields {
  manager: string
  operation: string
  /** The fieldsV1 set our entry owned under spec.template, in the server's answer to our call. */
  fields: FieldSet
  /** The pod template in that answer: the values of those fields. */
  template: unknown
}

/** A managedFields fieldsV1 tree (`f:name`, `k:{...}`, `v:...`, `i:N`, `.`). */
export type FieldSet = { [key: string]: FieldSet }

/** Our entry in an answer's managedFields (our field manager, the newest), and what it owns of the template. */
export function appliedFields(answer: { metadata?: { managedFields?: ManagedField[] }; spec?: { template?: unknown } }, fieldManager: string): AppliedFields | undefined {
  const entry = newestEntry(answer.metadata?.managedFields ?? [], f => f.manager === fieldManager)
  const fields = entry?.fieldsV1?.['f:spec']?.['f:template'] as FieldSet | undefined
  if (!entry || !fields) return undefined
  return { manager: fieldManager, operation: entry.operation ?? 'Apply', fields, template: answer.spec?.template }
}

function newestEntry(entries: ManagedField[], wanted: (f: ManagedField) => boolean): ManagedField | undefined {
  return entries.filter(f => !f.subresource && wanted(f)).sort((a, b) => new Date(b.time ?? 0).getTime() - new Date(a.time ?? 0).getTime())[0]
}

/**
 * Do the fields we applied still hold, in the live workload? Our entry (same manager and operation)
 * must still own every one of them (another manager's Update or forced apply takes a field it
 * changes), and each must still have the value we wrote (another apply under our own field manager
 * keeps the ownership, not our value). Returns the first field that does not hold, or undefined.
 */
export function changedField(applied: AppliedFields, live: LiveWorkload): string | undefined {
  const entry = newestEntry(live.metadata.managedFields ?? [], f => f.manager === applied.manager && f.operation === applied.operation)
  const owned = entry?.fieldsV1?.['f:spec']?.['f:template'] as FieldSet | undefined
  if (!owned) return `our field manager "${applied.manager}" no longer owns any field of the pod template`
  for (const path of leafPaths(applied.fields)) {
    if (!hasPath(owned, path)) {
      // Whoever took it: the managedFields entry that owns it now (times there are whole seconds, so the
      // newest entry need not be the one that changed it).
      const taker = (live.metadata.managedFields ?? []).find(f => f !== entry && !f.subresource && hasPath((f.fieldsV1?.['f:spec']?.['f:template'] as FieldSet | undefined) ?? {}, path))
      const now = taker?.manager ? ` (now field manager "${taker.manager}${taker.operation ? ` (${taker.operation})` : ''}")` : ''
      return `${describePath(path)} is no longer owned by our field manager "${applied.manager}"${now}`
    }
    const ours = valueAt(applied.template, path)
    const now = valueAt(live.spec?.template, path)
    if (canonical(ours) !== canonical(now)) return `${describePath(path)} no longer has the value we applied`
  }
  return undefined
}

/** Every path to a leaf of a fieldsV1 set: a field owned whole (`{}`), or a set member (`v:`). */
function leafPaths(set: FieldSet, base: string[] = []): string[][] {
  const paths: string[][] = []
  for (const [key, child] of Object.entries(set)) {
    if (key === '.') continue
    const children = Object.keys(child).filter(k => k !== '.')
    if (children.length === 0) paths.push([...base, key])
    else paths.push(...leafPaths(child, [...base, key]))
  }
  return paths
}

function hasPath(set: FieldSet, path: string[]): boolean {
  let node: FieldSet | undefined = set
  for (const key of path) node = node?.[key]
  return node !== undefined
}

/** The value a fieldsV1 path names in an object, or undefined when it is not there. */
function valueAt(object: unknown, path: string[]): unknown {
  let node = object
  for (const key of path) {
    if (node === undefined || node === null) return undefined
    const kind = key.slice(0, 2)
    const rest = key.slice(2)
    if (kind === 'f:') node = (node as Record<string, unknown>)[rest]
    else if (kind === 'i:') node = Array.isArray(node) ? node[Number(rest)] : undefined
    else if (kind === 'k:') {
      const wanted = JSON.parse(rest) as Record<string, unknown>
      node = Array.isArray(node) ? node.find(item => Object.entries(wanted).every(([k, v]) => canonical((item as Record<string, unknown>)?.[k]) === canonical(v))) : undefined
    } else if (kind === 'v:') {
      const wanted = JSON.parse(rest) as unknown
      // A set member: present or not (its value is the member itself).
      return Array.isArray(node) && node.some(item => canonical(item) === canonical(wanted)) ? wanted : undefined
    } else return undefined
  }
  return node
}

/** `containers[name=web].image`: a fieldsV1 path as a reader would write it. */
function describePath(path: string[]): string {
  const parts = path.map(key => {
    const rest = key.slice(2)
    if (key.startsWith('f:')) return `.${rest}`
    if (key.startsWith('k:')) return `[${Object.entries(JSON.parse(rest) as Record<string, unknown>).map(([k, v]) => `${k}=${String(v)}`).join(',')}]`
    if (key.startsWith('i:')) return `[${rest}]`
    return `[${rest}]`
  })
  return `the pod template's ${parts.join('').replace(/^\./, '')}`
}

function canonical(value: unknown): string {
  return JSON.stringify(sortKeys(stripEmpty(value)) ?? null)
}

/**
 * Our change against the live workload: still ours, ours restarted or edited elsewhere (every field we
 * applied still holds), or someone else's (superseded).
 */
export function whoseRollout(
  ours: { template: string; revision?: number; changeCause?: string; applied?: AppliedFields },
  live: LiveWorkload,
  controllerRevisions: Iterable<RevisionRecord>
): Ownership {
  if (templateKey(live.spec?.template) === ours.template) return { verdict: 'ours' }
  // A number not yet moved past ours belongs to the template before the change (a Deployment with
  // strategy Recreate numbers the new revision only once the old pods are gone).
  const numbered = liveRevision(live, controllerRevisions)
  const revision = numbered !== undefined && numbered !== ours.revision ? numbered : undefined
  if (templateKey(live.spec?.template, true) === templateKey(JSON.parse(ours.template), true)) return { verdict: 'restarted', revision }
  const changed = ours.applied ? changedField(ours.applied, live) : 'the pod template changed'
  if (changed === undefined) return { verdict: 'edited', revision, by: templateManager(live) }
  // Someone else's template: final whether or not its controller has numbered it yet.
  return { verdict: 'superseded', revision, reason: describeOther(live, revision, ours) + (ours.applied ? ` (${changed})` : '') }
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

/**
 * May the rollback undo what runs now? Only while it is still ours by the fields we applied (or, for a
 * revision this run put back, by having been changed by this run). The proof carries the read's uid
 * and resourceVersion for the patch.
 */
export function undoProof(
  tracked: { kind: string; name: string; template?: string; revision?: number; changeCause?: string; applied?: AppliedFields },
  live: LiveWorkload & { metadata: { resourceVersion?: string } },
  now: number | undefined
): Proof<LivePrecondition> {
  const precondition = { uid: live.metadata.uid ?? '', resourceVersion: live.metadata.resourceVersion ?? '' }
  const name = `${tracked.kind.toLowerCase()}/${tracked.name}`
  if (tracked.template === undefined) return { ours: true, precondition, evidence: `${name} was changed by this run` }
  const verdict = whoseRollout({ template: tracked.template, revision: tracked.revision, changeCause: tracked.changeCause, applied: tracked.applied }, live, [])
  // describeOther names the field manager that last wrote the template: whose it is.
  if (verdict.verdict === 'superseded') {
    const changed = tracked.applied ? changedField(tracked.applied, live) : undefined
    return { ours: false, found: now !== undefined ? `${describeOther(live, now, tracked)}${changed ? ` (${changed})` : ''}` : verdict.reason, superseded: true }
  }
  return { ours: true, precondition, evidence: `${name} still runs our revision (every field we applied holds)` }
}

/** A patch refused for its precondition: the object changed after the proof, so it is not ours to touch. */
export function staleAsNotOurs(action: string): (error: unknown) => never {
  return error => {
    if (error instanceof StaleObject) throw new NotOurs(action, { ours: false, found: error.message, superseded: true })
    throw error
  }
}

/**
 * `mode: rollback` rolls back the workload as it was read when the rollback was planned: a fresh read
 * proves it is still that one (same uid, same pod template), and hands its resourceVersion on as the
 * patch's precondition. A workload made anew or moved to another template meanwhile is left alone.
 */
export async function unchangedSincePlanned(api: KubeApi, planned: Workload & KubeObject): Promise<Proof<LivePrecondition>> {
  const live = await api.read<Workload & KubeObject>(planned as KubernetesObject)
  const name = objectName(planned)
  if (!live) return { ours: false, found: `${name} no longer exists` }
  if (live.metadata.uid !== planned.metadata.uid) return { ours: false, found: `${name} was deleted and made anew (uid ${live.metadata.uid}) since the rollback was planned`, superseded: true }
  if (templateKey(live.spec?.template) !== templateKey(planned.spec?.template)) {
    return { ours: false, found: describeOther({ ...live, kind: planned.kind } as unknown as LiveWorkload, undefined, {}).replace('which is not ours', 'since the rollback was planned'), superseded: true }
  }
  const precondition = { uid: live.metadata.uid ?? '', resourceVersion: (live.metadata as { resourceVersion?: string }).resourceVersion ?? '' }
  return { ours: true, precondition, evidence: `${name} still runs the template the rollback was planned from` }
}
