// What makes a live object a member this ApplySet may prune (DESIGN.md, "Ownership"): the part-of
// label is not enough, since anyone can copy it (`kubectl expose` copies a Service's labels onto the
// Service it makes, the endpoints controller copies a Service's labels onto its Endpoints). A member
// is ours only when, read at the moment of the delete:
//   - it carries this set's id in `applyset.kubernetes.io/part-of`;
//   - our field manager's Apply entry in managedFields owns that label (our server-side apply wrote it);
//   - no controller owns it (an operator's child is the operator's), it is not being deleted;
//   - nothing says to keep it (Helm's `helm.sh/resource-policy: keep`, our `deploy-service/prune: never`;
//     a PersistentVolumeClaim unless the user named it in `prune-volume-claims`).
// The parent's run token (checked by the caller with the same read discipline) says the set is still
// this run's to prune. Also here: which objects of a new set another ApplySet already holds.

import { type Problem } from '../../../errors.js'
import type { KubeObject, Manifest } from '../../../render/manifests.js'
import type { Proof } from '../../../rollout/ownership.js'
import { preconditionOf, type ObjectPrecondition } from '../api/client.js'

export const PART_OF = 'applyset.kubernetes.io/part-of'
/** Helm's own convention: a resource with this annotation set to `keep` outlives its release. */
export const HELM_RESOURCE_POLICY = 'helm.sh/resource-policy'
/** Ours: `deploy-service/prune: never` keeps an object out of every prune of every set. */
export const PRUNE_ANNOTATION = 'deploy-service/prune'

interface ManagedField {
  manager?: string
  operation?: string
  subresource?: string
  fieldsV1?: { 'f:metadata'?: { 'f:labels'?: Record<string, unknown> } }
}

/** What the checks read of a live object (a list item or a fresh read). */
export interface LiveMember {
  apiVersion?: string
  kind?: string
  metadata: {
    name: string
    namespace?: string
    uid?: string
    resourceVersion?: string
    deletionTimestamp?: string | Date
    labels?: Record<string, string>
    annotations?: Record<string, string>
    ownerReferences?: Array<{ kind?: string; name?: string; controller?: boolean }>
    managedFields?: ManagedField[]
  }
}

/** The field managers (with their operation) that own the part-of label, as managedFields records them. */
export function labelWriters(live: LiveMember): string[] {
  return (live.metadata.managedFields ?? [])
    .filter(entry => !entry.subresource && entry.fieldsV1?.['f:metadata']?.['f:labels']?.[`f:${PART_OF}`] !== undefined)
    .map(entry => `"${entry.manager ?? '(unnamed)'}" (${entry.operation ?? 'unknown operation'})`)
}

/** Whether our field manager's server-side apply wrote the part-of label (its Apply entry owns it). */
export function appliedBy(live: LiveMember, fieldManager: string): boolean {
  return (live.metadata.managedFields ?? []).some(
    entry => entry.manager === fieldManager && entry.operation === 'Apply' && !entry.subresource && entry.fieldsV1?.['f:metadata']?.['f:labels']?.[`f:${PART_OF}`] !== undefined
  )
}

/** What the user allows beyond the rules: PersistentVolumeClaims named in `prune-volume-claims`. */
export interface PrunePolicy {
  volumeClaims: string[]
}

/** Why an object of ours is kept on purpose (an annotation, a claim not named); undefined when nothing keeps it. */
export function keptBecause(live: LiveMember, kind: string, policy: PrunePolicy): string | undefined {
  const annotations = live.metadata.annotations ?? {}
  if (annotations[HELM_RESOURCE_POLICY]?.trim() === 'keep') return `annotated ${HELM_RESOURCE_POLICY}: keep, so it is never pruned; delete it yourself if it should go`
  if (annotations[PRUNE_ANNOTATION]?.trim() === 'never') return `annotated ${PRUNE_ANNOTATION}: never, so it is never pruned; delete it yourself if it should go`
  if (kind === 'PersistentVolumeClaim' && !policy.volumeClaims.includes(live.metadata.name)) {
    return `a PersistentVolumeClaim is pruned only when prune-volume-claims names it (its volume's data may go with it): add ${live.metadata.name} there, or delete it yourself`
  }
  return undefined
}

