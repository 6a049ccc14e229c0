import type { DeploymentConfiguration, Service, ServiceDeployment } from '@aws-sdk/client-ecs'
import { formatDuration } from '../../../rollout/deadline.js'
import { shortArn } from '../assess.js'
import { earlySuccessLine, earlySuccessOf, type EarlySuccess } from './early-success.js'

/** What the service's deployment configuration makes of a deploy: one line for the plan, and its least duration. */
export interface StrategyInfo {
  /** ECS, CODE_DEPLOY or EXTERNAL. */
  controller: string
  /** ROLLING, BLUE_GREEN, LINEAR or CANARY. */
  strategy: string
  /** `deployment controller ECS, strategy BLUE_GREEN (bake 30m; PAUSE hook at POST_TEST_TRAFFIC_SHIFT; ...)`. */
  line: string
  /** The least time ECS itself takes: bake times and linear/canary step bakes (not counting task starts). */
  minimumMs: number
  /** Lifecycle stages with a PAUSE hook. */
  pauseStages: string[]
  /** A rolling deployment that ECS calls SUCCESSFUL early (deploymentConfiguration.earlySuccessCriteria). */
  earlySuccess?: EarlySuccess
}

/**
 * One minute of ECS's bake and step times, in ms. DEPLOY_SERVICE_ECS_MINUTE_MS shortens it for the
 * scripted endpoint's scaled time (tests and benchmarks only; never set it in a workflow).
 */
export function minuteMs(): number {
  const scaled = Number(process.env.DEPLOY_SERVICE_ECS_MINUTE_MS)
  return Number.isFinite(scaled) && scaled > 0 ? scaled : 60_000
}

/** Reads the controller and deployment configuration as ECS returns them in DescribeServices (pure). */
export function describeStrategy(service: Service): StrategyInfo {
  const controller = service.deploymentController?.type ?? 'ECS'
  const config: DeploymentConfiguration = service.deploymentConfiguration ?? {}
  const strategy = config.strategy ?? 'ROLLING'
  const parts: string[] = []
  let minimumMs = 0
  const earlySuccess = earlySuccessOf(config)
  if (strategy === 'ROLLING') {
    if (config.minimumHealthyPercent !== undefined || config.maximumPercent !== undefined) {
      parts.push(`min ${config.minimumHealthyPercent ?? 100}% / max ${config.maximumPercent ?? 200}% of the desired count`)
    }
    if (earlySuccess) parts.push(earlySuccessLine(earlySuccess))
  } else {
    if (strategy === 'LINEAR') {
      const step = config.linearConfiguration?.stepPercent ?? 10
      const bake = config.linearConfiguration?.stepBakeTimeInMinutes ?? 6
      const steps = Math.ceil(100 / step)
      minimumMs += (steps - 1) * bake * minuteMs()
      parts.push(`${steps} steps of ${step}% of production traffic, ${bake}m apart`)
    }
    if (strategy === 'CANARY') {
      const percent = config.canaryConfiguration?.canaryPercent ?? 5
      const bake = config.canaryConfiguration?.canaryBakeTimeInMinutes ?? 10
      minimumMs += bake * minuteMs()
      parts.push(`canary ${percent}% for ${bake}m, then the rest`)
    }
    const bake = config.bakeTimeInMinutes ?? 0
    minimumMs += bake * minuteMs()
    parts.push(`bake ${bake}m after the production shift`)
  }
  const hooks = config.lifecycleHooks ?? []
  const pauseStages = hooks.filter(h => h.targetType === 'PAUSE').flatMap(h => h.lifecycleStages ?? [])
  if (pauseStages.length) parts.push(`PAUSE hook at ${pauseStages.join(', ')}`)
  const lambdas = hooks.filter(h => h.targetType !== 'PAUSE')
  if (lambdas.length) parts.push(`${lambdas.length} Lambda hook${lambdas.length > 1 ? 's' : ''}`)
  const alarms = config.alarms
  if (alarms?.enable && alarms.alarmNames?.length) parts.push(`alarms ${alarms.alarmNames.join(', ')} (rollback ${alarms.rollback ? 'on' : 'off'})`)
  const breaker = config.deploymentCircuitBreaker
  parts.push(breaker?.enable ? `circuit breaker on (rollback ${breaker.rollback ? 'on' : 'off'})` : 'circuit breaker off')
  const line = `deployment controller ${controller}, strategy ${strategy} (${parts.join('; ')})`
  return { controller, strategy, line, minimumMs, pauseStages, ...(earlySuccess ? { earlySuccess } : {}) }
}

