// Early success criteria on the scripted endpoint's rolling deployments, as the ECS API reference
// describes them (DeploymentEarlySuccessCriteria: enable, healthyPercent 0-100 of the service's
// desiredCount, sourceServiceRevisionCleanup BLOCKING | DEFERRED; rolling deployments only) and the
// developer guide ("Complete Amazon ECS rolling deployments early"):
// - Once healthyPercent of the desired count of new tasks is healthy (here: running) and the bake time
//   (deploymentConfiguration.bakeTimeInMinutes, scaled by minuteMs) has passed, ECS completes the deployment:
//   the service deployment turns SUCCESSFUL, the deployment's rolloutState COMPLETED.
// - BLOCKING: the old revision's tasks are removed (and drained: drainMs) before that; DEFERRED: after it.
// - ECS then goes on in the background: the remaining new tasks start on the rollout's own schedule and,
//   with DEFERRED, the old tasks are removed at its end. Neither the circuit breaker nor the alarms act
//   on a deployment that is no longer IN_PROGRESS.
// The statusReason wording is this endpoint's (the reference documents the field, not its text).
import type { Deployment, EcsState, Obj, Service } from './scripted-ecs-state.ts'

export const EARLY_SUCCESS_REASON = 'Service deployment completed successfully: the early success criteria were met.'

/**
 * For a rolling deployment `d` of a service with early success criteria enabled: a function the rollout
 * calls each time a new task starts (with the count running), which makes ECS's early verdict once it is
 * due. Undefined when the criteria are off (the deployment then completes as before).
 */
export function earlySuccessPlay(s: EcsState, svc: Service, d: Deployment): ((running: number) => void) | undefined {
  const config: Obj = svc.deploymentConfiguration
  const criteria = config.earlySuccessCriteria
  if (criteria?.enable !== true || (config.strategy ?? 'ROLLING') !== 'ROLLING') return undefined
  const needed = Math.ceil((d.desiredCount * (criteria.healthyPercent ?? 100)) / 100)
  const bakeMs = (config.bakeTimeInMinutes ?? 0) * s.sd.minuteMs
  const blocking = (criteria.sourceServiceRevisionCleanup ?? 'BLOCKING') === 'BLOCKING'
  const live = () => d.status === 'PRIMARY' && d.rolloutState === 'IN_PROGRESS'
  let due = false
  const succeed = () => {
    if (!live()) return
    d.rolloutState = 'COMPLETED'
    d.background = true
    d.reason = `ECS deployment ${d.id} completed.`
    d.updatedAt = s.clock
    svc.lastGood = d.taskDef
    svc.lastGoodDeployment = { id: d.id, createdAt: d.createdAt }
    s.settled.set(d.id, s.clock)
    s.event(svc, `(service ${svc.name}) (deployment ${d.id}) deployment completed.`)
    s.sd.completedEarly(d, EARLY_SUCCESS_REASON)
  }
  return running => {
    if (due || running < needed) return
    due = true
    s.at(s.clock + bakeMs, () => {
      if (!live()) return
      if (!blocking) return succeed()
      const old = svc.tasks.filter(t => t.lastStatus === 'RUNNING' && t.deploymentId !== d.id)
      if (old.length) s.stopTasks(svc, old, d)
      s.at(s.clock + s.drainMs, succeed)
    })
  }
}
