import type { Deployment, Service, Task } from '@aws-sdk/client-ecs'

/** Where one ECS deployment stands, judged from a DescribeServices answer alone (pure). */
export type Assessment =
  | { kind: 'progressing'; status: string; nearlyDone: boolean; failedTasks: number }
  | { kind: 'completed'; status: string }
  | { kind: 'failed'; reason: string; failedTasks: number; restoring?: Deployment }
  | { kind: 'vanished'; reason: string; restoring?: Deployment }

export function assessDeployment(service: Service, deploymentId: string): Assessment {
  const deployments = service.deployments ?? []
  const deployment = deployments.find(d => d.id === deploymentId)
  // ECS's own rollback (circuit breaker) is a new PRIMARY deployment running another task definition.
  const other = deployments.find(d => d.id !== deploymentId && d.status === 'PRIMARY')
  if (!deployment) {
    return {
      kind: 'vanished',
      reason: other
        ? `deployment ${deploymentId} is gone: ECS replaced it with ${other.id} running ${shortArn(other.taskDefinition)} (the circuit breaker rolled back)`
        : `deployment ${deploymentId} is gone from the service`,
      restoring: other
    }
  }
  const failedTasks = deployment.failedTasks ?? 0
  if (deployment.rolloutState === 'FAILED') {
    return { kind: 'failed', reason: deployment.rolloutStateReason ?? `deployment ${deploymentId} failed`, failedTasks, restoring: other }
  }
  const status = describe(deployment, deployments)
  if (deployment.rolloutState === 'COMPLETED') return { kind: 'completed', status }
  const allUp = (deployment.runningCount ?? 0) === (deployment.desiredCount ?? 0) && (deployment.pendingCount ?? 0) === 0
  // Without a rolloutState (services made before ECS had one), success is: the only deployment, all running.
  if (deployment.rolloutState === undefined && deployments.length === 1 && allUp) return { kind: 'completed', status }
  return { kind: 'progressing', status, nearlyDone: allUp, failedTasks }
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
