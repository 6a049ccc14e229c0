// Stopping the pre-deploy task: only the task our own RunTask answer named, proven by a DescribeTasks
// made at that moment (ifOurs), and, after a timeout, following it until its command's container has
// exited, so that the awslogs driver has sent its last lines before they are read.
import type { Task } from '@aws-sdk/client-ecs'
import { errorMessage } from '../../../errors.js'
import { ifOurs, isNotOurs, type Proof } from '../../../rollout/ownership.js'
import { sleep } from '../../../rollout/poll.js'
import { shortArn } from '../assess.js'
import type { EcsApi } from '../client.js'
import { OneOffTaskApi } from './client.js'

/** StopTask, and the read that proves the task ours, each within this bound: the run is ending. */
export const STOP_WITHIN_MS = 5_000
/** How long ECS gives a container between SIGTERM and SIGKILL when its definition does not say (stopTimeout). */
const DEFAULT_STOP_TIMEOUT_S = 30
/** Past the SIGKILL: the agent reporting the container stopped. */
const EXIT_REPORTED_WITHIN_MS = 10_000

/** What our RunTask answered: the one task this run may stop. */
export interface StartedTask {
  taskArn: string
  /** `deploy-service/<service>/<run id>`: how this run started it. */
  startedBy: string
}

/**
 * The read before a StopTask. The task is ours when it is the one our RunTask answer named (a task ARN
 * is never reused, so that answer is the proof of creation), a DescribeTasks made now shows it with
 * our startedBy, and it has not already stopped. A task DescribeTasks does not show (MISSING, or the
 * call fails) is still the one our RunTask answered with: it is stopped on that proof alone.
 */
export async function proveTaskOurs(api: EcsApi, ran: StartedTask, signal: AbortSignal): Promise<Proof<{ taskArn: string }>> {
  const id = shortArn(ran.taskArn)
  let seen: Task | undefined
  let unreadable: string | undefined
  try {
    ;[seen] = await api.describeTasks([ran.taskArn], signal)
  } catch (error) {
    unreadable = errorMessage(error)
  }
  if (!seen) {
    const why = unreadable ? `DescribeTasks could not be read (${unreadable})` : 'DescribeTasks does not show it (MISSING)'
    return { ours: true, precondition: { taskArn: ran.taskArn }, evidence: `RunTask answered with task ${id} for this run; ${why}` }
  }
  if (seen.taskArn !== ran.taskArn) return { ours: false, found: `DescribeTasks answered with ${seen.taskArn ?? 'no task'}, not ${ran.taskArn}` }
  if (seen.startedBy !== ran.startedBy) {
    return { ours: false, found: `task ${id} was started by '${clip(seen.startedBy ?? '')}'`, owner: `not this run (${ran.startedBy})` }
  }
  if (seen.lastStatus === 'STOPPED') {
    const stop = [seen.stopCode, seen.stoppedReason && clip(seen.stoppedReason)].filter(Boolean).join(': ')
    return { ours: false, found: `task ${id} had already stopped${stop ? ` (${stop})` : ''}` }
  }
  return { ours: true, precondition: { taskArn: ran.taskArn }, evidence: `task ${id} is the one RunTask started for this run (startedBy ${ran.startedBy}), ${seen.lastStatus}` }
}

/**
 * StopTask of our task, proven ours right before (each within a bound of its own: the run is ending,
 * and a cancellation must not leave the task running). Says what happened, or how to stop it by hand.
 */
export async function stopOurTask(api: EcsApi, ran: StartedTask, reason: string): Promise<{ stopped: boolean; text: string }> {
  try {
    await ifOurs(`stop task ${shortArn(ran.taskArn)}`, () => proveTaskOurs(api, ran, AbortSignal.timeout(STOP_WITHIN_MS)), owned =>
      new OneOffTaskApi(api).stop(owned, `deploy-service: ${reason}`, AbortSignal.timeout(STOP_WITHIN_MS)))
    return { stopped: true, text: 'it was stopped (StopTask: ECS sends SIGTERM, then SIGKILL 30 s later)' }
  } catch (error) {
    if (isNotOurs(error)) return { stopped: false, text: `StopTask was not sent: ${error.found}${error.owner ? ` (${error.owner})` : ''}` }
    return { stopped: false, text: `it could NOT be stopped (${errorMessage(error)}): stop it by hand: aws ecs stop-task --cluster ${api.cluster} --task ${ran.taskArn}` }
  }
}

/**
 * After our StopTask: follows the task until `container` has exited (the awslogs driver sends its
 * last lines, a trap's among them, when the container exits), for at most the container's
 * stopTimeout and the agent's report. Ends early on `signal` (a cancellation). Returns the task as
 * last seen, if it could be read.
 */
export async function waitExited(api: EcsApi, arn: string, container: string, stopTimeoutS: number | undefined, signal: AbortSignal): Promise<Task | undefined> {
  const until = AbortSignal.any([signal, AbortSignal.timeout((stopTimeoutS ?? DEFAULT_STOP_TIMEOUT_S) * 1000 + EXIT_REPORTED_WITHIN_MS)])
  let last: Task | undefined
  let intervalMs = 250
  while (!until.aborted) {
    try {
      ;[last] = await api.describeTasks([arn], until)
    } catch {
      return last
    }
    const mine = last?.containers?.find(c => c.name === container)
    if (!last || last.lastStatus === 'STOPPED' || mine?.lastStatus === 'STOPPED') return last
    await sleep(intervalMs, until)
    intervalMs = Math.min(intervalMs * 2, 2000)
  }
  return last
}

function clip(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim()
  return line.length > 200 ? `${line.slice(0, 200)}…` : line
}
