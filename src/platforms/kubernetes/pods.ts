// Why new pods are not becoming ready, and which of those states will never heal by themselves.
// The list of "doomed" states follows Shopify/krane's pod.rb, with one lesson from its issues: a
// single failed image pull is often transient (a registry hiccup, a tag pushed a moment later), so
// pull failures must last a while before a deploy is failed on them.

interface ContainerState {
  waiting?: { reason?: string; message?: string }
  running?: { startedAt?: string }
  terminated?: { reason?: string; message?: string; exitCode?: number }
}

export interface ContainerStatus {
  name: string
  image?: string
  ready?: boolean
  restartCount?: number
  state?: ContainerState
  lastState?: ContainerState
}

export interface PodState {
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; deletionTimestamp?: string | Date }
  status?: {
    phase?: string
    reason?: string
    message?: string
    conditions?: Array<{ type?: string; status?: string; reason?: string; message?: string }>
    containerStatuses?: ContainerStatus[]
    initContainerStatuses?: ContainerStatus[]
  }
}

export interface PodProblem {
  /** Stable identity of this problem, so it is printed once. */
  key: string
  pod: string
  container?: string
  reason: string
  message: string
  /** It will not heal by itself: fail the rollout now. */
  doomed: boolean
  /** The container crashed and restarted: its previous log tells why. */
  crashed: boolean
}

export interface DoomRules {
  /** A pull that the registry answers "not found" fails the rollout after this long (ms). */
  notFoundGraceMs: number
  /** Any other pull failure fails it after this long (ms). */
  pullGraceMs: number
  /** CreateContainerConfigError and the like (a missing Secret may still be created) after this long (ms). */
  configGraceMs: number
  /** A crash loop fails the rollout once a container restarted this many times. */
  crashRestarts: number
}

export const DEFAULT_DOOM_RULES: DoomRules = { notFoundGraceMs: 8_000, pullGraceMs: 25_000, configGraceMs: 10_000, crashRestarts: 3 }

const PULL = new Set(['ErrImagePull', 'ImagePullBackOff'])
const NEVER_HEALS = new Set(['InvalidImageName', 'ErrImageNeverPull'])
const CONFIG = new Set(['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError'])
const NOT_FOUND = /not found|manifest unknown|does not exist|NotFound|no such host|repository .*not exist/i

/**
 * Remembers since when each container has been in a failing state, so that a grace period counts
 * continuous failure only: a container that recovers starts from zero.
 */
export class FailingSince {
  private readonly since = new Map<string, number>()

  /** How long (ms) `key` has been failing, starting the clock now if it was not. */
  elapsed(key: string, now: number): number {
    if (!this.since.has(key)) this.since.set(key, now)
    return now - this.since.get(key)!
  }

  /** Forgets every key not in `current`: those containers are no longer failing. */
  keepOnly(current: Set<string>): void {
    for (const key of this.since.keys()) if (!current.has(key)) this.since.delete(key)
  }
}

/** The problems of `pods` as of `now`, doomed or not yet. Pure but for the clock kept in `failing`. */
export function diagnosePods(pods: PodState[], failing: FailingSince, now: number, rules: DoomRules = DEFAULT_DOOM_RULES): PodProblem[] {
  const problems: PodProblem[] = []
  const current = new Set<string>()
  for (const pod of pods) {
    if (pod.metadata.deletionTimestamp) continue
    const name = pod.metadata.name
    const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]
    for (const container of statuses) {
      const problem = containerProblem(name, container, failing, current, now, rules)
      if (problem) problems.push(problem)
    }
    const unschedulable = pod.status?.conditions?.find(c => c.type === 'PodScheduled' && c.status === 'False')
    if (unschedulable) {
      // The cluster may still grow (autoscaler) or free room: reported, not fatal.
      problems.push({ key: `${name}:unschedulable:${unschedulable.message}`, pod: name, reason: unschedulable.reason ?? 'Unschedulable', message: unschedulable.message ?? '', doomed: false, crashed: false })
    }
    if (pod.status?.phase === 'Failed') {
      problems.push({ key: `${name}:failed`, pod: name, reason: pod.status.reason ?? 'Failed', message: pod.status.message ?? 'the pod failed', doomed: true, crashed: false })
    }
  }
  failing.keepOnly(current)
  return problems
}

function containerProblem(pod: string, container: ContainerStatus, failing: FailingSince, current: Set<string>, now: number, rules: DoomRules): PodProblem | undefined {
  const waiting = container.state?.waiting
  const reason = waiting?.reason
  const message = waiting?.message ?? ''
  const base = { pod, container: container.name, crashed: false }
  const lastExit = container.lastState?.terminated
  if (lastExit?.reason === 'ContainerCannotRun') {
    return { ...base, key: `${pod}:${container.name}:cannot-run`, reason: 'ContainerCannotRun', message: lastExit.message ?? '', doomed: true }
  }
  if (!reason || reason === 'ContainerCreating' || reason === 'PodInitializing') return undefined
  const restarts = container.restartCount ?? 0
  if (reason === 'CrashLoopBackOff') {
    const exit = lastExit?.exitCode !== undefined ? ` (exit code ${lastExit.exitCode}${lastExit.reason ? `, ${lastExit.reason}` : ''})` : ''
    return {
      ...base,
      key: `${pod}:${container.name}:crash:${restarts}`,
      reason,
      message: `restarted ${restarts} time${restarts === 1 ? '' : 's'}${exit}`,
      doomed: restarts >= rules.crashRestarts,
      crashed: true
    }
  }
  if (NEVER_HEALS.has(reason)) return { ...base, key: `${pod}:${container.name}:${reason}`, reason, message, doomed: true }
  const category = PULL.has(reason) ? 'pull' : CONFIG.has(reason) ? 'config' : undefined
  if (!category) return { ...base, key: `${pod}:${container.name}:${reason}:${message}`, reason, message, doomed: false }
  const clock = `${pod}:${container.name}:${category}`
  current.add(clock)
  const failedFor = failing.elapsed(clock, now)
  const grace = category === 'config' ? rules.configGraceMs : NOT_FOUND.test(message) ? rules.notFoundGraceMs : rules.pullGraceMs
  return { ...base, key: `${pod}:${container.name}:${reason}:${message}`, reason, message, doomed: failedFor >= grace }
}

/** One line for the log and the report. */
export function describeProblem(problem: PodProblem): string {
  const where = problem.container ? `pod ${problem.pod}, container ${problem.container}` : `pod ${problem.pod}`
  return `${where}: ${problem.reason}${problem.message ? `: ${problem.message}` : ''}`
}
