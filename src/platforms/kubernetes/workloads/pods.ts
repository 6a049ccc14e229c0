// Why new pods are not becoming ready, and which of those states will never heal by themselves.
// The list of "doomed" states follows Shopify/krane's pod.rb, with one lesson from its issues: a
// single failed image pull is often transient (a registry hiccup, a tag pushed a moment later), so
// pull failures must last a while before a deploy is failed on them. Also as krane: a pod of a
// controller that failed because of its node (evicted, preempted, node shut down) is replaced by the
// controller and is not doomed; ContainerCannotRun with exit code 128 has been seen to come from the
// node or the runtime, not the image, and is not doomed either. Each problem of a pod is reported
// once (per pod, container and reason), however many watch events repeat it.

import { errorMessage } from '../../../errors.js'
import type { KubeApi } from '../api/client.js'

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
/** Pod reasons of a Failed pod that say the node, not the pod, is the cause: the controller makes another. */
const TRANSIENT_POD_FAILURES = new Set(['Evicted', 'Preempting', 'Terminated', 'NodeShutdown', 'Shutdown'])
/** The kubelet could not yet read a Secret or ConfigMap it mounts (kubernetes/kubernetes#74755): heals. */
const CACHE_NOT_SYNCED = /failed to sync .* cache/

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
      problems.push({ key: `${name}:unschedulable`, pod: name, reason: unschedulable.reason ?? 'Unschedulable', message: unschedulable.message ?? '', doomed: false, crashed: false })
    }
    if (pod.status?.phase === 'Failed') {
      const reason = pod.status.reason ?? 'Failed'
      const transient = TRANSIENT_POD_FAILURES.has(reason)
      const message = `${pod.status.message ?? 'the pod failed'}${transient ? ' (caused by its node; its controller starts another pod)' : ''}`
      problems.push({ key: `${name}:failed:${reason}`, pod: name, reason, message, doomed: !transient, crashed: false })
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
  const cannotRun = [container.state?.terminated, lastExit].find(t => t?.reason === 'ContainerCannotRun')
  if (cannotRun) {
    const transient = cannotRun.exitCode === 128
    const message = `failed to start (exit code ${cannotRun.exitCode ?? '?'})${cannotRun.message ? `: ${cannotRun.message}` : ''}${transient ? ' (exit code 128 comes from the node or the runtime, not the image; it usually heals)' : ''}`
    return { ...base, key: `${pod}:${container.name}:ContainerCannotRun`, reason: 'ContainerCannotRun', message, doomed: !transient }
  }
  if (!reason || reason === 'ContainerCreating' || reason === 'PodInitializing') return undefined
  const restarts = container.restartCount ?? 0
  if (reason === 'CrashLoopBackOff') {
    const exit = lastExit?.exitCode !== undefined ? ` (exit code ${lastExit.exitCode}${lastExit.reason ? `, ${lastExit.reason}` : ''})` : ''
    return {
      ...base,
      key: `${pod}:${container.name}:${reason}`,
      reason,
      message: `restarted ${restarts} time${restarts === 1 ? '' : 's'}${exit}`,
      doomed: restarts >= rules.crashRestarts,
      crashed: true
    }
  }
  const key = `${pod}:${container.name}:${reason}`
  if (NEVER_HEALS.has(reason)) return { ...base, key, reason, message, doomed: true }
  const category = PULL.has(reason) ? 'pull' : CONFIG.has(reason) && !CACHE_NOT_SYNCED.test(message) ? 'config' : undefined
  if (!category) return { ...base, key, reason, message, doomed: false }
  const clock = `${pod}:${container.name}:${category}`
  current.add(clock)
  const failedFor = failing.elapsed(clock, now)
  const grace = category === 'config' ? rules.configGraceMs : NOT_FOUND.test(message) ? rules.notFoundGraceMs : rules.pullGraceMs
  return { ...base, key, reason, message, doomed: failedFor >= grace }
}

/** One line for the log and the report. */
export function describeProblem(problem: PodProblem): string {
  const where = problem.container ? `pod ${problem.pod}, container ${problem.container}` : `pod ${problem.pod}`
  return `${where}: ${problem.reason}${problem.message ? `: ${problem.message}` : ''}`
}

/**
 * The last lines of a container's log (`previous`: before its last restart), or why they could not be
 * read: the one reader behind every log tail shown (a crashed pod, a failed Job, a pre-deploy verdict).
 */
export async function readLogTail(api: KubeApi, where: { namespace: string; pod: string; container: string; previous: boolean; lines?: number }): Promise<{ lines: string[] } | { error: string }> {
  try {
    const text = (await api.podLog(where.namespace, where.pod, where.container, where.previous, where.lines)).trimEnd()
    return { lines: text ? text.split('\n') : [] }
  } catch (error) {
    return { error: errorMessage(error) }
  }
}

/** A log tail as the reasons show it: `last log lines of pod <pod>, container <container>: ...`. */
export function logTailText(pod: string, container: string, previous: boolean, lines: string[]): string {
  return `last log lines of pod ${pod}, container ${container}${previous ? ' (before its last restart)' : ''}:\n${lines.join('\n')}`
}
