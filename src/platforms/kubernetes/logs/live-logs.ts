// Live container logs while the rollout is waited on (`follow-logs`): the chosen container of the new
// pods of our revision, as krane, kapp and nelm show them. `one` follows the first pod of our revision
// whose container started and moves to another when that pod goes (replaced, evicted, scaled away) or
// its container starts again; `all` follows every one. The streams end when the wait ends.
import type { KubernetesSettings } from '../../../request.js'
import type { Progress } from '../../../rollout/progress.js'
import type { KubeApi } from '../api/client.js'
import { LogBudget, LogFollower } from './log-follower.js'
import type { ContainerStatus, PodState } from '../workloads/pods.js'
import { LIVE_LOG_LIMITS } from '../../../rollout/log-budget.js'

/** The bound on the lines shown while waiting (shared with ECS in src/rollout/log-budget.ts). */
export { LIVE_LOG_LIMITS }

export type FollowLogs = NonNullable<KubernetesSettings['followLogs']>

export interface LiveLogSettings {
  mode: FollowLogs
  /** The `container` input: the containers given the new image (empty: the one named like the workload, else the first). */
  containers: string[]
}

/** A pod as the watch lists it: its containers' names are what the chosen container is picked from. */
export type LivePod = PodState & { metadata: PodState['metadata'] & { creationTimestamp?: string }; spec?: { containers?: Array<{ name: string }> } }

interface Followed {
  follower: LogFollower
  /** The pod, container and its restart count: a restarted container is a new log. */
  key: string
}

/** The container whose log is shown: the first given the new image, else the one named like the workload, else the first. */
export function chosenContainer(pod: LivePod, workload: string, containers: string[]): string | undefined {
  const names = (pod.spec?.containers ?? []).map(c => c.name)
  return names.find(n => containers.includes(n)) ?? names.find(n => n === workload) ?? names[0]
}

function started(status: ContainerStatus | undefined): boolean {
  return Boolean(status?.state?.running)
}

export class LiveLogs {
  private readonly followed = new Map<string, Followed>()
  private readonly budget = new LogBudget(LIVE_LOG_LIMITS)
  private readonly api: KubeApi
  private readonly progress: Progress
  private readonly settings: LiveLogSettings

  constructor(api: KubeApi, progress: Progress, settings: LiveLogSettings) {
    this.api = api
    this.progress = progress
    this.settings = settings
  }

  /**
   * Called on every pass of the wait with the new pods of our revision, by workload: starts, keeps or
   * moves the streams. Only a running container is followed: a waiting one has no log yet.
   */
  update(revisionPods: Array<{ workload: string; namespace: string; pods: LivePod[] }>): void {
    if (this.settings.mode === 'off') return
    const candidates = revisionPods.flatMap(({ workload, namespace, pods }) =>
      pods
        .filter(pod => !pod.metadata.deletionTimestamp)
        .flatMap(pod => {
          const container = chosenContainer(pod, workload, this.settings.containers)
          const status = pod.status?.containerStatuses?.find(c => c.name === container)
          if (!container || !started(status)) return []
          const startedAt = String(status?.state?.running?.startedAt ?? pod.metadata.creationTimestamp ?? '')
          return [{ namespace, pod: pod.metadata.name, container, startedAt, key: `${pod.metadata.name}/${container}#${status?.restartCount ?? 0}` }]
        })
    )
    // The first to start first: the pod followed by `one` is the oldest of our revision still there.
    candidates.sort((a, b) => a.startedAt.localeCompare(b.startedAt) || a.pod.localeCompare(b.pod))
    const wanted = this.settings.mode === 'one' ? this.keepOrFirst(candidates) : candidates
    const keys = new Set(wanted.map(c => c.key))
    for (const [pod, followed] of this.followed) {
      if (keys.has(followed.key)) continue
      // Gone, replaced or restarted: its stream ends (what it still delivers is printed first).
      this.followed.delete(pod)
      void followed.follower.stop(0)
    }
    for (const c of wanted) {
      if (this.followed.has(c.pod)) continue
      const label = `${c.pod}/${c.container}`
      const follower = new LogFollower(this.progress, label, `live:${c.key}`, this.budget)
      this.progress.event(`live-log-start:${c.key}`, `following the log of pod ${c.pod}, container ${c.container} (follow-logs: ${this.settings.mode})`)
      follower.start(this.api, c.namespace, c.pod, c.container)
      this.followed.set(c.pod, { follower, key: c.key })
    }
  }

  /** With `one`: the pod followed now while it is still there (and its container has not restarted), else the first. */
  private keepOrFirst<T extends { key: string }>(candidates: T[]): T[] {
    const current = [...this.followed.values()].map(f => f.key)
    const kept = candidates.find(c => current.includes(c.key))
    return kept ? [kept] : candidates.slice(0, 1)
  }

  /** Ends every stream: the wait is over. */
  async stop(): Promise<void> {
    const all = [...this.followed.values()]
    this.followed.clear()
    await Promise.all(all.map(f => f.follower.stop(0)))
  }
}
