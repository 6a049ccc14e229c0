import { UserError } from '../errors.js'
import type { VerifySettings } from '../request.js'
import type { WaitContext } from '../rollout/platform.js'
import { verifyCommand } from './command.js'
import type { VerifyResult } from './result.js'
import { verifyUrl } from './url.js'

export type { VerifyResult } from './result.js'

/**
 * Checks what was deployed: `verify-url` (GET until an expected status and text, retried with backoff
 * while the new revision settles) and/or `verify-command` (run on the runner, exit 0 passes), both
 * within the context's deadline; the URL first, the command only when the URL passed. A failure says
 * why: the HTTP status and a body excerpt, or the exit code and the output's tail. `environment` is
 * added to the command's environment.
 */
export async function verifyRollout(settings: VerifySettings, environment: Record<string, string>, context: WaitContext): Promise<VerifyResult> {
  if (settings.url !== undefined) {
    const checked = await verifyUrl({ ...settings, url: settings.url }, context)
    if (!checked.ok) return checked
  }
  if (settings.command !== undefined) return verifyCommand(settings.command, environment, context)
  return { ok: true }
}

/**
 * `verify-url` given as a path (`/healthz`): the URL of the service the platform reports (ECS Express's
 * endpoint) with that path. A full URL stays as it is. Throws, before anything changes, when there is none.
 */
export function verifyAgainst(settings: VerifySettings, endpointUrl: string | undefined): VerifySettings {
  if (settings.url === undefined || !settings.url.startsWith('/')) return settings
  if (!endpointUrl) {
    throw new UserError({ input: 'verify-url', message: `'${settings.url}' is a path, which is checked against the service's endpoint URL, and this service has none (only ECS Express services report one): give a full http(s) URL` })
  }
  return { ...settings, url: `${endpointUrl.replace(/\/+$/, '')}${settings.url}` }
}