/** The statuses in which a service deployment may still change what runs. */
export const IN_FLIGHT = new Set(['PENDING', 'IN_PROGRESS', 'STOP_REQUESTED', 'ROLLBACK_REQUESTED', 'ROLLBACK_IN_PROGRESS'])

/** Where one service deployment stands, judged from a DescribeServiceDeployments answer alone (pure). */
export type ServiceDeploymentVerdict =
  | { kind: 'progressing'; line: string }
  | { kind: 'paused'; line: string; hookId: string; stage: string; expiresAt?: Date; timeoutAction?: string }
  | { kind: 'succeeded'; line: string }
  /** ECS is rolling it back (alarm, circuit breaker, a stop or continue with ROLLBACK). */
  | { kind: 'rolling-back'; reason: string }
  | { kind: 'rolled-back'; reason: string }
  | { kind: 'failed'; reason: string }
  /** STOPPED or STOP_REQUESTED: by someone, or by a newer deployment. */
  | { kind: 'stopped'; reason: string }

export function assessServiceDeployment(sd: ServiceDeployment): ServiceDeploymentVerdict {
  const status = sd.status ?? 'PENDING'
  const paused = (sd.lifecycleHookDetails ?? []).find(h => h.targetType === 'PAUSE' && h.status === 'AWAITING_ACTION')
  switch (status) {
    case 'SUCCESSFUL':
      return { kind: 'succeeded', line: serviceDeploymentLine(sd) }
    case 'ROLLBACK_REQUESTED':
    case 'ROLLBACK_IN_PROGRESS':
      return { kind: 'rolling-back', reason: whyRolledBack(sd) }
    case 'ROLLBACK_SUCCESSFUL':
      return { kind: 'rolled-back', reason: whyRolledBack(sd) }
    case 'ROLLBACK_FAILED':
      return { kind: 'failed', reason: `ECS could not roll back service deployment ${shortId(sd)}: ${whyRolledBack(sd)}` }
    case 'STOPPED':
    case 'STOP_REQUESTED':
      return { kind: 'stopped', reason: `service deployment ${shortId(sd)} was ${status === 'STOPPED' ? 'stopped' : 'asked to stop'}${sd.statusReason ? `: ${sd.statusReason}` : ''}` }
  }
  if (paused?.hookId) {
    return { kind: 'paused', line: serviceDeploymentLine(sd), hookId: paused.hookId, stage: sd.lifecycleStage ?? '', expiresAt: paused.expiresAt, timeoutAction: paused.timeoutAction }
  }
  return { kind: 'progressing', line: serviceDeploymentLine(sd) }
}

/** ECS's reason for a rollback, with the alarms that fired and the circuit breaker's count. */
export function whyRolledBack(sd: ServiceDeployment): string {
  const parts = [sd.rollback?.reason ?? sd.statusReason ?? `service deployment ${shortId(sd)} is ${sd.status}`]
  const triggered = sd.alarms?.triggeredAlarmNames ?? []
  if (triggered.length && !triggered.every(name => parts[0]!.includes(name))) parts.push(`alarm${triggered.length > 1 ? 's' : ''} ${triggered.join(', ')} triggered`)
  const breaker = sd.deploymentCircuitBreaker
  if (breaker?.status === 'TRIGGERED') parts.push(`circuit breaker triggered (${breaker.failureCount ?? '?'} failed tasks, threshold ${breaker.threshold ?? '?'})`)
  return parts.join('; ')
}

