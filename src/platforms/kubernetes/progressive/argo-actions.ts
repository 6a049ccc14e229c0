// What deploy-service does to an Argo Rollout of its own besides applying it: promote it at a pause
// (`on-pause: continue`, the patch `kubectl argo rollouts promote` makes there: argo-rollouts v1.8,
// pkg/kubectl-argo-rollouts/cmd/promote, pauseConditions cleared through the status subresource) and abort
// it as the rollback (`kubectl argo rollouts abort`: status.abort), each only through ifOurs: a fresh read
// proves the Rollout still runs the pod template this run applied, and the patch carries that read's uid
// and resourceVersion.

import { NotOurs, ifOurs, type Proof } from '../../../rollout/ownership.js'
import type { Rollout, WaitContext } from '../../../rollout/platform.js'
import { sleep } from '../../../rollout/poll.js'
import type { Progress } from '../../../rollout/progress.js'
import type { KubernetesObject } from '@kubernetes/client-node'
import { StaleObject, preconditionOf, type KubeApi, type ObjectPrecondition } from '../api/client.js'
import { templateKey } from '../workloads/ownership.js'
import { indefinitePause, oursOrSuperseded } from './argo-rollout.js'
import type { LiveObject } from '../readiness/kinds.js'

/** How many times a promote refused for a stale resourceVersion is proved and tried again. */
const PROMOTE_ATTEMPTS = 5

export interface RolloutRef {
  apiVersion: string
  name: string
  namespace?: string
  /** Set by `mode: continue` / `rollback`: the Rollout read when the plan was made, not one made anew since. */
  uid?: string
}

/**
 * Patches the Rollout's status (promote, abort) only while a fresh read proves it runs our pod template
 * (and passes `also`), with that read's uid and resourceVersion as preconditions. The controller writes
 * the status often: a write between our read and our patch makes it stale, so it reads and proves again,
 * a few times. Throws NotOurs (said by the caller) when the proof fails.
 */
async function patchOurStatus(
  api: KubeApi,
  rollout: RolloutRef,
  ourTemplate: string,
  fieldManager: string,
  change: { verb: string; status: Record<string, unknown>; also?: (live: LiveObject) => string | undefined }
): Promise<void> {
  const object = rolloutObject(rollout)
  const name = `rollout/${rollout.name}`
  const prove = async (): Promise<Proof<ObjectPrecondition>> => {
    const read = await api.read(object)
    const live = read as unknown as LiveObject | undefined
    if (!live) return { ours: false, found: `${name} no longer exists` }
    if (rollout.uid && live.metadata.uid !== rollout.uid) return { ours: false, found: `${name} was deleted and made anew (uid ${live.metadata.uid}) since the plan was made`, superseded: true }
    const foreign = await referencedTemplate(api, live, ourTemplate) ?? oursOrSuperseded(live, ourTemplate, templateKey)
    if (foreign) return { ours: false, found: `${name}: ${foreign}`, superseded: true }
    const refused = change.also?.(live)
    if (refused) return { ours: false, found: `${name} ${refused}` }
    const precondition = preconditionOf(read)
    if (!precondition) return { ours: false, found: `${name} has no uid or resourceVersion to guard the ${change.verb} with` }
    return { ours: true, precondition, evidence: `${name} runs the pod template this run applied` }
  }
  for (let attempt = 1; ; attempt++) {
    try {
      await ifOurs(`${change.verb} ${name}`, prove, owned =>
        api.patch(owned, object, { status: change.status }, 'application/merge-patch+json', { fieldManager, subresource: 'status' })
      )
      return
    } catch (error) {
      if (!(error instanceof StaleObject) || attempt >= PROMOTE_ATTEMPTS) throw error
    }
  }
}

/**
 * A Rollout with a workloadRef has no template of its own: it runs the referenced Deployment's, so that
 * is what must still be ours. Why it is not (for the superseded report), or undefined.
 */
async function referencedTemplate(api: KubeApi, live: LiveObject, ourTemplate: string): Promise<string | undefined> {
  const ref = (live.spec as { workloadRef?: { kind?: string; name?: string } } | undefined)?.workloadRef
  if (!ref?.name) return undefined
  const workload = await api.read<KubernetesObject & { spec?: { template?: unknown } }>({ apiVersion: 'apps/v1', kind: ref.kind ?? 'Deployment', metadata: { name: ref.name, namespace: (live.metadata as { namespace?: string }).namespace } })
  if (!workload) return `its workloadRef ${ref.kind}/${ref.name} no longer exists`
  return templateKey(workload.spec?.template) === ourTemplate ? undefined : `its workloadRef ${ref.kind}/${ref.name} runs another pod template than this run applied`
}

