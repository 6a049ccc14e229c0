import { UserError } from '../../errors.js'
import type { DeployRequest } from '../../request.js'
import type { Platform } from '../platform.js'

// The Kubernetes platform is built in its own issue; until then a clear error, before any change.
export function createKubernetesPlatform(_request: DeployRequest): Platform {
  const notYet = async (): Promise<never> => {
    throw new UserError({ input: 'platform', message: 'the Kubernetes platform is not available in this version' })
  }
  return { name: 'kubernetes', prepareDeploy: notYet, prepareRollback: notYet, render: notYet }
}
