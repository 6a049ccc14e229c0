export interface PollOptions {
  firstMs: number
  maxMs: number
  /** Ceiling while the end is near (the new revision is up, only the final word is missing). */
  nearMs: number
  factor: number
  throttledMaxMs: number
}

export const DEFAULT_POLL: PollOptions = { firstMs: 1000, maxMs: 10_000, nearMs: 1000, factor: 1.5, throttledMaxMs: 30_000 }

/**
 * How long to wait before the next look at a rollout. Fast while things change or the end is near
 * (so success and failure are noticed within a second or two), backing off towards 10 s while nothing
 * happens, and slower still after throttling. Jitter keeps many parallel deploys from polling in step.
 */
export class PollSchedule {
  private intervalMs: number
  private throttledUntilQuiet = false
  private readonly options: PollOptions
  private readonly random: () => number

  constructor(options: Partial<PollOptions> = {}, random: () => number = Math.random) {
    this.options = { ...DEFAULT_POLL, ...options }
    this.random = random
    this.intervalMs = this.options.firstMs
  }

  /**
   * @param changed something moved since the last look (counts, events, states)
   * @param nearlyDone the new revision is fully up and only the final word is missing
   */
  next(changed: boolean, nearlyDone: boolean): number {
    const { firstMs, maxMs, nearMs, factor } = this.options
    if (changed && !this.throttledUntilQuiet) this.intervalMs = firstMs
    else this.intervalMs = Math.min(this.intervalMs * factor, this.throttledUntilQuiet ? this.options.throttledMaxMs : maxMs)
    this.throttledUntilQuiet = false
    const base = nearlyDone ? Math.min(this.intervalMs, nearMs) : this.intervalMs
    return Math.round(base * (0.8 + 0.4 * this.random()))
  }

  /**
   * The platform's own time for the next look (a bake's end, a traffic step), unless the server just
   * asked us to slow down: then the throttled interval, if longer, wins.
   */
  hinted(waitMs: number, changed: boolean, nearlyDone: boolean): number {
    const throttled = this.throttledUntilQuiet
    const scheduled = this.next(changed, nearlyDone)
    return throttled ? Math.max(waitMs, scheduled) : waitMs
  }

  /** The server asked us to slow down: double the interval, beyond the usual ceiling if need be. */
  throttled(): number {
    this.intervalMs = Math.min(this.intervalMs * 2, this.options.throttledMaxMs)
    this.throttledUntilQuiet = true
    return Math.round(this.intervalMs * (0.8 + 0.4 * this.random()))
  }
}

/** Sleeps, waking early (without throwing) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise(resolve => {
    if (signal?.aborted) return resolve()
    const timer = setTimeout(done, ms)
    function done(): void {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}
