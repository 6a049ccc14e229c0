import type * as GitHub from '@actions/github'
import { errorMessage } from '../errors.js'
import { retry } from '../rollout/retry.js'

/**
 * What every GitHub API integration of the report shares (Deployments, the pull-request comment): the
 * client loaded only when used, the one retry policy with GitHub's rule of what is worth another try,
 * and warnings that say which permission line to add. Reporting to GitHub is best effort: a problem
 * here is a warning, never a failed deploy.
 */
export type Octokit = ReturnType<typeof GitHub.getOctokit>

export interface CallOptions {
  /** How long one GitHub API call may take. */
  timeoutMs: number
  /** The longest wait before another try of a call that failed with a 5xx, 429 or a dropped connection (two more tries at most). */
  maxDelayMs: number
}

/**
 * Octokit, loaded on first use: most runs never parse it, and a broken GITHUB_EVENT_PATH (which
 * @actions/github reads as it loads) costs the report, never the deploy.
 */
export function loadGitHubClient(token: string, apiUrl: string): Promise<Octokit> {
  return import('@actions/github').then(module => module.getOctokit(token, { baseUrl: apiUrl.replace(/\/+$/, '') }))
}

/** One GitHub API call with the action's retry policy; each try has its own timeout. */
export function callGitHub<T>(fn: (signal: AbortSignal) => Promise<T>, options: CallOptions): Promise<T> {
  return retry(() => fn(AbortSignal.timeout(options.timeoutMs)), {
    attempts: 3,
    baseMs: Math.min(1000, options.maxDelayMs),
    maxMs: options.maxDelayMs,
    retryable: worthRetryingOnGitHub
  })
}

/** The status GitHub answered; undefined when there was no answer (Octokit calls that a 500). */
export function httpStatus(error: unknown): number | undefined {
  const e = error as { status?: unknown; response?: unknown }
  return typeof e?.status === 'number' && e.response !== undefined ? e.status : undefined
}

/** The error and its causes: Octokit wraps fetch's error, which wraps the socket's. */
function causes(error: unknown): Array<{ name?: string; message?: string; code?: unknown }> {
  const chain = []
  for (let at = error as { name?: string; message?: string; code?: unknown; cause?: unknown } | undefined; at && chain.length < 5; at = at.cause as typeof at) chain.push(at)
  return chain
}

export function worthRetryingOnGitHub(error: unknown): boolean {
  const status = httpStatus(error)
  if (status !== undefined) return status >= 500 || status === 429
  // No answer: the connection failed (reset, refused) — but not our own timeout.
  return !causes(error).some(e => e.name === 'TimeoutError' || e.name === 'AbortError')
}

/** Why a call got no answer: "fetch failed (connect ECONNREFUSED 127.0.0.1:443)". */
function noAnswer(error: unknown): string {
  const chain = causes(error)
  if (chain.some(e => e.name === 'TimeoutError')) return 'no answer in time'
  const messages = [...new Set(chain.map(e => e.message).filter((m): m is string => typeof m === 'string' && m !== ''))]
  return messages.length > 1 ? `${messages[0]} (${messages.at(-1)})` : (messages[0] ?? errorMessage(error))
}

/** How to get the permission a refused call needs: what the token may not do, and the line to add. */
export interface PermissionHint {
  /** "write deployments of this repository" */
  mayNot: string
  /** "Add `permissions: deployments: write` to the job ..." */
  fix: string
}

/** The warning for a GitHub API call that failed; a missing permission says which line to add. */
export function apiWarning(what: string, consequence: string, error: unknown, hint: PermissionHint, effect = 'The deploy itself is not affected'): string {
  const status = httpStatus(error)
  // Octokit's message appends the documentation link; GitHub's own message reads better.
  const answered = (error as { response?: { data?: { message?: unknown } } })?.response?.data?.message
  const message = typeof answered === 'string' && answered !== '' ? answered : errorMessage(error)
  const lead = `Could not ${what}`
  if (status === 403 || status === 404 || /not accessible by integration/i.test(message)) {
    const answer = status === undefined ? `'${message}'` : `${status} '${message}'`
    return `${lead}: GitHub answered ${answer}. The token may not ${hint.mayNot}. ${hint.fix} ${effect}; ${consequence}.`
  }
  const problem = status === undefined ? `GitHub could not be reached: ${noAnswer(error)}` : `GitHub answered ${status}: ${message}`
  return `${lead}: ${problem}. ${effect}; ${consequence}.`
}
