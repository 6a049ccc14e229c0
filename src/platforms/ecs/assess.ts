import type { Deployment, Service, Task } from '@aws-sdk/client-ecs'

/** The deployment being followed, and what counts as "ours" around it. */
export interface Followed {
  /** The deployment followed now: the one our UpdateService made, or a redeploy of our revision. */
  deploymentId: string
  /** Our task definition. */
  revision: string
  /** What ran before ours: where ECS's own rollback goes back to. */
  previousRevision?: string
  /** Service events that arrived since our update (messages), for ECS's "rolling back" signal. */
  newEvents: string[]
}

/** Where one ECS deployment stands, judged from a DescribeServices answer alone (pure). */
export type Assessment =
  | { kind: 'progressing'; status: string; nearlyDone: boolean; failedTasks: number; runningCount: number; desiredCount: number }
  | { kind: 'completed'; status: string }
  | { kind: 'failed'; reason: string; restoring?: Deployment }
  /** Someone else's deployment of another revision took over: follow nothing more, undo nothing. */
  | { kind: 'superseded'; by: Deployment; ours?: Deployment }
  /** Someone else redeployed our revision (force-new-deployment): follow theirs instead. */
  | { kind: 'redeployed'; by: Deployment }

const BREAKER_ROLLING_BACK = /circuit breaker: rolling back/i

/**
 * Whose rollout is it now? ECS has one PRIMARY deployment, the one it rolls towards. When that is not
 * the deployment we follow, one of three things happened:
 * - ECS's own rollback. The deployment circuit breaker failed ours and put the last COMPLETED
 *   deployment back; ECS says so itself: that PRIMARY's rolloutStateReason is 'ECS deployment circuit
 *   breaker: rolling back to deploymentId ...' (it may keep its old id and createdAt, so "newer than
 *   ours" is no test). Where the reason is missing we accept it only with every other ECS signal:
 *   the breaker's rollback is on, the PRIMARY runs our previous revision, and ours is FAILED, or ours
 *   vanished with an event saying it failed or is rolling back (or with no rolloutStateReason at all,
 *   which ECS never leaves on a deployment someone started).
 * - Someone redeployed our own revision (UpdateService --force-new-deployment): follow that one.
 * - Anything else is someone else's change: a person who puts the previous revision back by hand
 *   leaves ours IN_PROGRESS (not FAILED) and their deployment's reason says 'in progress', not
 *   'rolling back', so it lands here and is superseded, never followed as a rollback, never undone.
 */
export function assessDeployment(service: Service, followed: Followed): Assessment {
  const { deploymentId } = followed
  const deployments = service.deployments ?? []
  const ours = deployments.find(d => d.id === deploymentId)
  // It finished before anything else happened: a later change does not undo that it completed.
  if (ours?.rolloutState === 'COMPLETED') return { kind: 'completed', status: describe(ours, deployments) }
  const primary = deployments.find(d => d.status === 'PRIMARY' && d.id !== deploymentId)
  if (primary) {
    if (isEcsRollback(service, followed, ours, primary)) {
      const reason = ours
        ? ours.rolloutStateReason ?? `deployment ${deploymentId} failed`
        : `deployment ${deploymentId} is gone: ECS replaced it with ${primary.id} running ${shortArn(primary.taskDefinition)} (the circuit breaker rolled back)`
      return { kind: 'failed', reason, restoring: primary }
    }
    if (primary.taskDefinition === followed.revision) return { kind: 'redeployed', by: primary }
    return { kind: 'superseded', by: primary, ours }
  }
  if (!ours) return { kind: 'failed', reason: `deployment ${deploymentId} is gone from the service, and no other deployment took its place` }
  const failedTasks = ours.failedTasks ?? 0
  if (ours.rolloutState === 'FAILED') return { kind: 'failed', reason: ours.rolloutStateReason ?? `deployment ${deploymentId} failed` }
  const status = describe(ours, deployments)
  const runningCount = ours.runningCount ?? 0
  const desiredCount = ours.desiredCount ?? 0
  const allUp = runningCount === desiredCount && (ours.pendingCount ?? 0) === 0
  // Without a rolloutState (services made before ECS had one), success is: the only deployment, all running.
  if (ours.rolloutState === undefined && deployments.length === 1 && allUp) return { kind: 'completed', status }
  return { kind: 'progressing', status, nearlyDone: allUp, failedTasks, runningCount, desiredCount }
}

