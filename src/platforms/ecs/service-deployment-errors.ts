import { errorMessage } from '../../errors.js'

/** The service-deployment calls are denied (IAM) or not there: follow the rollout by DescribeServices alone. */
export class ServiceDeploymentsUnavailable extends Error {
  /** The IAM action that is missing, e.g. `ecs:DescribeServiceDeployments`. */
  readonly permission: string

  constructor(permission: string, message: string) {
    super(message)
    this.name = 'ServiceDeploymentsUnavailable'
    this.permission = permission
  }
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
    throw error
  }
}
