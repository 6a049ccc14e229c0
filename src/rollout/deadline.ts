/**
 * The time a rollout may take, and the way to stop early: one AbortSignal that fires at the deadline
 * or when the run is cancelled (the runner sends SIGINT, then SIGTERM), whichever comes first.
 */
export class Deadline {
  readonly signal: AbortSignal
  readonly expiresAt: number
  private readonly controller = new AbortController()
  private readonly timer: NodeJS.Timeout
  private readonly now: () => number

  constructor(timeoutMs: number, cancel?: AbortSignal, now: () => number = Date.now) {
    this.now = now
    this.expiresAt = now() + timeoutMs
    this.signal = this.controller.signal
    this.timer = setTimeout(() => this.controller.abort(new DeadlineExceeded(timeoutMs)), timeoutMs)
    this.timer.unref()
    if (cancel) {
      if (cancel.aborted) this.controller.abort(cancel.reason)
      else cancel.addEventListener('abort', () => this.controller.abort(cancel.reason), { once: true })
    }
  }

  remainingMs(): number {
    return Math.max(0, this.expiresAt - this.now())
  }

  /** Why waiting stopped early, if it did. */
  get stoppedBy(): 'timeout' | 'cancelled' | undefined {
    if (!this.signal.aborted) return undefined
    return this.signal.reason instanceof DeadlineExceeded ? 'timeout' : 'cancelled'
  }

  dispose(): void {
    clearTimeout(this.timer)
  }
}

export class DeadlineExceeded extends Error {
  readonly timeoutMs: number

  constructor(timeoutMs: number) {
    super(`the rollout did not finish within ${formatDuration(timeoutMs)}`)
    this.name = 'DeadlineExceeded'
    this.timeoutMs = timeoutMs
  }
}

/** The run's cancellation, or an error it caused (a call it aborted carries it as its cause). */
export function isCancellation(error: unknown): boolean {
  for (let at = error, depth = 0; at && depth < 5; at = (at as { cause?: unknown }).cause, depth++) if (at instanceof Cancelled) return true
  return false
}

export class Cancelled extends Error {
  readonly signalName: string

  constructor(signalName: string) {
    super(`the run was cancelled (${signalName})`)
    this.name = 'Cancelled'
    this.signalName = signalName
  }
}

export interface SignalOptions {
  /**
   * The run did not end in time after the first signal: write what can be written at once and exit
   * non-zero. Called at most once, on a second signal or `graceMs` after the first.
   */
  onHalt?(signals: string[]): void
  /**
   * How long after the first signal the run may take to stop and report by itself. GitHub sends SIGINT,
   * then SIGTERM 7.5 s later, then kills the process: 6 s leaves time to write a report before that.
   */
  graceMs?: number
  /** Ends the process; process.exit by default (tests pass their own). */
  exit?(code: number): void
}

/**
 * Turns the runner's SIGINT/SIGTERM into an AbortSignal. The first signal asks us to stop and report,
 * and the process exits by itself once the report is written. If it has not ended `graceMs` later, or
 * a second signal comes, `onHalt` writes a short report and the process exits with code 1, rather than
 * being killed in the middle of a write.
 */
export function cancellationOnSignals(options: SignalOptions = {}): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController()
  const graceMs = options.graceMs ?? 6000
  const exit = options.exit ?? ((code: number) => process.exit(code))
  const received: string[] = []
  let watchdog: NodeJS.Timeout | undefined
  let halted = false
  const halt = (): void => {
    if (halted) return
    halted = true
    try {
      options.onHalt?.(received)
    } finally {
      exit(1)
    }
  }
  const handlers = (['SIGINT', 'SIGTERM'] as const).map(name => {
    const handler = (): void => {
      received.push(name)
      if (received.length > 1) return halt()
      controller.abort(new Cancelled(name))
      // Unref'd: a run that ends by itself is never held up by the watchdog.
      watchdog = setTimeout(halt, graceMs)
      watchdog.unref()
    }
    process.on(name, handler)
    return () => process.off(name, handler)
  })
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(watchdog)
      handlers.forEach(off => off())
    }
  }
}

export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000)
  if (seconds < 60) return `${seconds}s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return seconds % 60 ? `${minutes}m${seconds % 60}s` : `${minutes}m`
  return `${Math.floor(minutes / 60)}h${minutes % 60 ? `${minutes % 60}m` : ''}`
}
