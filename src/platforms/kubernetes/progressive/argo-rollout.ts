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
  pauseConditions?: Array<{ reason?: string; startTime?: string }>
  abort?: boolean
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

/** A canary step as the Rollout's spec writes it (the kinds of step Argo v1.8 knows). */
interface CanaryStep {
  setWeight?: number
  pause?: { duration?: string | number }
  analysis?: { templates?: Array<{ templateName?: string }> }
  experiment?: { duration?: string | number; templates?: Array<{ name?: string }> }
  setCanaryScale?: { replicas?: number; weight?: number; matchTrafficWeight?: boolean }
  setHeaderRoute?: { name?: string }
  setMirrorRoute?: { name?: string }
  plugin?: { name?: string }
}

/** The canary steps of a Rollout's spec. */
export function canarySteps(spec: Record<string, unknown> | undefined): CanaryStep[] {
  return (spec?.strategy as { canary?: { steps?: CanaryStep[] } } | undefined)?.canary?.steps ?? []
}

/** A duration as Argo reads it: a number of seconds, or a number with s, m or h; undefined if neither. */
export function durationSeconds(duration: string | number | undefined): number | undefined {
  if (typeof duration === 'number') return duration
  const match = /^(\d+)(s|m|h)?$/.exec(duration ?? '')
  if (!match) return undefined
  return Number(match[1]) * ({ s: 1, m: 60, h: 3600 }[match[2] as 's' | 'm' | 'h'] ?? 1)
}

/**
 * One step, as `kubectl argo rollouts get rollout` names it; a pause the controller has reached
 * (its CanaryPauseStep condition's startTime) says how long it has left, or that it waits for a promote.
 */
export function stepText(step: CanaryStep, pausedSince?: string, now = Date.now()): string {
  if (step.setWeight !== undefined) return `setWeight ${step.setWeight}%`
  if (step.pause) {
    const seconds = durationSeconds(step.pause.duration)
    if (step.pause.duration === undefined) return 'pause without a duration (waits to be promoted)'
    const started = pausedSince ? Date.parse(pausedSince) : NaN
    const left = seconds !== undefined && Number.isFinite(started) ? Math.max(0, Math.ceil(seconds - (now - started) / 1000)) : undefined
    return `pause ${String(step.pause.duration)}${left !== undefined ? ` (${left}s left)` : ''}`
  }
  if (step.analysis) return `analysis (${(step.analysis.templates ?? []).map(t => t.templateName).join(', ')})`
  if (step.experiment) return `experiment (${(step.experiment.templates ?? []).map(t => t.name).join(', ')})`
  if (step.setCanaryScale) {
    const scale = step.setCanaryScale
    return `setCanaryScale ${scale.replicas !== undefined ? `${scale.replicas} replicas` : scale.weight !== undefined ? `${scale.weight}%` : 'matching the traffic weight'}`
  }
  if (step.setHeaderRoute) return `setHeaderRoute ${step.setHeaderRoute.name ?? ''}`.trim()
  if (step.setMirrorRoute) return `setMirrorRoute ${step.setMirrorRoute.name ?? ''}`.trim()
  if (step.plugin) return `plugin ${step.plugin.name ?? ''}`.trim()
  return 'a step of a kind this version does not name'
}

/** The step the controller is at, 1-based with what it is; undefined when there are no steps or all are done. */
export function currentStep(live: LiveObject, now = Date.now()): { index: number; count: number; text: string } | undefined {
  const steps = canarySteps(live.spec)
  const status = rolloutFields(live)
  const index = status.currentStepIndex
  if (index === undefined || index >= steps.length) return undefined
  const since = status.pauseConditions?.find(c => c.reason === 'CanaryPauseStep')?.startTime
  return { index: index + 1, count: steps.length, text: stepText(steps[index], since, now) }
}

/**
 * The stable and canary pods: the canary is what runs the current pod hash (status.updatedReplicas),
 * the stable the rest while they differ (Argo's status counts every ReplicaSet of the Rollout).
 */
export function podCounts(status: RolloutStatus): string {
  const total = status.replicas ?? 0
  const canary = status.stableRS && status.stableRS === status.currentPodHash ? 0 : (status.updatedReplicas ?? 0)
  return `stable ${total - canary}, canary ${canary}, ${status.availableReplicas ?? 0} available of ${total}`
}

/** Where the rollout stands: steps done, the current one, the pods. For the progress line. */
function counts(live: LiveObject): string {
  const steps = canarySteps(live.spec).length
  const index = rolloutFields(live).currentStepIndex
  const current = currentStep(live)
  const done = steps && index !== undefined ? `step ${Math.min(index, steps)}/${steps} done${current ? `, now ${current.index}: ${current.text}` : ''}; ` : ''
  return `${done}${podCounts(rolloutFields(live))}`
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
      return { state: 'waiting', message: `Paused${said} (${counts(object)})` }
    case undefined:
    case '':
      return { state: 'waiting', message: 'its controller has not written a phase yet (is the Argo Rollouts controller running?)' }
    default:
      return { state: 'waiting', message: `${status.phase}${said} (${counts(object)})` }
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
