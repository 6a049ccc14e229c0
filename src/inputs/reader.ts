import { ProblemList } from '../errors.js'

export type Env = Record<string, string | undefined>

export const TRUE = ['true', 'True', 'TRUE']
export const FALSE = ['false', 'False', 'FALSE']

/** A list input: one entry per line or comma-separated, blank entries dropped. */
export function splitList(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map(entry => entry.trim())
    .filter(entry => entry !== '')
}

/**
 * Reads the inputs the way the runner passes them (INPUT_<NAME> with the dashes kept, trimmed). A bad
 * value becomes a problem in the one list and the reader answers its fallback, so that every problem
 * is found and reported together.
 */
export class InputReader {
  readonly env: Env
  readonly problems = new ProblemList()

  constructor(env: Env) {
    this.env = env
  }

  input(name: string): string {
    return (this.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] ?? '').trim()
  }

  optional(name: string): string | undefined {
    return this.input(name) || undefined
  }

  list(name: string): string[] {
    return splitList(this.input(name))
  }

  boolean(name: string, fallback: boolean): boolean {
    const value = this.input(name)
    if (value === '') return fallback
    if (TRUE.includes(value)) return true
    if (FALSE.includes(value)) return false
    this.problems.add({ input: name, message: `'${value}' is not a boolean: use true or false` })
    return fallback
  }

  integer(name: string, min: number): number | undefined {
    const value = this.input(name)
    if (value === '') return undefined
    if (!/^\d+$/.test(value) || Number(value) < min) {
      this.problems.add({ input: name, message: `'${value}' is not a whole number of at least ${min}` })
      return undefined
    }
    return Number(value)
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T | undefined): T | undefined {
    const value = this.input(name)
    if (value === '') return fallback
    if ((allowed as readonly string[]).includes(value)) return value as T
    this.problems.add({ input: name, message: `'${value}' is not one of: ${allowed.join(', ')}` })
    return fallback
  }

  /** A duration in milliseconds; 0 when it is not one (the problem says why). */
  duration(name: string, fallback: string): number {
    const value = parseTimeout(this.input(name) || fallback)
    if (typeof value === 'string') {
      this.problems.add({ input: name, message: value })
      return 0
    }
    return value
  }
}

/** A GitHub-hosted job runs for at most 6 hours: a longer wait can never end on its own terms. */
export const TIMEOUT_MAX_MS = 6 * 3600_000
const TIMEOUT_MIN_MS = 1000
// Hours, minutes, seconds, each at most once and in that order (1h30m, 10m, 90s, 1m30s), or bare
// seconds (90). Nothing else: no fractions, exponents, spaces, other units or trailing words. This
// is all `timeout` needs, and unlike a general duration parser it cannot read '10s garbage' or '1e3'.
const DURATION = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/

/** The `timeout` input in milliseconds, or the problem with it. */
export function parseTimeout(value: string): number | string {
  const usage = 'use e.g. 90s, 10m, 1h30m, 1m30s or 90 (seconds): whole hours, minutes and seconds, in that order'
  const match = /^\d+$/.test(value) ? ['', undefined, undefined, value] : DURATION.exec(value)
  if (!match || value === '') return `'${value}' is not a duration: ${usage}`
  const [hours, minutes, seconds] = match.slice(1, 4).map(part => Number(part ?? 0))
  const ms = ((hours * 60 + minutes) * 60 + seconds) * 1000
  if (ms < TIMEOUT_MIN_MS) return `'${value}' is too short: the minimum is 1s`
  if (ms > TIMEOUT_MAX_MS) return `'${value}' is too long: the maximum is 6h (a GitHub-hosted job runs at most 6 hours)`
  return ms
}
