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
