// A workload of the applied set as the rollout tracks it: its revisions before and after our change, and
// what "ours" means for it (the template and fields our apply or patch left, from the server's answer).
import { CHANGE_CAUSE } from '../../../render/manifests.js'
import type { KubeApi } from '../api/client.js'
import type { Workload } from './history.js'
import { appliedFields, templateKey, type AppliedFields, type ManagedField } from './ownership.js'

/** One workload of the applied set, with the revision it ran before and the one it rolls out now. */
export interface TrackedWorkload {
  kind: string
  name: string
  namespace: string
  previousRevision?: number
  revision?: number
  /** Our pod template as the server stored it after our change (templateKey): what "ours" means. */
  template?: string
  /** Our change-cause annotation, to tell a foreign revision that merely kept it. */
  changeCause?: string
  /** For a rollback: the old revision number it put back (the controller gives it a new one). */
  restored?: number
  /** The template fields our field manager wrote, with their values: "ours" while they all hold. */
  applied?: AppliedFields
}

/**
 * The workload as our own apply or patch left it, from the server's answer to that request: its
 * template is what "ours" means from then on. Without an answer, `settle` reads the live one.
 */
export function madeBy(tracked: TrackedWorkload, answer: unknown, fieldManager?: string): TrackedWorkload {
  const made = answer as { spec?: { template?: unknown }; metadata?: { annotations?: Record<string, string>; managedFields?: ManagedField[] } } | undefined
  if (!made?.spec?.template) return tracked
  const applied = fieldManager ? appliedFields(made, fieldManager) : undefined
  return { ...tracked, template: templateKey(made.spec.template), changeCause: made.metadata?.annotations?.[CHANGE_CAUSE], applied }
}

export async function readWorkload(api: KubeApi, tracked: { kind: string; name: string; namespace: string }): Promise<Workload | undefined> {
  return api.read<Workload & { apiVersion: string }>({ apiVersion: 'apps/v1', kind: tracked.kind, metadata: { name: tracked.name, namespace: tracked.namespace } })
}
