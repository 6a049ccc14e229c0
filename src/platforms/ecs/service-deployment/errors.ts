import { errorMessage } from '../../../errors.js'

/** The service-deployment calls are denied (IAM) or not there: follow the rollout by DescribeServices alone. */
export class ServiceDeploymentsUnavailable extends Error {
  /** The IAM action that is missing, e.g. `ecs:DescribeServiceDeployments`. */
  readonly permission: string
  /** The endpoint does not implement the call (an emulator), rather than refusing it. */
  readonly notImplemented: boolean

  constructor(permission: string, message: string, notImplemented = false) {
    super(message)
    this.name = 'ServiceDeploymentsUnavailable'
    this.permission = permission
    this.notImplemented = notImplemented
  }
}

/**
 * An emulator's word that it does not implement the call: HTTP 501, a "not (yet) implemented" message,
 * or moto's answer (its server raises NotImplementedError, which Werkzeug turns into HTTP 500 with its
 * generic HTML page; the SDK then fails to parse it as JSON). ECS itself answers JSON; a proxy's HTML
 * error page does not come from Werkzeug, and stays a transient error.
 */
function notImplemented(error: unknown): boolean {
  const e = error as { $metadata?: { httpStatusCode?: number }; $response?: { headers?: Record<string, string | undefined> }; message?: unknown }
  const status = e?.$metadata?.httpStatusCode
  const message = typeof e?.message === 'string' ? e.message : ''
  if (status === 501 || /\bnot (yet )?implemented\b/i.test(message)) return true
  const server = e?.$response?.headers?.server ?? e?.$response?.headers?.Server ?? ''
  return status === 500 && /^Werkzeug\//.test(server) && /Unexpected token '<'|not valid JSON/.test(message)
}

/** Rethrows a denial or an unknown operation as ServiceDeploymentsUnavailable (never retried). */
export async function unavailableAs<T>(permission: string, sent: Promise<T>): Promise<T> {
  try {
    return await sent
  } catch (error) {
    const name = (error as { name?: string })?.name ?? ''
    if (['AccessDeniedException', 'AccessDenied', 'UnauthorizedOperation', 'UnknownOperationException', 'UnsupportedFeatureException'].includes(name)) {
      throw new ServiceDeploymentsUnavailable(permission, `${name}: ${errorMessage(error)}`)
    }
    if (notImplemented(error)) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode
      throw new ServiceDeploymentsUnavailable(permission, `HTTP ${status ?? '?'}${status === 501 ? '' : `: ${errorMessage(error).split('\n')[0]}`}`, true)
    }
    throw error
  }
}
