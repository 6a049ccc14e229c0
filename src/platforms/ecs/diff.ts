import type { TaskDefinition } from '@aws-sdk/client-ecs'
import { objectDiff } from '../../render/diff.js'
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
  const full = objectDiff(before, after, `live ${shortArn(live.taskDefinitionArn)}`, 'rendered')
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
  // Values of environment entries may change too; secrets' values are never shown.
  if (what === 'environment') {
    const value = (list: unknown, n: string): unknown => (list as Array<{ name?: string; value?: string }> | undefined)?.find(e => e.name === n)?.value
    const changed = now.filter(n => was.includes(n) && value(before, n) !== value(after, n))
    if (changed.length) lines.push(`~ ${container}: environment values of ${changed.join(', ')}`)
  }
}
