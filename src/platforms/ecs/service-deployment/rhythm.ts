// How often a rollout is looked at, by phase (README, "Polling follows the strategy"). The end of a
// deployment can come at any moment while its tasks are pending or starting, so those phases are looked
// at every 1 to 2 s; bakes of known length and drains are slow phases, looked at rarely except near
// their known end. Used by the service-deployment follower and by the DescribeServices fallback.
import type { ServiceDeployment } from '@aws-sdk/client-ecs'
import { allTargetTasksUp, bakeOf } from './assess.js'

/** How long after the new tasks are all up an ELB target group's deregistration delay (300 s by default) ends. */
const DRAIN_DEFAULT_MS = 300_000
/** While tasks are pending or starting: never longer than this between two looks (the end can come at any moment). */
export const STARTING_MAX_MS = 2000
/** The service (events, whose rollout) is read at least this often while stages move, and in slow phases. */
const SERVICE_EVERY_MS = 10_000
const SERVICE_EVERY_SLOW_MS = 60_000
const SERVICE_EVERY_DRAIN_MS = 20_000

/** Jitter of ±10 %, so parallel deploys do not poll in step (never past the ceiling they are given). */
export function jitter(ms: number, random: () => number = Math.random): number {
  return Math.round(ms * (0.9 + 0.2 * random()))
}

/**
 * With every new task up and the old ones draining (time `quietMs` so far): every second for 10 s (most
 * rollouts end there), every 2 s until 30 s, every 6 s until just before the ELB's default 300 s
 * deregistration delay ends, every second around it, then every 3 s. A drain of unknown length cannot
 * have both: at most 20 calls a minute and its end seen within a second; the default delay's end is.
 */
export function drainLookMs(quietMs: number, random: () => number = Math.random): number {
  if (quietMs < 10_000) return jitter(1000, random)
  if (quietMs < 30_000) return Math.min(jitter(2000, random), STARTING_MAX_MS)
  if (quietMs < DRAIN_DEFAULT_MS - 15_000) return Math.min(jitter(6000, random), DRAIN_DEFAULT_MS - 15_000 - quietMs + 1)
  if (quietMs < DRAIN_DEFAULT_MS + 15_000) return jitter(1000, random)
  return jitter(3000, random)
}

/**
 * The rhythm of one rollout: 1 s while stages move; tasks pending or starting: from 1 s backing off to
 * 2 s at most; in a bake (known length) every 30 s until 5 s before its end, then every second; a drain
 * by `drainLookMs`.
 */
export class LookRhythm {
  /** When the bake under way ends (0: none). */
  bakeEndsAt = 0
  private bakeKey = ''
  private quietSince: number | undefined
  private idleMs = 1000
  private readonly random: () => number

  constructor(random: () => number = Math.random) {
    this.random = random
  }

  /** The next look at a service deployment read at `now`; `changed`: something moved since the last look. */
  next(sd: ServiceDeployment, changed: boolean, now: number): number {
    const bake = bakeOf(sd, undefined)
    if (bake !== undefined) {
      const key = `${sd.lifecycleStage}:${sd.targetServiceRevision?.requestedProductionTrafficWeight}`
      if (key !== this.bakeKey) {
        this.bakeKey = key
        this.bakeEndsAt = now + bake
      }
    } else {
      this.bakeEndsAt = 0
    }
    const remaining = this.bakeEndsAt - now
    // Wake 5 s before the end (never jittered past it), then look every second.
    if (remaining > 10_000) return Math.min(jitter(30_000, this.random), remaining - 5_000)
    if (remaining > 0) return jitter(1000, this.random)
    return this.tasks(allTargetTasksUp(sd) && sd.status === 'IN_PROGRESS', changed, now)
  }

  /**
   * The DescribeServices fallback and the rolling phases: `allUp` (every new task runs, only the old
   * ones' drain or ECS's final word is missing) is a drain; else tasks are pending or starting.
   */
  tasks(allUp: boolean, changed: boolean, now: number): number {
    if (allUp) {
      this.quietSince ??= now
      return drainLookMs(now - this.quietSince, this.random)
    }
    this.quietSince = undefined
    this.idleMs = changed ? 1000 : Math.min(this.idleMs * 1.5, STARTING_MAX_MS)
    return Math.min(jitter(this.idleMs, this.random), STARTING_MAX_MS)
  }

  /**
   * How often the service (events, stopped tasks) is read besides the service deployment: every 10 s
   * while stages move, every 60 s in a long bake or a pause we wait at, every 20 s in a drain (new
   * tasks that die and are replaced show only in its events).
   */
  serviceEveryMs(sd: ServiceDeployment, waitingAtPause: boolean, now: number): number {
    if (waitingAtPause) return SERVICE_EVERY_SLOW_MS
    if (this.bakeEndsAt - now > 10_000 && bakeOf(sd, undefined) !== undefined) return SERVICE_EVERY_SLOW_MS
    return this.quietSince !== undefined && now - this.quietSince >= 10_000 ? SERVICE_EVERY_DRAIN_MS : SERVICE_EVERY_MS
  }
}
