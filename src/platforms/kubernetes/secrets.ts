// Secret values never leave the runner: the dry-run diff, the render output and the log show a
// Secret's keys and, for each value, a short keyed hash, as `kubectl diff` masks them. The hash is an
// HMAC under a key made for this run, so equal values show equal hashes within one run (a changed
// value is visible as a changed hash) while a short or guessable value cannot be found by hashing
// candidates.
import { createHmac, randomBytes } from 'node:crypto'

const RUN_KEY = randomBytes(32)

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

/** What a secret value shows instead of itself. */
export function maskedValue(value: unknown): string {
  const hash = createHmac('sha256', RUN_KEY).update(String(value ?? '')).digest('hex').slice(0, 10)
  return `(secret value, hmac ${hash})`
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
