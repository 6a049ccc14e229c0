// Argo Rollouts' Rollout (argoproj.io/v1alpha1), judged by Argo's own rules as `kubectl argo rollouts
// status` applies them (utils/rollout GetRolloutPhase in argo-rollouts v1.8): the controller must have
// observed our generation (status.observedGeneration is a string there, and a non-numeric one, from
// v0.9, counts as observed), an unpause must have been acted on, then the controller's phase decides:
// Healthy is done, Degraded (ProgressDeadlineExceeded, RolloutAborted, InvalidSpec) has failed, Paused
// and Progressing are on their way. Healthy also means fully promoted: stableRS is the current pod hash.

import type { LiveObject, Readiness } from '../readiness/types.js'

interface RolloutStatus {
  observedGeneration?: string | number
  phase?: string
  message?: string
  currentPodHash?: string
  stableRS?: string
  controllerPause?: boolean
  pauseConditions?: Array<{ reason?: string }>
  currentStepIndex?: number
  updatedReplicas?: number
  availableReplicas?: number
  replicas?: number
}

/** The status fields of a Rollout this module reads. */
export function rolloutFields(object: LiveObject): RolloutStatus {
  return (object.status ?? {}) as RolloutStatus
}

function generationObserved(object: LiveObject): boolean {
  const observed = Number(rolloutFields(object).observedGeneration)
  const generation = object.metadata.generation
  // Not a number: a hash from Argo before v0.10, which Argo itself takes as observed.
  if (!Number.isInteger(observed) || generation === undefined) return true
  return observed >= generation
}

/** Where the rollout stands, in counts: for the progress line. */
function counts(status: RolloutStatus, spec: Record<string, unknown> | undefined): string {
  const steps = ((spec?.strategy as { canary?: { steps?: unknown[] } } | undefined)?.canary?.steps ?? []).length
  const step = steps && status.currentStepIndex !== undefined ? `step ${Math.min(status.currentStepIndex, steps)}/${steps}, ` : ''
  return `${step}${status.updatedReplicas ?? 0} updated, ${status.availableReplicas ?? 0} available of ${status.replicas ?? 0}`
}

export function argoRollout(object: LiveObject): Readiness {
  const status = rolloutFields(object)
  if (!generationObserved(object)) return { state: 'waiting', message: `Progressing: its controller has not observed generation ${object.metadata.generation} yet` }
  if (status.controllerPause === true && !status.pauseConditions?.length) return { state: 'waiting', message: 'Progressing: waiting for the rollout to unpause' }
  const said = status.message ? `: ${status.message}` : ''
  switch (status.phase) {
    case 'Healthy':
      if (status.stableRS && status.stableRS === status.currentPodHash) return { state: 'ready', message: `Healthy (stable pod hash ${status.stableRS})` }
      return { state: 'waiting', message: `Healthy but not fully promoted yet (stableRS ${status.stableRS ?? 'none'}, current pod hash ${status.currentPodHash ?? 'none'})` }
    case 'Degraded':
      return { state: 'failed', message: `Degraded${said}` }
    case 'Paused':
      return { state: 'waiting', message: `Paused${said} (${counts(status, object.spec)})` }
    case undefined:
    case '':
      return { state: 'waiting', message: 'its controller has not written a phase yet (is the Argo Rollouts controller running?)' }
    default:
      return { state: 'waiting', message: `${status.phase}${said} (${counts(status, object.spec)})` }
  }
}

/**
 * Where a Rollout waits for someone to promote it: a canary step `pause: {}` (no duration; a timed pause
 * resumes by itself) that the controller has reached. One line for the `paused` report, else undefined.
 */
export function indefinitePause(live: LiveObject): string | undefined {
  const status = rolloutFields(live)
  if (status.phase !== 'Paused' || !status.pauseConditions?.some(c => c.reason === 'CanaryPauseStep')) return undefined
  const steps = (live.spec?.strategy as { canary?: { steps?: Array<{ pause?: { duration?: unknown } }> } } | undefined)?.canary?.steps ?? []
  const index = status.currentStepIndex ?? -1
  const step = steps[index]
  if (!step?.pause || step.pause.duration !== undefined) return undefined
  return `paused at canary step ${index + 1}/${steps.length} (pause without a duration): promote it with \`kubectl argo rollouts promote ${live.metadata.name}\`, or abort it with \`kubectl argo rollouts abort ${live.metadata.name}\``
}

/**
 * Whether the Rollout still runs our revision: its pod template is the one our apply left (the pod hash
 * Argo computes is of that template). Another template is another deploy's revision: the reason it is
 * not ours, for the `superseded` report; undefined while it is ours.
 */
export function oursOrSuperseded(live: LiveObject, ourTemplate: string, templateKey: (template: unknown) => string): string | undefined {
  const template = (live.spec as { template?: unknown } | undefined)?.template
  if (template === undefined || templateKey(template) === ourTemplate) return undefined
  const hash = rolloutFields(live).currentPodHash
  const by = (live.metadata as { managedFields?: Array<{ manager?: string; operation?: string; time?: string }> }).managedFields
  const last = by?.filter(f => f.time).sort((a, b) => String(b.time).localeCompare(String(a.time)))[0]?.manager
  return `its pod template was replaced by another revision${hash && generationObserved(live) ? ` (pod hash ${hash})` : ''}${last ? `, last written by field manager "${last}"` : ''}; ours is no longer what it rolls out`
}
