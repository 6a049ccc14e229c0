// Revisions of a workload and `kubectl rollout undo`, with kubectl's rules
// (kubectl/pkg/polymorphichelpers/rollback.go): a Deployment goes back to a ReplicaSet's pod
// template, a StatefulSet or DaemonSet to a ControllerRevision's patch; the previous revision is the
// second newest; a target equal to what runs now is skipped.
import { isDeepStrictEqual } from 'node:util'
import { UserError } from '../../../errors.js'
import { CHANGE_CAUSE } from '../../../render/manifests.js'
import type { KubeApi } from '../api/client.js'

export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision'

// Annotations of a ReplicaSet that belong to the controller, not to the deployed revision.
const SKIPPED_ANNOTATIONS = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  REVISION_ANNOTATION,
  'deployment.kubernetes.io/revision-history',
  'deployment.kubernetes.io/desired-replicas',
  'deployment.kubernetes.io/max-replicas',
  'deprecated.deployment.rollback.to'
])

export interface Workload {
  apiVersion?: string
  kind: string
  metadata: { name: string; namespace?: string; uid?: string; generation?: number; annotations?: Record<string, string> }
  spec?: { selector?: { matchLabels?: Record<string, string> }; template?: { metadata?: { labels?: Record<string, string> } }; paused?: boolean }
  status?: { observedGeneration?: number; updateRevision?: string }
}

interface Owned {
  metadata: { name: string; uid?: string; annotations?: Record<string, string>; labels?: Record<string, string>; ownerReferences?: Array<{ uid?: string; controller?: boolean }> }
}

interface ReplicaSet extends Owned {
  spec?: { template?: { metadata?: { labels?: Record<string, string> } } & Record<string, unknown> }
}

interface ControllerRevision extends Owned {
  revision: number
  data?: unknown
}

export interface Revision {
  number: number
  /** The ReplicaSet or ControllerRevision that holds it. */
  name: string
  changeCause?: string
  /** Deployment: the pod template; StatefulSet/DaemonSet: the strategic-merge patch kubectl applies. */
  content: unknown
  annotations: Record<string, string>
  /** The pod-template-hash / controller-revision-hash label its pods carry. */
  hash?: string
}

