import { UserError, errorMessage, type SourceLocation } from '../../../errors.js'

interface StatusCause {
  reason?: string
  message?: string
  field?: string
}

interface ApiFailure {
  code: number
  message: string
  reason?: string
  causes: StatusCause[]
}

/** The HTTP status and the server's Status message of a failed call, or undefined for other errors. */
export function apiFailure(error: unknown): ApiFailure | undefined {
  const e = error as { code?: unknown; body?: unknown }
  if (typeof e?.code !== 'number') return undefined
  let body = e.body as { message?: string; reason?: string; details?: { causes?: StatusCause[] } } | string | undefined
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body) as typeof body
    } catch {
      // A proxy or load balancer may answer with text.
    }
  }
  if (typeof body === 'string' && looksLikeHtml(body)) {
    return { code: e.code, message: `the answer was an HTML page, not the Kubernetes API's JSON (HTTP ${e.code}; a proxy, load balancer or login page answered): check the kubeconfig's server address`, causes: [] }
  }
  if (typeof body === 'string' || !body) return { code: e.code, message: typeof body === 'string' && body ? body.slice(0, 300) : `HTTP ${e.code}`, causes: [] }
  return { code: e.code, message: body.message ?? `HTTP ${e.code}`, reason: body.reason, causes: body.details?.causes ?? [] }
}

/** Text that starts like a web page: a proxy or a login page answered, not the API server. */
export function looksLikeHtml(body: string): boolean {
  return /^\s*<(!doctype html|html|head|body|\?xml|title|h1|center)\b/i.test(body)
}

/**
 * Turns a failed API call into an error a user can act on: which input, what the server said, the fix.
 * Transient failures keep their status code so that the retry predicate still sees them.
 */
export function explainApiError(error: unknown, what: string, location?: SourceLocation): Error {
  if (error instanceof UserError) return error
  const failure = apiFailure(error)
  if (!failure) {
    const message = errorMessage(error)
    if (/Unrecognized API version and kind/.test(message)) return new UserError({ input: 'template', location, message: `could not ${what}: ${message}` })
    return new Error(`could not ${what}: ${message}`, { cause: error })
  }
  const said = failure.message
  if (isMalformedApply(error)) return new UserError({ input: 'template', location, message: `could not ${what}: the server rejected it: ${said}` })
  switch (failure.code) {
    case 401:
      return new UserError({ input: 'kubeconfig', message: `could not ${what}: the API server rejected the credentials (401 Unauthorized): check the kubeconfig's user (token or client certificate)` })
    case 403:
      return new UserError({ input: 'namespace', message: `could not ${what}: forbidden: ${said}. Grant the kubeconfig's user that permission (a Role and RoleBinding in the namespace), or deploy to a namespace it may use` })
    case 404:
      if (/namespaces? "[^"]*" not found/.test(said)) {
        return new UserError({ input: 'namespace', location, message: `could not ${what}: ${said}: create the namespace first, or set the 'namespace' input to an existing one` })
      }
      return new UserError({ input: 'template', location, message: `could not ${what}: ${said}` })
    case 409:
      if (failure.causes.some(c => c.reason === 'FieldManagerConflict')) return conflictError(failure, what, location)
      return new UserError({ input: 'template', location, message: `could not ${what}: ${said}` })
    case 400:
    case 415:
    case 422:
      return new UserError({ input: 'template', location, message: `could not ${what}: the server rejected it: ${said}` })
  }
  const wrapped = new Error(`could not ${what}: HTTP ${failure.code}: ${said}`, { cause: error })
  return Object.assign(wrapped, { code: failure.code })
}

/**
 * The API server answers 500 when an apply body does not fit the schema (a string where a number
 * goes); that is the manifest's fault, not the server's, and is not worth another try.
 */
export function isMalformedApply(error: unknown): boolean {
  const failure = apiFailure(error)
  return failure?.code === 500 && /failed to create typed patch object|field not declared in schema/.test(failure.message)
}

/** The field managers an apply conflicted with, when that is what failed. */
export function conflictManagers(error: unknown): string[] | undefined {
  return (error as { conflictManagers?: string[] })?.conflictManagers
}

function conflictError(failure: ApiFailure, what: string, location?: SourceLocation): UserError {
  const byManager = new Map<string, string[]>()
  for (const cause of failure.causes.filter(c => c.reason === 'FieldManagerConflict')) {
    const manager = /conflict with "([^"]+)"/.exec(cause.message ?? '')?.[1] ?? 'another field manager'
    byManager.set(manager, [...(byManager.get(manager) ?? []), cause.field ?? '?'])
  }
  const owners = [...byManager].map(([manager, fields]) => `field manager "${manager}" owns ${fields.join(', ')}`).join('; ')
  const error = new UserError({
    input: 'force-conflicts',
    location,
    message: `could not ${what}: conflict: ${owners}. Set force-conflicts: true to take these fields over, or stop the other tool from managing them`
  })
  return Object.assign(error, { conflictManagers: [...byManager.keys()] })
}

/** The API server could not be reached at all: the kubeconfig's server or the network is wrong. */
export function unreachable(server: string, error: unknown): UserError {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause
  const why = cause?.code ?? cause?.message ?? errorMessage(error)
  const userError = new UserError({ input: 'kubeconfig', message: `cannot reach the Kubernetes API server at ${server} (${why}): check the kubeconfig's server address and that the cluster is reachable from the runner` })
  // Keep the connection error code: while waiting, an unreachable server is a reason to try again.
  return Object.assign(userError, { code: cause?.code ?? 'ECONNREFUSED' })
}
