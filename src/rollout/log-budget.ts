// The bound on container log lines shown while a rollout is waited on (`follow-logs`), shared by the
// platforms so that Kubernetes pods and ECS tasks are cut the same way.

/** The bound on the lines shown while waiting: the rollout's own lines stay readable. */
export const LIVE_LOG_LIMITS = { perSecond: 20, burst: 100, total: 2000 }

/**
 * A bound on the lines printed, shared by every stream of one wait: a chatty service must not bury
 * the rollout's own lines (nor fill the step log): `perSecond` on average (bursts up to `burst`),
 * `total` at most. Lines over the bound are dropped and the cut is said, once per cause.
 */
export class LogBudget {
  private tokens: number
  private last: number
  private printed = 0
  private readonly limits: { perSecond: number; burst: number; total: number }
  private readonly now: () => number

  constructor(limits: { perSecond: number; burst: number; total: number }, now: () => number = Date.now) {
    this.limits = limits
    this.now = now
    this.tokens = limits.burst
    this.last = now()
  }

  /** Whether one more line may be printed, or why not. */
  take(): true | 'rate' | 'total' {
    if (this.printed >= this.limits.total) return 'total'
    const now = this.now()
    this.tokens = Math.min(this.limits.burst, this.tokens + ((now - this.last) / 1000) * this.limits.perSecond)
    this.last = now
    if (this.tokens < 1) return 'rate'
    this.tokens--
    this.printed++
    return true
  }

  get limitsText(): string {
    return `${this.limits.perSecond} lines a second, ${this.limits.total} in all`
  }
}

/** What to say when the budget cut a line (`take()` said why). */
export function cutText(why: 'rate' | 'total', budget: LogBudget): string {
  const what = why === 'total' ? 'no more live log lines are shown' : 'live log lines are being dropped (too many at once)'
  return `${what}: the bound is ${budget.limitsText}`
}
