// The rules that decide whose rollout it is, and when failing tasks fail it, as pure functions.
import type { Deployment, Service } from '@aws-sdk/client-ecs'
import { describe, expect, it } from '@jest/globals'
import { assessDeployment, failureThreshold, isFailedTask, type Followed } from '../../src/platforms/ecs/assess.js'

const td = (n: number): string => `arn:aws:ecs:us-east-1:123456789012:task-definition/web:${n}`
const ours: Deployment = { id: 'ecs-svc/2', status: 'PRIMARY', taskDefinition: td(2), desiredCount: 2, runningCount: 1, pendingCount: 1, rolloutState: 'IN_PROGRESS', rolloutStateReason: 'ECS deployment ecs-svc/2 in progress.' }
const followed: Followed = { deploymentId: 'ecs-svc/2', revision: td(2), previousRevision: td(1), newEvents: [] }
const breaker = (enable: boolean, rollback: boolean) => ({ deploymentCircuitBreaker: { enable, rollback } })
const service = (deployments: Deployment[], config = breaker(true, true)): Service => ({ deployments, deploymentConfiguration: config, desiredCount: 2 })
const replaced = (d: Deployment, more: Partial<Deployment> = {}): Deployment => ({ ...d, status: 'ACTIVE', ...more })

describe('whose rollout: ECS’s own rollback', () => {
  it('is ECS’s rollback when the new PRIMARY says the circuit breaker is rolling back, even under an older id and date', () => {
    const back: Deployment = { id: 'ecs-svc/1', status: 'PRIMARY', taskDefinition: td(1), createdAt: new Date(0), rolloutState: 'IN_PROGRESS', rolloutStateReason: 'ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1.' }
    const failed = replaced(ours, { rolloutState: 'FAILED', rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.' })
    expect(assessDeployment(service([back, failed]), followed)).toEqual({ kind: 'failed', reason: 'ECS deployment circuit breaker: tasks failed to start.', restoring: back })
  })

  it('is ECS’s rollback when ours FAILED and the previous revision is back, with the breaker’s rollback on', () => {
    const back: Deployment = { id: 'ecs-svc/1', status: 'PRIMARY', taskDefinition: td(1), rolloutState: 'IN_PROGRESS' }
    const failed = replaced(ours, { rolloutState: 'FAILED', rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.' })
    expect(assessDeployment(service([back, failed]), followed)).toMatchObject({ kind: 'failed', restoring: back })
  })

  it('is ECS’s rollback when ours vanished and an event says it failed', () => {
    const back: Deployment = { id: 'ecs-svc/1', status: 'PRIMARY', taskDefinition: td(1), rolloutState: 'IN_PROGRESS', rolloutStateReason: 'ECS deployment ecs-svc/1 in progress.' }
    const events = ['(service web) (deployment ecs-svc/2) deployment failed: tasks failed to start.']
    expect(assessDeployment(service([back]), { ...followed, newEvents: events })).toMatchObject({ kind: 'failed', restoring: back })
  })
})

describe('whose rollout: someone else’s change', () => {
  it('is superseded by a person who puts the previous revision back by hand while ours is still IN_PROGRESS', () => {
    const theirs: Deployment = { id: 'ecs-svc/3', status: 'PRIMARY', taskDefinition: td(1), rolloutState: 'IN_PROGRESS', rolloutStateReason: 'ECS deployment ecs-svc/3 in progress.' }
    expect(assessDeployment(service([theirs, replaced(ours)]), followed)).toMatchObject({ kind: 'superseded', by: theirs, ours: { id: 'ecs-svc/2' } })
  })

  it('is superseded when the previous revision came back but the breaker’s rollback is off (so ECS did not do it)', () => {
    const theirs: Deployment = { id: 'ecs-svc/3', status: 'PRIMARY', taskDefinition: td(1), rolloutState: 'IN_PROGRESS', rolloutStateReason: 'ECS deployment ecs-svc/3 in progress.' }
    const failed = replaced(ours, { rolloutState: 'FAILED', rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.' })
    expect(assessDeployment(service([theirs, failed], breaker(true, false)), followed).kind).toBe('superseded')
  })

  it('is superseded by another revision, also after ours had failed, and also when ours is gone', () => {
    const theirs: Deployment = { id: 'ecs-svc/3', status: 'PRIMARY', taskDefinition: td(3), rolloutState: 'IN_PROGRESS', rolloutStateReason: 'ECS deployment ecs-svc/3 in progress.' }
    const failed = replaced(ours, { rolloutState: 'FAILED', rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.' })
    expect(assessDeployment(service([theirs, failed]), followed)).toMatchObject({ kind: 'superseded', by: theirs })
    expect(assessDeployment(service([theirs]), followed)).toMatchObject({ kind: 'superseded', by: theirs, ours: undefined })
  })

  it('follows a redeploy of our own revision', () => {
    const again: Deployment = { id: 'ecs-svc/4', status: 'PRIMARY', taskDefinition: td(2), rolloutState: 'IN_PROGRESS' }
    expect(assessDeployment(service([again, replaced(ours)]), followed)).toEqual({ kind: 'redeployed', by: again })
  })

  it('keeps a rollout that COMPLETED before anything replaced it a success', () => {
    const theirs: Deployment = { id: 'ecs-svc/3', status: 'PRIMARY', taskDefinition: td(3), rolloutState: 'IN_PROGRESS' }
    expect(assessDeployment(service([theirs, replaced(ours, { rolloutState: 'COMPLETED' })]), followed).kind).toBe('completed')
  })
})

describe('failing tasks without a circuit breaker', () => {
  it('uses the circuit breaker’s threshold: half the desired count, at least 3, at most 200', () => {
    expect([0, 1, 2, 6, 7, 8, 250, 400, 1000].map(failureThreshold)).toEqual([3, 3, 3, 3, 4, 4, 125, 200, 200])
  })

  it('counts tasks that failed to start, exited or failed health checks, not those scaled in or stopped by a person', () => {
    expect(isFailedTask({ stopCode: 'TaskFailedToStart', stoppedReason: 'CannotPullContainerError: not found' })).toBe(true)
    expect(isFailedTask({ stopCode: 'EssentialContainerExited', stoppedReason: 'Essential container in task exited' })).toBe(true)
    expect(isFailedTask({ stopCode: 'ServiceSchedulerInitiated', stoppedReason: 'Task failed ELB health checks in (target-group arn:x)' })).toBe(true)
    expect(isFailedTask({ stopCode: 'ServiceSchedulerInitiated', stoppedReason: 'Task failed container health checks' })).toBe(true)
    expect(isFailedTask({ stopCode: 'ServiceSchedulerInitiated', stoppedReason: 'Scaling activity initiated by (deployment ecs-svc/3)' })).toBe(false)
    expect(isFailedTask({ stopCode: 'UserInitiated', stoppedReason: 'Task stopped by user' })).toBe(false)
    expect(isFailedTask({ stopCode: 'SpotInterruption', stoppedReason: 'Your Spot Task was interrupted.' })).toBe(false)
  })
})
