import type { VerifySettings } from '../request.js'
import type { WaitContext } from '../rollout/platform.js'

export type VerifyResult = { ok: true } | { ok: false; reason: string }

/**
 * Checks what was deployed: `verify-url` (GET until an expected status and text, retried with backoff
 * while the new revision settles) and/or `verify-command` (run on the runner, exit 0 passes), both
 * within the context's deadline. A failure says why: the HTTP status and a body excerpt, or the exit
 * code and the output's tail. `environment` is added to the command's environment.
 */
export async function verifyRollout(settings: VerifySettings, environment: Record<string, string>, context: WaitContext): Promise<VerifyResult> {
  // Filled in by the verification work (issue 10); until then a configured check cannot pass silently.
  void settings
  void environment
  void context
  return { ok: false, reason: 'verification is not implemented yet' }
}
