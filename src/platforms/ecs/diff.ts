import type { TaskDefinition } from '@aws-sdk/client-ecs'
import { objectDiff } from '../../render/diff.js'
import { maskedValue } from '../../render/redact.js'
import { toRegisterable, type TaskDefinitionInput } from '../../render/task-definition.js'
import { shortArn } from './assess.js'

/**
 * What registering `next` would change against the live task definition: the fields a person checks
 * first (images, environment and secret names, cpu/memory, ports), then the whole diff.
 */
export function taskDefinitionDiff(live: TaskDefinition, next: TaskDefinitionInput): string {
  const before = toRegisterable(live)
  const after: Record<string, unknown> = { ...next }
  delete after.tags
  const lines: string[] = []
  const liveContainers = new Map((before.containerDefinitions ?? []).map(c => [c.name, c]))
  for (const container of next.containerDefinitions) {
    const old = liveContainers.get(container.name)
    if (!old) {
      lines.push(`+ container ${container.name} (new), image ${container.image}`)
      continue
    }
    liveContainers.delete(container.name)
    if (old.image !== container.image) lines.push(`~ ${container.name}: image ${old.image} -> ${container.image}`)
    compareNames(lines, container.name, 'environment', old.environment, container.environment)
    compareNames(lines, container.name, 'secrets', old.secrets, container.secrets)
    for (const field of ['cpu', 'memory', 'memoryReservation']) {
      const was = (old as Record<string, unknown>)[field]
      const now = container[field]
      if (was !== now) lines.push(`~ ${container.name}: ${field} ${String(was ?? '-')} -> ${String(now ?? '-')}`)
    }
    const ports = (list: unknown): string => JSON.stringify((list as Array<{ containerPort?: number; protocol?: string }> | undefined)?.map(p => `${p.containerPort}/${p.protocol ?? 'tcp'}`) ?? [])
    if (ports(old.portMappings) !== ports(container.portMappings)) lines.push(`~ ${container.name}: ports ${ports(old.portMappings)} -> ${ports(container.portMappings)}`)
  }
  for (const name of liveContainers.keys()) lines.push(`- container ${name} (removed)`)
  for (const field of ['cpu', 'memory', 'networkMode', 'taskRoleArn', 'executionRoleArn']) {
    const was = (before as Record<string, unknown>)[field]
    if (was !== after[field]) lines.push(`~ task ${field}: ${String(was ?? '-')} -> ${String(after[field] ?? '-')}`)
  }
  // Environment values may be secrets: the whole diff compares redacted copies (a changed value shows
  // as a changed hash).
  const full = objectDiff(redactEnvironment(before), redactEnvironment(after), `live ${shortArn(live.taskDefinitionArn)}`, 'rendered')
  if (!full) return 'no change: the rendered task definition equals the live one (a new revision would still be registered)'
  return `${lines.length ? lines.join('\n') : '(no change to images, environment, secrets, cpu, memory or ports)'}\n\n${full}`
}

function compareNames(lines: string[], container: string, what: string, before: unknown, after: unknown): void {
  const names = (list: unknown): string[] => ((list as Array<{ name?: string }> | undefined) ?? []).map(e => e.name ?? '').sort()
  const was = names(before)
  const now = names(after)
  const added = now.filter(n => !was.includes(n))
  const removed = was.filter(n => !now.includes(n))
  if (added.length) lines.push(`+ ${container}: ${what} ${added.join(', ')}`)
  if (removed.length) lines.push(`- ${container}: ${what} ${removed.join(', ')}`)
  // Values of environment entries may change too: said by name and hash, never shown.
  if (what === 'environment') {
    const value = (list: unknown, n: string): unknown => (list as Array<{ name?: string; value?: string }> | undefined)?.find(e => e.name === n)?.value
    for (const name of now.filter(n => was.includes(n) && value(before, n) !== value(after, n))) {
      lines.push(`~ ${container}: environment ${name} changed ${maskedValue(value(before, name))} -> ${maskedValue(value(after, name))}`)
    }
  }
}


/**
 * A copy of a task definition with the value of every container's `environment` entry replaced by its
 * short hash; names, `secrets` (ARNs, not values) and everything else as they were.
 */
export function redactEnvironment<T extends object>(definition: T): T {
  const containers = (definition as { containerDefinitions?: unknown }).containerDefinitions
  if (!Array.isArray(containers)) return definition
  return {
    ...definition,
    containerDefinitions: containers.map(container => {
      const environment = (container as { environment?: unknown })?.environment
      if (!Array.isArray(environment)) return container
      return { ...container, environment: environment.map(entry => (entry && typeof entry === 'object' && 'value' in entry ? { ...entry, value: maskedValue(entry.value) } : entry)) }
    })
  }
}
