// Per-object wait rules: what an object's own annotations say about waiting for it, and the grace
// a custom resource gets for its controller's first status. AppliedSet applies them on top of the
// kind's verdict (kinds.ts), so the viewers stay pure functions of the object.

import { parseTimeout } from '../../../inputs/reader.js'
import type { Readiness } from './kinds.js'

/** `"false"`: not waited for at all (kapp's `kapp.k14s.io/disable-wait`). */
export const WAIT = 'deploy-service/wait'
/** A duration: a failed verdict counts only once it has held that long (a controller that retries). */
export const FAIL_AFTER = 'deploy-service/fail-after'
/** `not-failed`: ready unless failed; Ready=False by design (an ExternalSecret waiting for its store) holds nothing. */
export const READY_WHEN = 'deploy-service/ready-when'

/**
 * How long a custom resource whose CRD has a status subresource may go without any status before
 * kstatus's rules judge it. A running controller writes a first status within seconds of a watch
 * event (this is what the grace is for: "ready" before it has looked is the bug); 30 s also covers
 * a controller's requeue after a conflict, yet costs a CRD whose controller never writes status (or
 * has none installed) half a minute, not the whole timeout.
 */
export const FIRST_STATUS_GRACE_MS = 30_000

export interface WaitRules {
  wait: boolean
  failAfterMs?: number
  readyWhen: 'ready' | 'not-failed'
}

/** The rules an object's annotations set, and what is wrong with them (for validation before the apply). */
export function waitRules(annotations: Record<string, string> | undefined): { rules: WaitRules; problems: string[] } {
  const problems: string[] = []
  const rules: WaitRules = { wait: true, readyWhen: 'ready' }
  const wait = annotations?.[WAIT]
  if (wait !== undefined) {
    if (wait === 'false') rules.wait = false
    else if (wait !== 'true') problems.push(`annotation ${WAIT}: '${wait}' is neither "true" nor "false"`)
  }
  const failAfter = annotations?.[FAIL_AFTER]
  if (failAfter !== undefined) {
    const ms = parseTimeout(failAfter)
    if (typeof ms === 'string') problems.push(`annotation ${FAIL_AFTER}: ${ms}`)
    else rules.failAfterMs = ms
  }
  const readyWhen = annotations?.[READY_WHEN]
  if (readyWhen !== undefined) {
    if (readyWhen === 'not-failed' || readyWhen === 'ready') rules.readyWhen = readyWhen
    else problems.push(`annotation ${READY_WHEN}: '${readyWhen}' is neither "ready" nor "not-failed"`)
  }
  return { rules, problems }
}

/** The state line of an object whose annotation says not to wait for it. */
export const NOT_WAITED: Readiness = { state: 'ready', message: `not waited for (${WAIT}: "false")` }

/** Whether the controller has written nothing yet: no status, or an empty one. */
export function noStatusYet(status: Record<string, unknown> | undefined): boolean {
  return status === undefined || Object.keys(status).length === 0
}

/**
 * A custom resource with a status subresource and no status yet: waiting during the grace, then the
 * kstatus verdict, saying which rule decided.
 */
export function firstStatusGrace(judged: Readiness, sinceApplyMs: number): Readiness {
  if (sinceApplyMs < FIRST_STATUS_GRACE_MS) {
    return { state: 'waiting', message: `no status yet: waiting up to ${FIRST_STATUS_GRACE_MS / 1000}s after the apply for its controller's first status (rule: first-status grace)` }
  }
  return { ...judged, message: `${judged.message} (rule: kstatus, after no status in the ${FIRST_STATUS_GRACE_MS / 1000}s first-status grace)` }
}

/**
 * The annotations' say over the kind's verdict. `failedSince` is when the object was first seen
 * failed in a row (kept by the caller; undefined when it is not failed).
 */
export function applyWaitRules(judged: Readiness, rules: WaitRules, failedSince: number | undefined, now: number): Readiness {
  if (judged.state === 'failed' && rules.failAfterMs !== undefined && failedSince !== undefined) {
    const held = now - failedSince
    const limit = `${FAIL_AFTER}: ${Math.round(rules.failAfterMs / 1000)}s`
    if (held < rules.failAfterMs) return { state: 'waiting', message: `failing for ${Math.round(held / 1000)}s, not failed before ${limit}: ${judged.message}` }
    return { state: 'failed', message: `${judged.message} (still failing after ${limit})` }
  }
  if (judged.state === 'waiting' && rules.readyWhen === 'not-failed') {
    return { state: 'ready', message: `not failed, which is enough (${READY_WHEN}: not-failed): ${judged.message}` }
  }
  return judged
}