function rolloutObject(rollout: RolloutRef) {
  return { apiVersion: rollout.apiVersion, kind: 'Rollout', metadata: { name: rollout.name, namespace: rollout.namespace } }
}

/** Proves the Rollout ours and paused now; then promotes it. Throws NotOurs (said by the caller) otherwise. */
export async function promoteRollout(api: KubeApi, rollout: RolloutRef, ourTemplate: string, fieldManager: string, progress: Progress, by = 'on-pause: continue'): Promise<void> {
  await patchOurStatus(api, rollout, ourTemplate, fieldManager, {
    verb: 'promote',
    status: { pauseConditions: null },
    also: live => (indefinitePause(live) ? undefined : 'is no longer paused (someone promoted or aborted it)')
  })
  progress.step(`${by}: promoted rollout/${rollout.name} past its pause, as \`kubectl argo rollouts promote\` does`)
}

/** Waits until an aborted Rollout's stable ReplicaSet serves again: the canary scaled away, every stable pod available. */
async function stableAgain(api: KubeApi, rollout: RolloutRef, context: WaitContext): Promise<void> {
  const { deadline } = context
  const object = rolloutObject(rollout)
  const name = `rollout/${rollout.name}`
  for (;;) {
    const live = (await api.withSignal(deadline.signal).read(object)) as unknown as LiveObject | undefined
    const status = (live?.status ?? {}) as { abort?: boolean; stableRS?: string; availableReplicas?: number; updatedReplicas?: number; message?: string }
    const replicas = (live?.spec as { replicas?: number } | undefined)?.replicas ?? 1
    if (status.abort === true && status.stableRS && (status.updatedReplicas ?? 0) === 0 && (status.availableReplicas ?? 0) >= replicas) {
      context.progress.step(`${name}: the stable ReplicaSet (pod hash ${status.stableRS}) serves again with ${status.availableReplicas} available; ${status.message ?? ''}`.trim())
      return
    }
    context.progress.status(`${name}: aborting: ${status.availableReplicas ?? 0}/${replicas} stable available, ${status.updatedReplicas ?? 0} canary left`)
    // Polled: a rollback's wait is short, and once a second is what `kubectl argo rollouts status` does too.
    await sleep(1000, deadline.signal)
  }
}

/**
 * Rollback of the Argo Rollouts of ours: Argo's own abort of each (`kubectl argo rollouts abort`:
 * status.abort through /status), made only while a fresh read proves that Rollout runs our pod template.
 * Each stable ReplicaSet then serves again; the returned Rollout waits for all of them. A Rollout that is
 * no longer ours is said and left alone; when none is ours, the first refusal (NotOurs) is thrown.
 * Argo calls an aborted Rollout Degraded by design, so that is not a failure here.
 */
export async function abortRollouts(api: KubeApi, rollouts: Array<{ rollout: RolloutRef; ourTemplate: string }>, fieldManager: string, progress: Progress): Promise<Rollout> {
  const aborted: RolloutRef[] = []
  let refused: unknown
  for (const { rollout, ourTemplate } of rollouts) {
    const name = `rollout/${rollout.name}`
    try {
      await patchOurStatus(api, rollout, ourTemplate, fieldManager, { verb: 'abort', status: { abort: true } })
    } catch (error) {
      if (!(error instanceof NotOurs)) throw error
      refused ??= error
      progress.reason(`${name} not aborted: ${error.message}`)
      continue
    }
    aborted.push(rollout)
    progress.step(`aborted ${name} (Argo's rollback, as \`kubectl argo rollouts abort\` does): its stable ReplicaSet takes over again`)
  }
  if (!aborted.length) throw refused
  const names = aborted.map(r => `rollout/${r.name}`).join(', ')
  return {
    revision: 'stable',
    label: `${names} (aborted: back to ${aborted.length > 1 ? 'their stable ReplicaSets' : 'its stable ReplicaSet'})`,
    outputs: {},
    wait: async context => {
      for (const rollout of aborted) await stableAgain(api, rollout, context)
      return { state: 'succeeded' }
    },
    undo: () => Promise.reject(new Error(`${names} ${aborted.length > 1 ? 'were' : 'was'} aborted to the stable ReplicaSet already: nothing further to roll back`))
  }
}
