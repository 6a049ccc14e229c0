// `mode: continue` and `mode: rollback` on an Argo Rollout named as the service, as the kubectl plugin
// does them (argo-rollouts v1.8, pkg/kubectl-argo-rollouts/cmd/promote, abort and undo), each planned from
// one read of the Rollout and made only while a fresh read proves it is still that Rollout (same uid)
// with the same pod template (ifOurs; uid + resourceVersion preconditions):
// - continue: the Rollout must wait at a pause without a duration; it is promoted, then followed like a deploy.
// - rollback, mid-update (stableRS is not the current pod hash, not aborted yet): Argo's abort, so the
//   stable ReplicaSet serves again.
// - rollback otherwise (fully promoted, or aborted already), or with `to-revision`: the plugin's undo, the
//   pod template of the ReplicaSet the Rollout owns with that `rollout.argoproj.io/revision` (default the
//   second newest) put back into spec.template; then followed like a deploy.

import { isDeepStrictEqual } from 'node:util'
import type { KubernetesObject } from '@kubernetes/client-node'
import { stringify } from 'yaml'
import { UserError } from '../../../errors.js'
import { ifOurs, type Proof } from '../../../rollout/ownership.js'
import type { Plan, Rollout } from '../../../rollout/platform.js'
import { StaleObject, preconditionOf, type KubeApi, type ObjectPrecondition } from '../api/client.js'
import { imageChanges, manifestDiff } from '../apply/diff.js'
import { stripEmpty } from '../workloads/history.js'
import { staleAsNotOurs, templateKey } from '../workloads/ownership.js'
import type { LiveObject } from '../readiness/types.js'
import { abortRollouts, promoteRollout, type RolloutRef } from './argo-actions.js'
import { indefinitePause, rolloutFields } from './argo-rollout.js'

const ROLLOUT_API = 'argoproj.io/v1alpha1'
/** Argo numbers a Rollout's ReplicaSets with this annotation, and labels their pods with the hash below. */
const REVISION = 'rollout.argoproj.io/revision'
const HASH_LABEL = 'rollouts-pod-template-hash'
const JSON_PATCH = 'application/json-patch+json'

type Template = { metadata?: { labels?: Record<string, string> }; spec?: { containers?: Array<{ name: string; image?: string }>; initContainers?: Array<{ name: string; image?: string }> } }

export interface LiveRollout extends LiveObject {
  apiVersion: string
  metadata: LiveObject['metadata'] & { namespace?: string; resourceVersion?: string; annotations?: Record<string, string> }
  spec?: { template?: Template; selector?: { matchLabels?: Record<string, string> }; workloadRef?: unknown } & Record<string, unknown>
}

interface ReplicaSet {
  metadata: { name: string; annotations?: Record<string, string>; labels?: Record<string, string>; ownerReferences?: Array<{ uid?: string; controller?: boolean }> }
  spec?: { template?: Template }
}

/** What the plans need from the platform: where, who, and how a Rollout is followed once changed. */
export interface ArgoModeContext {
  api: KubeApi
  namespace: string
  service: string
  fieldManager: string
  toRevision?: number
  /** Follows the Rollout as a deploy of `template` (the server's answer to our change) would be followed. */
  follow(api: KubeApi, changed: { apiVersion: string; kind: string; spec?: { template?: unknown } }): Promise<Rollout>
}

/** The Argo Rollout named `service`; undefined when there is none, or the server serves no Rollouts. */
export async function readArgoRollout(api: KubeApi, namespace: string, service: string): Promise<LiveRollout | undefined> {
  if (!(await api.collectionPath(ROLLOUT_API, 'Rollout', namespace))) return undefined
  const live = await api.read<LiveRollout & KubernetesObject>({ apiVersion: ROLLOUT_API, kind: 'Rollout', metadata: { name: service, namespace } })
  return live ? { ...live, apiVersion: ROLLOUT_API, kind: 'Rollout' } : undefined
}

function refOf(live: LiveRollout): RolloutRef {
  return { apiVersion: ROLLOUT_API, name: live.metadata.name, namespace: live.metadata.namespace, uid: live.metadata.uid }
}

/** The containers whose image differs from one pod template to another. */
function templateImageChanges(from: Template | undefined, to: Template | undefined) {
  return imageChanges({ spec: { template: from } }, { spec: { template: to } })
}

