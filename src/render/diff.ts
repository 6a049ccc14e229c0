import { createTwoFilesPatch } from 'diff'
import { stringify } from 'yaml'

/**
 * A unified diff of two objects rendered as YAML with sorted keys, so that the order a server
 * returns fields in never shows up as a change. Empty string when they are the same.
 */
export function objectDiff(before: unknown, after: unknown, beforeLabel: string, afterLabel: string): string {
  const a = stringify(sortKeys(before), { lineWidth: 0 })
  const b = stringify(sortKeys(after), { lineWidth: 0 })
  if (a === b) return ''
  return createTwoFilesPatch(beforeLabel, afterLabel, a, b, '', '', { context: 3 })
    .split('\n')
    .filter(line => !line.startsWith('====='))
    .join('\n')
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value instanceof Date) return value.toISOString()
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([x], [y]) => x.localeCompare(y))
        .map(([k, v]) => [k, sortKeys(v)])
    )
  }
  return value
}
