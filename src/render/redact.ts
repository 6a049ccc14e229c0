// What a secret value (an ECS environment value, a Kubernetes Secret's data) shows instead of itself
// in the log, a diff, the summary or a render: a short keyed hash. The key is made for this run, so
// equal values show equal hashes within one run (a changed value is seen to change) while a short or
// guessable value ("true", a 4-digit PIN) cannot be found by hashing candidates, as a plain SHA-256
// prefix would allow. Both platforms use this one function.
import { createHmac, randomBytes } from 'node:crypto'

const RUN_KEY = randomBytes(32)

export function maskedValue(value: unknown): string {
  if (value === undefined || value === null) return '(no value)'
  return `(secret value, hmac ${createHmac('sha256', RUN_KEY).update(String(value)).digest('hex').slice(0, 10)})`
}