/**
 * Whether a live object is a member of the set `id` that `fieldManager` applied. `ours: false` says
 * what the read found and whose the label is (for a line of the log); a controller's child is left
 * out silently by the caller (`controlled`), since the operator owns it and copies labels by design.
 */
export function memberProof(live: LiveMember | undefined, ref: string, id: string, fieldManager: string): Proof<ObjectPrecondition> & { controlled?: boolean; gone?: boolean } {
  const precondition = preconditionOf(live)
  if (!live || !precondition) return { ours: false, found: `${ref} is gone already`, gone: true }
  if (live.metadata.deletionTimestamp) return { ours: false, found: `${ref} is being deleted already`, gone: true }
  const label = live.metadata.labels?.[PART_OF]
  if (label !== id) return { ours: false, found: `${ref} no longer carries this set's id (${PART_OF}: ${label ?? '(none)'})`, owner: label ? `ApplySet ${label}` : undefined }
  const controller = live.metadata.ownerReferences?.find(reference => reference.controller === true)
  if (controller) return { ours: false, found: `${ref} is controlled by ${controller.kind}/${controller.name}`, owner: `its controller ${controller.kind}/${controller.name}`, controlled: true }
  if (!appliedBy(live, fieldManager)) {
    const writers = labelWriters(live)
    return {
      ours: false,
      found: `${ref} carries this set's ${PART_OF} label, but this set's server-side apply (field manager "${fieldManager}") did not write it`,
      owner: writers.length ? `the label was written by field manager ${writers.join(', ')}` : 'no field manager records writing the label'
    }
  }
  return { ours: true, precondition, evidence: `${ref} carries ${PART_OF}: ${id}, written by field manager "${fieldManager}" (Apply); uid ${precondition.uid}` }
}

/** `adopt`: `all`, or the `Kind/name` of each object another ApplySet holds that this set may take over. */
export type Adopt = 'all' | string[]

/** An object of the new set that another ApplySet holds, and whether the user said to adopt it. */
export interface Held {
  ref: string
  otherId: string
  writers: string[]
  adopted: boolean
  manifest: Manifest
}

/** The objects of the new set whose live counterpart another ApplySet holds (its id on the label). */
export function heldElsewhere(manifests: Manifest[], liveOf: (object: KubeObject) => LiveMember | undefined, id: string, adopt: Adopt): Held[] {
  const held: Held[] = []
  for (const manifest of manifests) {
    const live = liveOf(manifest.object)
    const otherId = live?.metadata.labels?.[PART_OF]
    if (!live || otherId === undefined || otherId === id) continue
    const ref = `${manifest.object.kind}/${manifest.object.metadata.name}`
    held.push({ ref, otherId, writers: labelWriters(live), adopted: adopt === 'all' || adopt.includes(ref), manifest })
  }
  return held
}

/** The problem that refuses a held object, at its file, naming the other set (its parent where known). */
export function heldProblem(held: Held, parent: string | undefined): Problem {
  const whose = parent ? `the ApplySet whose parent is ${parent}` : `ApplySet ${held.otherId} (its parent could not be found)`
  const by = held.writers.length ? `; its label was written by field manager ${held.writers.join(', ')}` : ''
  return {
    input: 'template',
    location: held.manifest.source.locate(['metadata', 'name']),
    message: `${held.ref} is held by ${whose} (${PART_OF}: ${held.otherId}${by}). Applying it would move it into this set, whose prune could then delete what the other set still uses; nothing was changed. Leave it out of this template (or give each deploy its own name for it), or take it over with adopt: ${held.ref}`
  }
}
