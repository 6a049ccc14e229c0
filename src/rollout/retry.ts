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
  const e = error as { code?: unknown; cause?: { code?: unknown }; name?: string }
  const errno = typeof e?.code === 'string' ? e.code : typeof e?.cause?.code === 'string' ? e.cause.code : ''
  return CONNECTION.has(errno) || e?.name === 'TimeoutError'
}

function status(error: unknown): number | undefined {
  const e = error as { $metadata?: { httpStatusCode?: number }; code?: unknown; statusCode?: unknown }
  if (typeof e?.$metadata?.httpStatusCode === 'number') return e.$metadata.httpStatusCode
  if (typeof e?.statusCode === 'number') return e.statusCode
  if (typeof e?.code === 'number') return e.code
  return undefined
}

export interface RetryOptions {
  /** Tries in all, the first included. */
  attempts: number
  baseMs: number
  maxMs: number
  sleep?: (ms: number) => Promise<void>
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void
}

/**
 * Calls `fn` again after a retryable error, with full-jitter exponential backoff; a final error, or
 * the last attempt's error, is thrown as it is. No sleep after the last attempt.
 */
export async function retry<T>(fn: () => Promise<T>, options: RetryOptions): Promise<T> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms)))
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn()
    } catch (error) {
      if (attempt >= options.attempts || !isRetryable(error)) throw error
      const delayMs = Math.round(Math.random() * Math.min(options.maxMs, options.baseMs * 2 ** (attempt - 1)))
      options.onRetry?.(error, attempt, delayMs)
      await sleep(delayMs)
    }
  }
}