/** Where the Rollout stands, in one line, for errors and plans. */
function standing(live: LiveRollout): string {
  const status = rolloutFields(live)
  const steps = ((live.spec?.strategy as { canary?: { steps?: unknown[] } } | undefined)?.canary?.steps ?? []).length
  const step = steps && status.currentStepIndex !== undefined ? `, at step ${Math.min(status.currentStepIndex + 1, steps)}/${steps}` : ''
  return `phase ${status.phase ?? '(none yet)'}${status.message ? ` (${status.message})` : ''}${step}, stable pod hash ${status.stableRS ?? 'none'}, current ${status.currentPodHash ?? 'none'}`
}

/** The ReplicaSets the Rollout controls (its selector, its uid as controller), by Argo's revision, oldest first. */
async function replicaSetsOf(api: KubeApi, live: LiveRollout): Promise<Array<{ revision: number; hash?: string; template: Template }>> {
  const selector = Object.entries(live.spec?.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(',')
  const list = await api.list<ReplicaSet>(`/apis/apps/v1/namespaces/${live.metadata.namespace}/replicasets`, { labelSelector: selector || undefined })
  return list.items
    .filter(rs => rs.metadata.ownerReferences?.some(o => o.controller && o.uid === live.metadata.uid))
    .map(rs => {
      // As the plugin: the hash label is the controller's, not part of the revision's template.
      const template = structuredClone(rs.spec?.template ?? {})
      if (template.metadata?.labels) delete template.metadata.labels[HASH_LABEL]
      return { revision: Number(rs.metadata.annotations?.[REVISION] ?? 0), hash: rs.metadata.labels?.[HASH_LABEL], template }
    })
    .sort((a, b) => a.revision - b.revision)
}

/**
 * A fresh read proving the Rollout is the one planned from: same uid, same pod template. Its
 * resourceVersion is the patch's precondition.
 */
async function unchangedSincePlanned(api: KubeApi, planned: LiveRollout): Promise<Proof<ObjectPrecondition>> {
  const name = `rollout/${planned.metadata.name}`
  const live = await api.read<LiveRollout & KubernetesObject>({ apiVersion: ROLLOUT_API, kind: 'Rollout', metadata: { name: planned.metadata.name, namespace: planned.metadata.namespace } })
  if (!live) return { ours: false, found: `${name} no longer exists` }
  if (live.metadata.uid !== planned.metadata.uid) return { ours: false, found: `${name} was deleted and made anew (uid ${live.metadata.uid}) since the rollback was planned`, superseded: true }
  if (templateKey(live.spec?.template) !== templateKey(planned.spec?.template)) return { ours: false, found: `${name}'s pod template was changed by another deploy since the rollback was planned (now ${standing(live)})`, superseded: true }
  const precondition = preconditionOf(live)
  if (!precondition) return { ours: false, found: `${name} has no uid or resourceVersion to guard the rollback with` }
  return { ours: true, precondition, evidence: `${name} still runs the pod template the rollback was planned from` }
}

/** How many times a rollback refused for a stale resourceVersion (a status write of the controller) is proved and tried again. */
const UNDO_ATTEMPTS = 3

/** The undo's patch, made while a fresh read proves the Rollout unchanged since the plan; proved again after a status write. */
async function patchUnchanged(api: KubeApi, live: LiveRollout, patch: unknown[], fieldManager: string): Promise<KubernetesObject> {
  const action = `roll back rollout/${live.metadata.name}`
  for (let attempt = 1; ; attempt++) {
    try {
      return await ifOurs(action, () => unchangedSincePlanned(api, live), owned => api.patch(owned, live as unknown as KubernetesObject, patch, JSON_PATCH, { fieldManager }))
    } catch (error) {
      if (!(error instanceof StaleObject) || attempt >= UNDO_ATTEMPTS) return staleAsNotOurs(action)(error)
    }
  }
}

/** `mode: continue`: promotes the Rollout at its pause without a duration, then follows it. */
export async function continuePlan(context: ArgoModeContext): Promise<Plan> {
  const { api, namespace, service, fieldManager } = context
  const live = await readArgoRollout(api, namespace, service)
  if (!live) {
    throw new UserError({ input: 'service', message: `mode 'continue' promotes an Argo Rollout paused at a pause without a duration; namespace '${namespace}' has no Rollout named '${service}' (Deployments, StatefulSets and DaemonSets do not pause): check 'service' and 'namespace'` })
  }
  const pause = indefinitePause(live)
  if (!pause) {
    throw new UserError({ input: 'mode', message: `mode 'continue' promotes rollout/${service} at a pause without a duration, but it waits at none: ${standing(live)}. Nothing was changed` })
  }
  const stable = (await replicaSetsOf(api, live)).find(rs => rs.hash && rs.hash === rolloutFields(live).stableRS)
  const ours = templateKey(live.spec?.template)
  const where = pause.split(':')[0]
  const text = stringify(live.spec?.template ?? {}, { lineWidth: 0 })
  return {
    text,
    redactedText: text,
    fileName: `${service}-rollout-template.yaml`,
    images: templateImageChanges(stable?.template, live.spec?.template),
    description: `Kubernetes rollout/${service} in namespace ${namespace}: ${where}; promote it, as \`kubectl argo rollouts promote\` does, and follow it`,
    dryRun: () => Promise.resolve(`would promote rollout/${service} (${standing(live)}) past its pause, then follow it to Healthy or its next pause`),
    checkedBy: 'a read of the live Rollout (a promote is a status patch, which has no server-side dry run)',
    apply: async (progress, signal) => {
      const cancellable = api.withSignal(signal)
      // The proof (promoteRollout): a fresh read shows the same uid and pod template, still paused.
      await promoteRollout(cancellable, refOf(live), ours, fieldManager, progress, "mode 'continue'")
      return context.follow(cancellable, live)
    }
  }
}

/** `mode: rollback` on the Rollout: Argo's abort mid-update, else (or with `to-revision`) the plugin's undo. */
export async function rollbackPlan(context: ArgoModeContext, live: LiveRollout): Promise<Plan> {
  const status = rolloutFields(live) as ReturnType<typeof rolloutFields> & { abort?: boolean }
  const midUpdate = status.abort !== true && !!status.stableRS && !!status.currentPodHash && status.stableRS !== status.currentPodHash
  if (midUpdate && context.toRevision === undefined) return abortPlan(context, live)
  return undoPlan(context, live)
}

async function abortPlan(context: ArgoModeContext, live: LiveRollout): Promise<Plan> {
  const { api, namespace, service, fieldManager } = context
  const { stableRS, currentPodHash } = rolloutFields(live)
  const stable = (await replicaSetsOf(api, live)).find(rs => rs.hash === stableRS)
  const text = stringify(live.spec?.template ?? {}, { lineWidth: 0 })
  const what = `abort its update (${standing(live)}): the stable ReplicaSet (pod hash ${stableRS}) serves again and the canary (${currentPodHash}) is scaled away, as \`kubectl argo rollouts abort\` does`
  return {
    text,
    redactedText: text,
    fileName: `${service}-rollout-template.yaml`,
    images: templateImageChanges(live.spec?.template, stable?.template),
    previousRevision: currentPodHash,
    description: `Kubernetes rollout/${service} in namespace ${namespace}: roll back: ${what}`,
    dryRun: () => Promise.resolve(`would ${what}`),
    checkedBy: 'a read of the live Rollout (an abort is a status patch, which has no server-side dry run)',
    // abortRollout proves by a fresh read that the Rollout (same uid) still runs the template read here.
    apply: (progress, signal) => abortRollouts(api.withSignal(signal), [{ rollout: refOf(live), ourTemplate: templateKey(live.spec?.template) }], fieldManager, progress)
  }
}

async function undoPlan(context: ArgoModeContext, live: LiveRollout): Promise<Plan> {
  const { api, namespace, service, fieldManager, toRevision } = context
  const name = `rollout/${service}`
  if (live.spec?.workloadRef) throw new UserError({ input: 'service', message: `${name} takes its pod template from a workloadRef: roll back that workload instead` })
  const sets = await replicaSetsOf(api, live)
  const numbers = sets.map(s => s.revision).join(', ') || 'none'
  const target = toRevision !== undefined && toRevision > 0 ? sets.find(s => s.revision === toRevision) : sets.at(-2)
  if (!target) {
    throw new UserError({ input: 'to-revision', message: toRevision ? `${name} has no revision ${toRevision}; its ReplicaSets hold ${numbers}` : `${name} has no previous revision to roll back to (revisions: ${numbers})` })
  }
  const current = sets.find(s => s.hash === rolloutFields(live).currentPodHash)?.revision
  const same = isDeepStrictEqual(stripEmpty(live.spec?.template), stripEmpty(target.template))
  const patch = [{ op: 'replace', path: '/spec/template', value: target.template }]
  const object = live as unknown as KubernetesObject
  const after = same ? live : await api.dryRunPatch(object, patch, JSON_PATCH, { fieldManager })
  const text = stringify(target.template, { lineWidth: 0 })
  return {
    text,
    redactedText: text,
    fileName: `${service}-revision-${target.revision}.yaml`,
    images: templateImageChanges(live.spec?.template, target.template),
    previousRevision: current !== undefined ? String(current) : undefined,
    description: `Kubernetes ${name} in namespace ${namespace}: roll back revision ${current ?? '?'} -> revision ${target.revision} (pod hash ${target.hash ?? '?'}), as \`kubectl argo rollouts undo\` does`,
    dryRun: () => Promise.resolve(manifestDiff([{ kind: 'Rollout', name: service, live, after }])),
    checkedBy: 'the API server accepted the rollback in a server-side dry run',
    apply: async (progress, signal) => {
      const cancellable = api.withSignal(signal)
      if (same) {
        progress.step(`${name}: skipped rollback (the current template already matches revision ${target.revision})`)
        return context.follow(cancellable, live)
      }
      const answer = await patchUnchanged(cancellable, live, patch, fieldManager)
      progress.step(`${name}: put the pod template of revision ${target.revision} back (Argo numbers it anew)`)
      return context.follow(cancellable, { ...(answer as LiveRollout), apiVersion: ROLLOUT_API, kind: 'Rollout' })
    }
  }
}

/** JSON pointer escaping of one path segment (an annotation key holds `/`). */
const pointer = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1')

/**
 * The JSON patch from the live Rollout to `changed` (the same with new images and our change-cause): only
 * the chosen containers' images, each behind a test of the container's name at that index, so that a
 * container list changed since the plan refuses the patch instead of getting the image in another place.
 */
function imageOps(live: LiveRollout, changed: { metadata: { annotations?: Record<string, string> }; spec?: unknown }): unknown[] {
  const ops: unknown[] = []
  const was = live.spec?.template?.spec ?? {}
  const now = (changed.spec as { template?: Template } | undefined)?.template?.spec ?? {}
  for (const field of ['initContainers', 'containers'] as const) {
    for (const [index, container] of (now[field] ?? []).entries()) {
      if (was[field]?.[index]?.image === container.image) continue
      const at = `/spec/template/spec/${field}/${index}`
      ops.push({ op: 'test', path: `${at}/name`, value: container.name }, { op: 'replace', path: `${at}/image`, value: container.image })
    }
  }
  const annotations = changed.metadata.annotations ?? {}
  if (!live.metadata.annotations) ops.push({ op: 'add', path: '/metadata/annotations', value: annotations })
  else for (const [key, value] of Object.entries(annotations)) if (live.metadata.annotations[key] !== value) ops.push({ op: 'add', path: `/metadata/annotations/${pointer(key)}`, value })
  return ops
}

/** `mode: deploy` without a template on a Rollout named as the service: a new image in its pod template. */
export async function argoImagePlan(
  context: ArgoModeContext,
  live: LiveRollout,
  changed: { object: { metadata: { annotations?: Record<string, string> }; spec?: unknown }; images: Array<{ container: string; previous: string; next: string }>; text: string }
): Promise<Plan> {
  const { api, namespace, service, fieldManager } = context
  const object = live as unknown as KubernetesObject
  const patch = imageOps(live, changed.object)
  const after = await api.dryRunPatch(object, patch, JSON_PATCH, { fieldManager })
  const previous = live.metadata.annotations?.[REVISION]
  const images = changed.images.map(i => `${i.container}: ${i.previous || '(none yet)'} -> ${i.next}`).join('; ')
  return {
    text: changed.text,
    redactedText: changed.text,
    fileName: `${service}-manifests.yaml`,
    images: changed.images,
    previousRevision: previous,
    description: `Kubernetes rollout/${service} in namespace ${namespace} (no template: image-only change of the live Rollout; Argo runs its steps): revision ${previous ?? '?'} -> next; ${images}`,
    dryRun: () => Promise.resolve(manifestDiff([{ kind: 'Rollout', name: service, live, after }])),
    checkedBy: 'the API server accepted the change in a server-side dry run',
    apply: async (progress, signal) => {
      const cancellable = api.withSignal(signal)
      const answer = await cancellable.changeImages(object, patch, { fieldManager, contentType: JSON_PATCH })
      progress.step(`patched the image of rollout/${service} (field manager ${fieldManager})`)
      // Our revision is the pod template in the server's answer: what the wait follows, and what a rollback aborts.
      return context.follow(cancellable, { ...(answer as unknown as LiveRollout), apiVersion: ROLLOUT_API, kind: 'Rollout' })
    }
  }
}