export function selectorOf(workload: Workload): string {
  return Object.entries(workload.spec?.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(',')
}

/** Every revision of the workload, oldest first. */
export async function revisionsOf(api: KubeApi, workload: Workload): Promise<Revision[]> {
  const ns = workload.metadata.namespace
  const owned = <T extends Owned>(items: T[]): T[] => items.filter(item => item.metadata.ownerReferences?.some(o => o.controller && o.uid === workload.metadata.uid))
  const query = { labelSelector: selectorOf(workload) || undefined }
  if (workload.kind === 'Deployment') {
    const list = await api.list<ReplicaSet>(`/apis/apps/v1/namespaces/${ns}/replicasets`, query)
    return owned(list.items)
      .map(rs => ({
        number: Number(rs.metadata.annotations?.[REVISION_ANNOTATION] ?? 0),
        name: rs.metadata.name,
        changeCause: rs.metadata.annotations?.[CHANGE_CAUSE],
        content: withoutHashLabel(rs.spec?.template ?? {}),
        annotations: rs.metadata.annotations ?? {},
        hash: rs.metadata.labels?.['pod-template-hash']
      }))
      .sort((a, b) => a.number - b.number)
  }
  const list = await api.list<ControllerRevision>(`/apis/apps/v1/namespaces/${ns}/controllerrevisions`, query)
  return owned(list.items)
    .map(cr => ({
      number: cr.revision,
      name: cr.metadata.name,
      changeCause: cr.metadata.annotations?.[CHANGE_CAUSE],
      content: cr.data,
      annotations: cr.metadata.annotations ?? {},
      hash: cr.metadata.labels?.['controller-revision-hash']
    }))
    .sort((a, b) => a.number - b.number)
}

function withoutHashLabel(template: { metadata?: { labels?: Record<string, string> } }): unknown {
  const copy = structuredClone(template)
  if (copy.metadata?.labels) delete copy.metadata.labels['pod-template-hash']
  return copy
}

/** The revision number the workload runs (or is rolling out) now, once its controller has seen the spec. */
export function currentRevisionNumber(workload: Workload, revisions: Revision[]): number | undefined {
  if (workload.kind === 'Deployment') {
    const value = workload.metadata.annotations?.[REVISION_ANNOTATION]
    return value ? Number(value) : undefined
  }
  if (workload.kind === 'StatefulSet') return revisions.find(r => r.name === workload.status?.updateRevision)?.number
  return revisions.at(-1)?.number
}

/** The revision `rollout undo` goes to: `toRevision`, or the second newest. */
export function undoTarget(workload: Workload, revisions: Revision[], toRevision?: number): Revision {
  const name = `${workload.kind.toLowerCase()}/${workload.metadata.name}`
  const numbers = revisions.map(r => r.number).join(', ')
  if (toRevision !== undefined && toRevision > 0) {
    const found = revisions.find(r => r.number === toRevision)
    if (!found) throw new UserError({ input: 'to-revision', message: `${name} has no revision ${toRevision}; it has ${numbers || 'none'}` })
    return found
  }
  if (revisions.length < 2) throw new UserError({ input: 'to-revision', message: `${name} has no previous revision to roll back to (history: ${numbers || 'none'})` })
  return revisions[revisions.length - 2]
}

export interface UndoPatch {
  patch: unknown
  contentType: string
}

/**
 * The pod template a revision holds: a ReplicaSet's template, or the template inside a
 * ControllerRevision's patch (without its `$patch` directives).
 */
export function templateOf(kind: string, revision: Revision): unknown {
  if (kind === 'Deployment') return revision.content
  const template = (revision.content as { spec?: { template?: unknown } } | undefined)?.spec?.template
  return template === undefined ? undefined : stripPatchDirectives(template)
}

/** The patch that puts `target` back, or undefined when the workload already runs that template. */
export function undoPatch(workload: Workload & { spec?: { template?: unknown } }, target: Revision): UndoPatch | undefined {
  if (workload.kind === 'Deployment') {
    if (workload.spec?.paused) throw new UserError({ input: 'service', message: `deployment/${workload.metadata.name} is paused: resume it (kubectl rollout resume) before rolling back` })
    if (isDeepStrictEqual(stripEmpty(workload.spec?.template), stripEmpty(templateOf(workload.kind, target)))) return undefined
    // As kubectl: the controller's own annotations stay, all others come from the revision.
    const annotations: Record<string, string> = {}
    for (const [key, value] of Object.entries(workload.metadata.annotations ?? {})) if (SKIPPED_ANNOTATIONS.has(key)) annotations[key] = value
    for (const [key, value] of Object.entries(target.annotations)) if (!SKIPPED_ANNOTATIONS.has(key)) annotations[key] = value
    return {
      contentType: 'application/json-patch+json',
      patch: [
        { op: 'replace', path: '/spec/template', value: target.content },
        { op: 'replace', path: '/metadata/annotations', value: annotations }
      ]
    }
  }
  const wanted = templateOf(workload.kind, target)
  if (wanted && isDeepStrictEqual(stripEmpty(workload.spec?.template), stripEmpty(wanted))) return undefined
  return { contentType: 'application/strategic-merge-patch+json', patch: target.content }
}

function stripPatchDirectives(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripPatchDirectives)
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).filter(([k]) => !k.startsWith('$')).map(([k, v]) => [k, stripPatchDirectives(v)]))
  }
  return value
}

/** Drops null, empty maps and creationTimestamp: the API writes them one way, templates another. */
export function stripEmpty(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripEmpty)
  if (value && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([k, v]) => v !== null && v !== undefined && k !== 'creationTimestamp')
      .map(([k, v]) => [k, stripEmpty(v)] as const)
      .filter(([, v]) => !(v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0))
    return Object.fromEntries(entries)
  }
  return value
}
