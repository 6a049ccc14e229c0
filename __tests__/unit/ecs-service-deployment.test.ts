// The pure readings of ECS's answers: a service's strategy for the plan line, and a service
// deployment's verdict, with shapes as DescribeServices / DescribeServiceDeployments return them.
import { describe, expect, it } from '@jest/globals'
import type { Service, ServiceDeployment } from '@aws-sdk/client-ecs'
import { assessServiceDeployment, describeStrategy, timeoutWarning } from '../../src/platforms/ecs/service-deployment/assess.js'

const ARN = 'arn:aws:ecs:us-east-1:123456789012:service-deployment/default/web/AbC123'

describe('describeStrategy', () => {
  it('reads a rolling service as ECS returns it without a strategy', () => {
    const info = describeStrategy({ deploymentConfiguration: { minimumHealthyPercent: 50, maximumPercent: 200, deploymentCircuitBreaker: { enable: true, rollback: true } } })
    expect(info).toMatchObject({ controller: 'ECS', strategy: 'ROLLING', minimumMs: 0 })
    expect(info.line).toBe('deployment controller ECS, strategy ROLLING (min 50% / max 200% of the desired count; circuit breaker on (rollback on))')
  })

  it('adds up the least duration of linear steps and the bake, and names hooks and alarms', () => {
    const service: Service = {
      deploymentConfiguration: {
        strategy: 'LINEAR',
        linearConfiguration: { stepPercent: 20, stepBakeTimeInMinutes: 5 },
        bakeTimeInMinutes: 10,
        lifecycleHooks: [{ targetType: 'PAUSE', lifecycleStages: ['POST_TEST_TRAFFIC_SHIFT'] }, { targetType: 'AWS_LAMBDA', hookTargetArn: 'arn:aws:lambda:x', lifecycleStages: ['PRE_SCALE_UP'] }],
        alarms: { enable: true, rollback: true, alarmNames: ['web-5xx'] }
      }
    }
    const info = describeStrategy(service)
    // 5 steps of 20%: 4 waits of 5 minutes between them, then 10 minutes of bake.
    expect(info.minimumMs).toBe(30 * 60_000)
    expect(info.pauseStages).toEqual(['POST_TEST_TRAFFIC_SHIFT'])
    expect(info.line).toBe('deployment controller ECS, strategy LINEAR (5 steps of 20% of production traffic, 5m apart; bake 10m after the production shift; PAUSE hook at POST_TEST_TRAFFIC_SHIFT; 1 Lambda hook; alarms web-5xx (rollback on); circuit breaker off)')
    expect(timeoutWarning(info, 10 * 60_000)).toMatch(/^'timeout' \(10m\) is shorter than the LINEAR strategy .*at least 30m/)
    expect(timeoutWarning(info, 31 * 60_000)).toBeUndefined()
  })

  it('says early success criteria in the plan line of a rolling service, and ignores them elsewhere', () => {
    const earlySuccessCriteria = { enable: true, healthyPercent: 80, sourceServiceRevisionCleanup: 'DEFERRED' as const }
    const info = describeStrategy({ deploymentConfiguration: { earlySuccessCriteria, deploymentCircuitBreaker: { enable: true, rollback: true } } })
    expect(info.earlySuccess).toEqual({ healthyPercent: 80, cleanup: 'DEFERRED' })
    expect(info.line).toBe('deployment controller ECS, strategy ROLLING (early success: SUCCESSFUL once 80% of the desired count is healthy and the bake passed, ' +
      'then scales the rest and removes the old tasks in the background (DEFERRED), unguarded by the circuit breaker and alarms: the verification after it is the only check left; circuit breaker on (rollback on))')
    expect(describeStrategy({ deploymentConfiguration: { earlySuccessCriteria: { ...earlySuccessCriteria, enable: false } } }).earlySuccess).toBeUndefined()
    // The reference: rolling deployments only.
    expect(describeStrategy({ deploymentConfiguration: { strategy: 'BLUE_GREEN', bakeTimeInMinutes: 1, earlySuccessCriteria } }).line).not.toContain('early success')
  })

  it('uses ECS defaults for canary (5% for 10 minutes)', () => {
    const info = describeStrategy({ deploymentConfiguration: { strategy: 'CANARY', bakeTimeInMinutes: 0 } })
    expect(info.minimumMs).toBe(10 * 60_000)
    expect(info.line).toContain('canary 5% for 10m, then the rest')
  })
})

describe('assessServiceDeployment', () => {
  const base: ServiceDeployment = { serviceDeploymentArn: ARN, status: 'IN_PROGRESS', lifecycleStage: 'BAKE_TIME', targetServiceRevision: { arn: 'rev', requestedTaskCount: 2, runningTaskCount: 2, pendingTaskCount: 0, requestedProductionTrafficWeight: 100, requestedTestTrafficWeight: 100 } }

  it('succeeds only at SUCCESSFUL', () => {
    expect(assessServiceDeployment(base).kind).toBe('progressing')
    expect(assessServiceDeployment({ ...base, status: 'SUCCESSFUL' }).kind).toBe('succeeded')
  })

  it('gives ECS’s rollback reason with the alarm that fired and the circuit breaker count', () => {
    const rolling = assessServiceDeployment({
      ...base,
      status: 'ROLLBACK_IN_PROGRESS',
      rollback: { reason: 'Service deployment rolled back because alarm went off.' },
      alarms: { status: 'TRIGGERED', alarmNames: ['web-5xx'], triggeredAlarmNames: ['web-5xx'] }
    })
    expect(rolling).toEqual({ kind: 'rolling-back', reason: 'Service deployment rolled back because alarm went off.; alarm web-5xx triggered' })
    const done = assessServiceDeployment({ ...base, status: 'ROLLBACK_SUCCESSFUL', statusReason: 'rolled back', deploymentCircuitBreaker: { status: 'TRIGGERED', failureCount: 3, threshold: 3 } })
    expect(done).toEqual({ kind: 'rolled-back', reason: 'rolled back; circuit breaker triggered (3 failed tasks, threshold 3)' })
    expect(assessServiceDeployment({ ...base, status: 'ROLLBACK_FAILED', statusReason: 'no revision' })).toEqual({ kind: 'failed', reason: 'ECS could not roll back service deployment AbC123: no revision' })
  })

  it('sees a PAUSE hook awaiting action, not a Lambda hook in progress', () => {
    const paused = assessServiceDeployment({ ...base, lifecycleStage: 'POST_TEST_TRAFFIC_SHIFT', lifecycleHookDetails: [{ hookId: 'h-1', targetType: 'PAUSE', status: 'AWAITING_ACTION', timeoutAction: 'ROLLBACK' }] })
    expect(paused).toMatchObject({ kind: 'paused', hookId: 'h-1', stage: 'POST_TEST_TRAFFIC_SHIFT', timeoutAction: 'ROLLBACK' })
    expect(assessServiceDeployment({ ...base, lifecycleHookDetails: [{ hookId: 'h-2', targetType: 'AWS_LAMBDA', status: 'IN_PROGRESS' }] }).kind).toBe('progressing')
  })

  it('reads STOPPED as stopped, with ECS’s reason', () => {
    expect(assessServiceDeployment({ ...base, status: 'STOPPED', statusReason: 'superseded' })).toEqual({ kind: 'stopped', reason: 'service deployment AbC123 was stopped: superseded' })
  })
})
