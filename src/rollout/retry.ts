import { sleep as wakeableSleep } from './poll.js'

const THROTTLING = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'RequestThrottled',
  'RequestThrottledException'
])
const CONNECTION = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT'])

/** The server asked us to slow down (AWS throttling codes, HTTP 429). */
export function isThrottling(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number }; code?: number | string; statusCode?: number }
  return THROTTLING.has(e?.name ?? '') || status(error) === 429
}

/**
 * Worth another try: throttling, server errors and dropped connections. Everything else (access
 * denied, not found, invalid parameter) is final and is never retried.
 */
export function isRetryable(error: unknown): boolean {
  if (isThrottling(error)) return true
  const code = status(error)
  if (code !== undefined && code >= 500) return true
  return CONNECTION.has(errnoOf(error)) || (error as { name?: string })?.name === 'TimeoutError'
}

/**
 * The system error code of a failed request (ECONNREFUSED ...), on the error, its cause, or only in
 * its message (the SDK rewraps an error from another realm as "AWS SDK error wrapper for Error: connect
 * ECONNREFUSED ...", losing the code).
 */
export function errnoOf(error: unknown): string {
  const e = error as { code?: unknown; cause?: { code?: unknown }; message?: unknown }
  if (typeof e?.code === 'string') return e.code
  if (typeof e?.cause?.code === 'string') return e.cause.code
  if (typeof e?.message !== 'string') return ''
  // Node's words for a connection the server dropped mid-request.
  if (/\bsocket hang up\b/.test(e.message)) return 'ECONNRESET'
  return /\b(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EAI_AGAIN|ENOTFOUND|UND_ERR_[A-Z_]+)\b/.exec(e.message)?.[1] ?? ''
}

function status(error: unknown): number | undefined {
  const e = error as { $metadata?: { httpStatusCode?: number }; code?: unknown; statusCode?: unknown }
  if (typeof e?.$metadata?.httpStatusCode === 'number') return e.$metadata.httpStatusCode
  if (typeof e?.statusCode === 'number') return e.statusCode
  if (typeof e?.code === 'number') return e.code
  return undefined
}

/**
 * The request certainly never ran: the server throttled it, or it never left this machine (refused
 * connection, no DNS answer, no connection within the connect timeout). Repeating it can never make a
 * change twice. A 5xx, a reset or a timeout after the request was sent are ambiguous: it may have run.
 */
export function wasNotExecuted(error: unknown): boolean {
  if (isThrottling(error)) return true
  if (['ECONNREFUSED', 'EAI_AGAIN', 'ENOTFOUND', 'UND_ERR_CONNECT_TIMEOUT'].includes(errnoOf(error))) return true
  const e = error as { name?: string; message?: unknown }
  // The SDK's connect timeout: the socket never connected, so nothing was sent.
  return e?.name === 'TimeoutError' && typeof e.message === 'string' && /did not establish a connection/.test(e.message)
}

export interface RetryOptions {
  /** Tries in all, the first included: throttled tries can use all of them. */
  attempts: number
  /** No new try of any kind starts once this long would have passed since the first began. */
  withinMs?: number
  /**
   * Server errors, timeouts, resets and refused connections: at most `attempts` tries that fail so,
   * and none started once `withinMs` would have passed since the first of them began, so an endpoint
   * that never answers ends soon. Throttling is not bound by this: a throttled request was not run,
   * patience is safe.
   */
  failures?: { attempts: number; withinMs: number }
  baseMs: number
  maxMs: number
  /** Ends the wait between tries (cancellation, a deadline); the reason is thrown. */
  signal?: AbortSignal
  /** Which errors are worth another try, where a caller knows better than `isRetryable` (GitHub's API). */
  retryable?: (error: unknown) => boolean
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void
  now?: () => number
}

/**
 * Calls `fn` again after a retryable error, with full-jitter exponential backoff; a final error, or
 * the last attempt's error, is thrown as it is. No sleep after the last attempt.
 */
export async function retry<T>(fn: () => Promise<T>, options: RetryOptions): Promise<T> {
  const sleep = options.sleep ?? wakeableSleep
  const now = options.now ?? Date.now
  let failures = 0
  /** When the first try that failed (not throttled) started: the failure budget runs from there. */
  let failingSince: number | undefined
  const startedAt = now()
  for (let attempt = 1; ; attempt++) {
    const triedAt = now()
    try {
      return await fn()
    } catch (error) {
      if (attempt >= options.attempts || !(options.retryable ?? isRetryable)(error) || options.signal?.aborted) throw error
      const delayMs = Math.round(Math.random() * Math.min(options.maxMs, options.baseMs * 2 ** (attempt - 1)))
      if (options.withinMs !== undefined && now() - startedAt + delayMs >= options.withinMs) throw error
      if (options.failures && !isThrottling(error)) {
        failures++
        failingSince ??= triedAt
        if (failures >= options.failures.attempts || now() - failingSince + delayMs >= options.failures.withinMs) throw error
      }
      options.onRetry?.(error, attempt, delayMs)
      await sleep(delayMs, options.signal)
      if (options.signal?.aborted) throw options.signal.reason
    }
  }
}