/** One line: status, stage, traffic, tasks, monitors. */
export function serviceDeploymentLine(sd: ServiceDeployment): string {
  const target = sd.targetServiceRevision
  const parts = [`${sd.status ?? 'PENDING'}${sd.lifecycleStage ? ` ${sd.lifecycleStage}` : ''}`]
  if (target?.requestedProductionTrafficWeight !== undefined) {
    parts.push(`production traffic ${target.requestedProductionTrafficWeight}%${target.requestedTestTrafficWeight !== undefined ? `, test traffic ${target.requestedTestTrafficWeight}%` : ''}`)
  }
  if (target) parts.push(`${target.runningTaskCount ?? 0}/${target.requestedTaskCount ?? 0} running`, `${target.pendingTaskCount ?? 0} pending`)
  const old = (sd.sourceServiceRevisions ?? []).reduce((sum, r) => sum + (r.runningTaskCount ?? 0), 0)
  if (old) parts.push(`old: ${old} running`)
  const breaker = sd.deploymentCircuitBreaker
  if (breaker && breaker.status !== 'DISABLED' && breaker.failureCount) parts.push(`circuit breaker ${breaker.failureCount}/${breaker.threshold ?? '?'} failed`)
  const paused = (sd.lifecycleHookDetails ?? []).find(h => h.status === 'AWAITING_ACTION')
  if (paused) parts.push(`waiting at hook ${paused.hookId}`)
  return parts.join(', ')
}

/** Whether the new revision is fully up (every requested task running): only the end is missing. */
export function allTargetTasksUp(sd: ServiceDeployment): boolean {
  const target = sd.targetServiceRevision
  return Boolean(target && (target.requestedTaskCount ?? 0) > 0 && target.runningTaskCount === target.requestedTaskCount && !target.pendingTaskCount)
}

/** The ARN's last part: `.../service-deployment/cluster/web/AbC` -> `AbC`. */
export function shortId(sd: ServiceDeployment | string): string {
  return shortArn(typeof sd === 'string' ? sd : sd.serviceDeploymentArn)
}

/** The configured bake of a stage, in ms: BAKE_TIME's bake, or the step bake between linear/canary shifts. */
export function bakeOf(sd: ServiceDeployment, config: DeploymentConfiguration | undefined): number | undefined {
  const c = sd.deploymentConfiguration ?? config ?? {}
  const weight = sd.targetServiceRevision?.requestedProductionTrafficWeight
  if (sd.lifecycleStage === 'BAKE_TIME') return (c.bakeTimeInMinutes ?? 0) * minuteMs()
  if (sd.lifecycleStage !== 'PRODUCTION_TRAFFIC_SHIFT' || weight === undefined || weight >= 100) return undefined
  if (c.strategy === 'LINEAR') return (c.linearConfiguration?.stepBakeTimeInMinutes ?? 6) * minuteMs()
  if (c.strategy === 'CANARY') return (c.canaryConfiguration?.canaryBakeTimeInMinutes ?? 10) * minuteMs()
  return undefined
}

/** `timeout` vs the strategy's own least duration: the warning, or undefined when it fits. */
export function timeoutWarning(info: StrategyInfo, timeoutMs: number): string | undefined {
  if (info.minimumMs === 0 || timeoutMs > info.minimumMs) return undefined
  return `'timeout' (${formatDuration(timeoutMs)}) is shorter than the ${info.strategy} strategy of this service takes by itself (at least ${formatDuration(info.minimumMs)} of bake and step times): ` +
    `the action would give up (and roll back) a healthy deployment; set 'timeout' above ${formatDuration(info.minimumMs)}`
}
