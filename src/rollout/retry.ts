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
