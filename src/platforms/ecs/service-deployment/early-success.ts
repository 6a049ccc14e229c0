// Early success criteria (deploymentConfiguration.earlySuccessCriteria, rolling deployments only): ECS
// calls the service deployment SUCCESSFUL once healthyPercent of the desired count is healthy and the
// bake passed, then scales the new revision to 100% in the background, and with
// sourceServiceRevisionCleanup DEFERRED removes the old revision's tasks in the background too
// (BLOCKING: before SUCCESSFUL). Field names and enums as the API reference (DeploymentEarlySuccessCriteria,
// ServiceRevisionCleanup) and @aws-sdk/client-ecs 3.1164 give them. SUCCESSFUL is the verdict: the
// action never waits for that background work, which neither the circuit breaker nor the alarms guard.
import type { DeploymentConfiguration, ServiceDeployment } from '@aws-sdk/client-ecs'

/** deploymentConfiguration.earlySuccessCriteria, when enabled. */
export interface EarlySuccess {
  /** healthyPercent: the share of the desired count that must be healthy (and the bake passed). */
  healthyPercent: number
  /** sourceServiceRevisionCleanup: BLOCKING (old tasks removed before SUCCESSFUL) or DEFERRED (after it). */
  cleanup: string
}

/** The early success criteria of a deployment configuration, when enabled on a rolling deployment (pure). */
export function earlySuccessOf(config: DeploymentConfiguration | undefined): EarlySuccess | undefined {
  const criteria = config?.earlySuccessCriteria
  if (!criteria?.enable || (config?.strategy ?? 'ROLLING') !== 'ROLLING') return undefined
  // The reference makes both required when enabled; ECS's own defaults otherwise (all healthy, removed first).
  return { healthyPercent: criteria.healthyPercent ?? 100, cleanup: criteria.sourceServiceRevisionCleanup ?? 'BLOCKING' }
}

/**
 * What early success means for this deploy, for the plan line: ECS's SUCCESSFUL comes once the share
 * is healthy, and what it still does then goes on unwatched by its circuit breaker and alarms.
 */
export function earlySuccessLine(early: EarlySuccess): string {
  const rest = early.cleanup === 'DEFERRED'
    ? 'then scales the rest and removes the old tasks in the background (DEFERRED)'
    : 'after removing the old tasks (BLOCKING), then scales the rest in the background'
  return `early success: SUCCESSFUL once ${early.healthyPercent}% of the desired count is healthy and the bake passed, ${rest}, ` +
    'unguarded by the circuit breaker and alarms: the verification after it is the only check left'
}

/**
 * The line said with a SUCCESSFUL that early success criteria gave (undefined otherwise): ECS's
 * statusReason, how many tasks of the new revision were healthy, what ECS goes on doing, and that the
 * verification is the only guard left (or that there is none).
 */
export function earlySuccessNote(sd: ServiceDeployment, verifies: boolean): string | undefined {
  const early = earlySuccessOf(sd.deploymentConfiguration)
  if (!early || sd.status !== 'SUCCESSFUL') return undefined
  const target = sd.targetServiceRevision
  const running = target?.runningTaskCount ?? 0
  const requested = target?.requestedTaskCount ?? 0
  const old = (sd.sourceServiceRevisions ?? []).reduce((sum, r) => sum + (r.runningTaskCount ?? 0), 0)
  const going: string[] = []
  if (running < requested) going.push(`scaling the new revision from ${running} to ${requested} tasks`)
  if (old > 0) going.push(`removing the old revision's ${old} task${old === 1 ? '' : 's'}${early.cleanup === 'DEFERRED' ? ' (DEFERRED)' : ''}`)
  const background = going.length
    ? `ECS goes on ${going.join(' and ')} in the background, no longer guarded by its circuit breaker or alarms`
    : 'nothing was left to do in the background'
  const reason = sd.statusReason ? ` (${sd.statusReason})` : ''
  const guard = verifies
    ? 'the verification that follows is the only check left'
    : 'no verify-url or verify-command is set, so nothing checks the rest: set one'
  return `SUCCESSFUL by early success criteria${reason}: ${running} of ${requested} tasks of the new revision healthy (${early.healthyPercent}% asked); ${background}; ${guard}`
}
