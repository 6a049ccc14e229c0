import type { DeploymentInfo, ECSTarget, LifecycleEvent } from '@aws-sdk/client-codedeploy'

/** CodeDeploy's deployment statuses that end it (DeploymentStatus in the API reference). */
export const ENDED = new Set(['Succeeded', 'Failed', 'Stopped'])

/** Text from CodeDeploy is data: one line, bounded. */
export function clip(text: string | undefined, max = 300): string {
  const line = (text ?? '').replace(/\s+/g, ' ').trim()
  return line.length > max ? `${line.slice(0, max)}…` : line
}

/**
 * Where a deployment stands, in one line: its status, the lifecycle event running now, the traffic
 * each task set takes, and the replacement's tasks ("InProgress: AllowTraffic; traffic: green 10%,
 * blue 90%; green tasks 2/2 running").
 */
export function describeDeployment(info: DeploymentInfo, target?: ECSTarget): string {
  const parts: string[] = [info.status ?? 'unknown']
  const current = target?.lifecycleEvents?.find(e => e.status === 'InProgress')
  if (current?.lifecycleEventName) parts[0] += `: ${current.lifecycleEventName}`
  const traffic = trafficLine(target)
  if (traffic) parts.push(traffic)
  const green = target?.taskSetsInfo?.find(t => t.taskSetLabel === 'Green')
  if (green && green.desiredCount !== undefined) parts.push(`green tasks ${green.runningCount ?? 0}/${green.desiredCount} running`)
  if (!target) {
    const overview = info.deploymentOverview
    if (overview) parts.push(Object.entries(overview).filter(([, n]) => n).map(([k, n]) => `${k} ${n}`).join(', ') || 'no targets yet')
  }
  return parts.join('; ')
}

/** "traffic: green 10%, blue 90%", from the task sets' trafficWeight; undefined before there are task sets. */
export function trafficLine(target?: ECSTarget): string | undefined {
  const sets = (target?.taskSetsInfo ?? []).filter(t => t.trafficWeight !== undefined)
  if (sets.length === 0) return undefined
  const order = (label?: string): number => (label === 'Green' ? 0 : 1)
  return `traffic: ${[...sets].sort((a, b) => order(a.taskSetLabel) - order(b.taskSetLabel)).map(t => `${(t.taskSetLabel ?? 'task set').toLowerCase()} ${Math.round(t.trafficWeight!)}%`).join(', ')}`
}

/** The lifecycle event that failed, with CodeDeploy's diagnostics: the failing hook's own message. */
export function failedEvent(target?: ECSTarget): LifecycleEvent | undefined {
  return target?.lifecycleEvents?.find(e => e.status === 'Failed')
}

export function hookFailure(event: LifecycleEvent): string {
  const d = event.diagnostics
  const code = d?.errorCode && d.errorCode !== 'Success' ? ` (${d.errorCode})` : ''
  const script = d?.scriptName ? ` in ${clip(d.scriptName, 200)}` : ''
  const message = clip(d?.message) || 'no message'
  const tail = d?.logTail ? `; log: ${clip(d.logTail.split('\n').filter(Boolean).slice(-3).join(' | '))}` : ''
  return `lifecycle event ${event.lifecycleEventName} failed${code}${script}: ${message}${tail}`
}

/** Why a deployment ended without success: CodeDeploy's error, the failing hook, and the rollback it made. */
export function failureReason(info: DeploymentInfo, target?: ECSTarget): string {
  const parts = [`CodeDeploy deployment ${info.deploymentId} ${info.status === 'Stopped' ? 'was stopped' : 'failed'}`]
  const error = info.errorInformation
  if (error?.code || error?.message) parts.push(`${error.code ? `${error.code}: ` : ''}${clip(error.message)}`)
  const event = failedEvent(target)
  if (event) parts.push(hookFailure(event))
  const messages = (info.deploymentStatusMessages ?? []).map(m => clip(m)).filter(Boolean)
  if (messages.length) parts.push(messages.join('; '))
  return parts.join(': ')
}

/** Whether the deployment group rolls back by itself when a deployment fails (autoRollbackConfiguration). */
export function rollsBackOnFailure(info: DeploymentInfo): boolean {
  const config = info.autoRollbackConfiguration
  return Boolean(config?.enabled && (config.events ?? []).includes('DEPLOYMENT_FAILURE'))
}