function isEcsRollback(service: Service, followed: Followed, ours: Deployment | undefined, primary: Deployment): boolean {
  if (BREAKER_ROLLING_BACK.test(primary.rolloutStateReason ?? '')) return true
  const breaker = service.deploymentConfiguration?.deploymentCircuitBreaker
  if (!breaker?.enable || !breaker.rollback || !followed.previousRevision) return false
  if (primary.taskDefinition !== followed.previousRevision) return false
  if (ours) return ours.rolloutState === 'FAILED'
  const failedEvent = followed.newEvents.some(m => m.includes(`(deployment ${followed.deploymentId})`) && /deployment failed|rolling back/i.test(m))
  return failedEvent || primary.rolloutStateReason === undefined
}

/** Whether ECS's circuit breaker watches this service (and fails deployments whose tasks fail to start). */
export function circuitBreakerOn(service: Service): boolean {
  return service.deploymentConfiguration?.deploymentCircuitBreaker?.enable === true
}

/**
 * How many failed tasks fail a rollout when ECS's circuit breaker is off: the breaker's own rule,
 * "a minimum threshold of 3 and a maximum threshold of 200 ... 0.5 * desired task count" (ECS API
 * reference, ServiceDeploymentCircuitBreaker.threshold; ThresholdConfiguration's default is
 * BOUNDED_PERCENT 50). Half counts rounded up.
 */
export function failureThreshold(desiredCount: number): number {
  return Math.min(200, Math.max(3, Math.ceil(0.5 * desiredCount)))
}

/**
 * A stopped task that counts as a failure of the rollout: it failed to start, its essential
 * container exited, or the scheduler stopped it for failed health checks. Tasks the scheduler
 * stopped to scale or replace a deployment, stopped by a person (UserInitiated) or by the
 * infrastructure (Spot interruption, instance termination) say nothing about the new revision.
 */
export function isFailedTask(task: Task): boolean {
  if (task.stopCode === 'TaskFailedToStart' || task.stopCode === 'EssentialContainerExited') return true
  return task.stopCode === 'ServiceSchedulerInitiated' && /health ?check/i.test(task.stoppedReason ?? '')
}

function describe(deployment: Deployment, all: Deployment[]): string {
  const old = all.filter(d => d.id !== deployment.id)
  const oldRunning = old.reduce((sum, d) => sum + (d.runningCount ?? 0), 0)
  const parts = [
    `${deployment.rolloutState ?? deployment.status ?? 'IN_PROGRESS'}`,
    `${deployment.runningCount ?? 0}/${deployment.desiredCount ?? 0} running`,
    `${deployment.pendingCount ?? 0} pending`
  ]
  if (deployment.failedTasks) parts.push(`${deployment.failedTasks} failed`)
  if (old.length > 0) parts.push(`old: ${oldRunning} running in ${old.length} deployment${old.length > 1 ? 's' : ''}`)
  return parts.join(', ')
}

/** Why a task stopped, in one line: its stopped reason and each container's reason and exit code. */
export function stoppedTaskReason(task: Task): { id: string; why: string } {
  const id = (task.taskArn ?? '').split('/').pop() ?? ''
  const containers = (task.containers ?? [])
    .filter(c => c.reason || (c.exitCode !== undefined && c.exitCode !== 0))
    .map(c => `${c.name}: ${[c.reason, c.exitCode !== undefined ? `exit code ${c.exitCode}` : ''].filter(Boolean).join(', ')}`)
  const stop = [task.stopCode, task.stoppedReason].filter(Boolean).join(': ')
  return { id, why: `${stop || 'no reason given'}${containers.length ? ` (${containers.join('; ')})` : ''}` }
}

/** `arn:aws:ecs:...:task-definition/web:7` -> `web:7`. */
export function shortArn(arn: string | undefined): string {
  return (arn ?? '').split('/').pop() ?? ''
}

/** `...task-definition/web:7` (or `web:7`) -> 7; 0 when it names no revision. */
export function revisionNumber(arn: string): number {
  return Number(/:(\d+)$/.exec(arn)?.[1] ?? 0)
}
