// Secret values never leave the runner: the dry-run diff, the render output and the log show a
// Secret's keys and, for each value, a short keyed hash (render/redact.ts), as `kubectl diff` masks them.
import { maskedValue } from '../../../render/redact.js'

interface SecretLike {
  kind?: string
  apiVersion?: string
  data?: Record<string, unknown> | null
  stringData?: Record<string, unknown> | null
}

export function isSecret(object: unknown): boolean {
  const o = object as SecretLike | undefined
  return o?.kind === 'Secret' && (o.apiVersion === undefined || o.apiVersion === 'v1')
}

/** A copy of `object` with every value of a Secret's data and stringData replaced; other objects as they are. */
export function redactSecret<T>(object: T): T {
  if (!isSecret(object)) return object
  const copy = structuredClone(object) as T & SecretLike
  for (const field of ['data', 'stringData'] as const) {
    const values = copy[field]
    if (values && typeof values === 'object') copy[field] = Object.fromEntries(Object.keys(values).map(key => [key, maskedValue(values[key])]))
  }
  return copy
}
