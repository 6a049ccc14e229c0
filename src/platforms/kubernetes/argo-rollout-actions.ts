// What deploy-service does to an Argo Rollout of its own besides applying it: promote it at a pause
// (`on-pause: continue`), the same patch `kubectl argo rollouts promote` makes there (argo-rollouts v1.8,
// pkg/kubectl-argo-rollouts/cmd/promote: pauseConditions cleared through the status subresource), and
// only through ifOurs: a fresh read proves the Rollout still runs the pod template this run applied and
// still waits at that pause, and the patch carries that read's uid and resourceVersion.

import { ifOurs, type Proof } from '../../rollout/ownership.js'
import type { Progress } from '../../rollout/progress.js'
import { StaleObject, preconditionOf, type KubeApi, type ObjectPrecondition } from './client.js'
import { templateKey } from './ownership.js'
import { indefinitePause, oursOrSuperseded } from './readiness/argo-rollout.js'
import type { LiveObject } from './readiness.js'

/** How many times a promote refused for a stale resourceVersion is proved and tried again. */
const PROMOTE_ATTEMPTS = 5

export interface RolloutRef {
  apiVersion: string
  name: string
  namespace?: string
}

/** Proves the Rollout ours and paused now; then promotes it. Throws NotOurs (said by the caller) otherwise. */
export async function promoteRollout(api: KubeApi, rollout: RolloutRef, ourTemplate: string, fieldManager: string, progress: Progress): Promise<void> {
  const object = { apiVersion: rollout.apiVersion, kind: 'Rollout', metadata: { name: rollout.name, namespace: rollout.namespace } }
  const name = `rollout/${rollout.name}`
  const prove = async (): Promise<Proof<ObjectPrecondition>> => {
    const read = await api.read(object)
    const live = read as unknown as LiveObject | undefined
    if (!live) return { ours: false, found: `${name} no longer exists` }
    const foreign = oursOrSuperseded(live, ourTemplate, templateKey)
    if (foreign) return { ours: false, found: `${name}: ${foreign}`, superseded: true }
    const pause = indefinitePause(live)
    const precondition = preconditionOf(read)
    if (!pause || !precondition) return { ours: false, found: `${name} is no longer paused (someone promoted or aborted it)` }
    return { ours: true, precondition, evidence: `${name} runs the pod template this run applied and is ${pause.split(':')[0]}` }
  }
  // The controller writes the Rollout's status often (a pause's start, counts): a write between our read
  // and our patch makes the patch stale. Read again and prove again, a few times.
  for (let attempt = 1; ; attempt++) {
    try {
      await ifOurs(`promote ${name}`, prove, owned =>
        api.patch(owned, object, { status: { pauseConditions: null } }, 'application/merge-patch+json', { fieldManager, subresource: 'status' })
      )
      break
    } catch (error) {
      if (!(error instanceof StaleObject) || attempt >= PROMOTE_ATTEMPTS) throw error
    }
  }
  progress.step(`on-pause: continue: promoted ${name} past its pause, as \`kubectl argo rollouts promote\` does`)
}
