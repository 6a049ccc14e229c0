// Whether the pre-deploy task ended because its command did. An exit code of 0 is not enough: a
// container stopped from outside (a Fargate Spot interruption, someone's StopTask, another essential
// container that exited first) gets SIGTERM, and a command that traps it may exit 0 with its work
// half done. ECS says why a task stopped in Task.stopCode (TaskFailedToStart, EssentialContainerExited,
// UserInitiated, ServiceSchedulerInitiated, SpotInterruption, TerminationNotice), with details in
// stoppedReason; it gives no time per container, so which essential container exited first is read
// from what following the task saw, then from the exit codes.
import type { Container, Task } from '@aws-sdk/client-ecs'

/** What following the task saw of how it ended, beside the stopped task itself. */
export interface HowItEnded {
  /** The task definition's essential containers (by name). */
  essential: string[]
  /** The reason of our own StopTask, sent because the command's (non-essential) container had exited. */
  stoppedByUs?: string
  /** Containers seen STOPPED while the command's container still ran. */
  exitedBefore: string[]
  /** The command's container was seen STOPPED while the task still ran: it ended by itself. */
  exitedOnItsOwn: boolean
  /** The command's container was seen STOPPED while every other essential container still ran: it exited first. */
  exitedFirst?: boolean
}

/** Exit codes of a container that ECS stopped: 0 (a graceful stop), 143 (SIGTERM), 137 (SIGKILL after stopTimeout). */
const STOPPED_BY_ECS = [0, 143, 137]

/**
 * Why the task did not end because the command's container `name` did, or undefined when it did:
 * the command's container exited and that stopped the task (EssentialContainerExited, nothing else
 * essential exited first), or it exited while the task ran and our own StopTask ended the rest.
 */
export function stoppedFromOutside(task: Task, name: string, how: HowItEnded): string | undefined {
  const stop = stopText(task)
  if (how.exitedOnItsOwn && !how.essential.includes(name)) return undefined
  if (task.stopCode === 'UserInitiated' && how.stoppedByUs !== undefined && task.stoppedReason === how.stoppedByUs) return undefined
  // ECS gives a stop code with every stopped task; an endpoint that gives neither code nor reason (moto)
  // leaves the containers' exits as the only evidence, as if an essential one had ended the task.
  const code = task.stopCode ?? (task.stoppedReason ? undefined : 'EssentialContainerExited')
  if (code !== 'EssentialContainerExited') {
    return `the task was stopped from outside before ${name} finished (${stop || 'ECS gave no stop code'}), so its exit code does not say the command completed`
  }
  if (!how.essential.includes(name)) {
    return `another essential container exited and stopped the task (${stop}) before ${name} (not essential) had finished`
  }
  const others = (task.containers ?? []).filter(c => c.name !== name && how.essential.includes(c.name ?? ''))
  // Seen first, the command's exit stopped the task, whatever the others exited with once ECS stopped them.
  const first = others.find(c => how.exitedBefore.includes(c.name ?? '')) ?? (how.exitedFirst ? undefined : others.find(exitedByItself))
  if (first) {
    return `essential container ${first.name} exited first (${exitText(first)}) and stopped the task (${stop}): ${name} was stopped by ECS before it finished`
  }
  return undefined
}

/** A container that ended for a reason of its own, not because ECS stopped it: a failing exit code, or a reason (OutOfMemoryError). */
function exitedByItself(container: Container): boolean {
  if (container.reason) return true
  return typeof container.exitCode === 'number' && !STOPPED_BY_ECS.includes(container.exitCode)
}

function exitText(container: Container): string {
  const code = typeof container.exitCode === 'number' ? `exit code ${container.exitCode}` : 'no exit code'
  return container.reason ? `${code}: ${clip(container.reason)}` : code
}

/** `stopCode: stoppedReason`, as ECS gave them. */
export function stopText(task: Task): string {
  return [task.stopCode, task.stoppedReason && clip(task.stoppedReason)].filter(Boolean).join(': ')
}

function clip(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim()
  return line.length > 300 ? `${line.slice(0, 300)}…` : line
}
