import { errorMessage } from '../errors.js'
import type { WaitContext, WaitOutcome } from './platform.js'
import { PollSchedule, sleep } from './poll.js'
import { isRetryable, isThrottling } from './retry.js'

export interface Observation {
  /** Set when the rollout reached its end, for good or bad. */
  outcome?: WaitOutcome
  /** Something moved since the last look: poll again soon. */
  changed: boolean
  /** Only the final word is missing: poll fast. */
  nearlyDone: boolean
  /** One line of where the rollout stands, kept for a timeout's message. */
  status: string
  /**
   * The platform knows when the next change can come (a bake of known length, a traffic step, a
   * drain): sleep this long instead of the schedule's interval (still cut short by the deadline, and
   * never shorter than a throttled interval).
   */
  waitMs?: number
}

/**
 * Looks at a rollout until it ends, the deadline passes or the run is cancelled. Throttling, server
 * errors and dropped connections slow the loop down and never end it; any other error does.
 */
export async function pollRollout(
  observe: () => Promise<Observation>,
  context: WaitContext,
  schedule: PollSchedule = new PollSchedule()
): Promise<WaitOutcome> {
  const { deadline, progress } = context
  let status = 'no answer from the server yet'
  let transientErrors = 0
  while (!deadline.signal.aborted) {
    let delayMs: number
    try {
      const observation = await observe()
      if (observation.outcome) return observation.outcome
      status = observation.status
      transientErrors = 0
      delayMs =
        observation.waitMs === undefined
          ? schedule.next(observation.changed, observation.nearlyDone)
          : schedule.hinted(observation.waitMs, observation.changed, observation.nearlyDone)
    } catch (error) {
      if (deadline.signal.aborted) break
      if (!isRetryable(error)) throw error
      transientErrors++
      delayMs = isThrottling(error) ? schedule.throttled() : schedule.next(false, false)
      progress.event(`transient:${transientErrors}:${errorMessage(error)}`, `still waiting: the server answered '${errorMessage(error)}'; trying again in ${(delayMs / 1000).toFixed(1)}s`)
    }
    await sleep(Math.min(delayMs, deadline.remainingMs()), deadline.signal)
  }
  return stoppedOutcome(context, status)
}

/** The outcome when waiting stopped before the rollout ended: the deadline passed or the run was cancelled. */
export function stoppedOutcome(context: WaitContext, status: string): WaitOutcome {
  const reason = context.deadline.signal.reason
  return context.deadline.stoppedBy === 'cancelled'
    ? { state: 'cancelled', reason: `${errorMessage(reason)}; the rollout stood at: ${status}` }
    : { state: 'timed-out', reason: `${errorMessage(reason)}; it stood at: ${status}` }
}
