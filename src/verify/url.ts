import * as core from '@actions/core'
import { errorMessage } from '../errors.js'
import { formatDuration } from '../rollout/deadline.js'
import { sleep } from '../rollout/poll.js'
import { errnoOf, retry } from '../rollout/retry.js'
import type { WaitContext } from '../rollout/platform.js'
import type { VerifySettings } from '../request.js'
import type { VerifyResult } from './result.js'
import { basicCredentials, verifyUrlProblem, verifyUrlSecrets } from './url-input.js'

/**
 * One request's limit: a server that accepts the connection and never answers must not use up the
 * check. A try gets at most this, and at most a third of the time left (at least a second), so that a
 * hung first request still leaves time for others.
 */
const REQUEST_TIMEOUT_MS = 10_000
/** Enough body to find the expected text in a health page; more is not read. */
const BODY_LIMIT = 1 << 20
const EXCERPT_CHARS = 200

/** An answer that does not pass (yet): worth another try until the deadline. */
class NotYet extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'NotYet'
  }
}

/**
 * The URL as it may be printed: userinfo and every query value replaced by `***`. Every form of the hidden
 * values (as written, decoded, re-encoded) is also registered with the runner as a secret, so a server or
 * a proxy that echoes them is masked too.
 */
export function maskedUrl(text: string, register: (secret: string) => void = core.setSecret): string {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return '(an unparsable URL)'
  }
  for (const secret of verifyUrlSecrets(text)) register(secret)
  const hasUserinfo = url.username !== '' || url.password !== ''
  url.username = ''
  url.password = ''
  const keys = [...url.searchParams.keys()]
  const search = keys.length ? `?${keys.map(key => `${encodeURIComponent(key)}=***`).join('&')}` : ''
  const origin = hasUserinfo ? `${url.protocol}//***@${url.host}` : `${url.protocol}//${url.host}`
  // The fragment never leaves this machine, and may hold a token too: never printed.
  return `${origin}${url.pathname}${search}`
}

/**
 * What fetch is given: the URL without userinfo (fetch refuses credentials in a URL), which goes into
 * an Authorization header instead, as a browser or curl sends it. The input was checked with the other
 * inputs (verifyUrlProblem), so it parses.
 */
function request(text: string): { target: string; headers: Record<string, string> } {
  const url = new URL(text)
  const headers: Record<string, string> = { 'user-agent': 'deploy-service verify' }
  if (url.username || url.password) {
    headers.authorization = `Basic ${basicCredentials(url)}`
    url.username = ''
    url.password = ''
  }
  return { target: url.toString(), headers }
}

/** A status in one of the ranges. */
export function accepted(status: number, ranges: Array<[number, number]>): boolean {
  return ranges.some(([low, high]) => status >= low && status <= high)
}

function describeRanges(ranges: Array<[number, number]>): string {
  return ranges.map(([low, high]) => (low === high ? String(low) : low % 100 === 0 && high === low + 99 ? `${low / 100}xx` : `${low}-${high}`)).join(', ')
}

function excerpt(body: string): string {
  const flat = body.replace(/\s+/g, ' ').trim()
  if (flat === '') return '(empty body)'
  return `"${flat.length > EXCERPT_CHARS ? `${flat.slice(0, EXCERPT_CHARS)}…` : flat}"`
}

/** Reads at most BODY_LIMIT bytes of the body as text. */
async function readBody(response: Response): Promise<string> {
  if (!response.body) return ''
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    while (size < BODY_LIMIT) {
      const { done, value } = await reader.read()
      if (done) break
      chunks.push(value)
      size += value.byteLength
    }
  } finally {
    await reader.cancel().catch(() => undefined)
  }
  return new TextDecoder().decode(Buffer.concat(chunks).subarray(0, BODY_LIMIT))
}

/** Why a request got no answer, in words: refused, no DNS answer, no answer in time. */
function connectionProblem(error: unknown, timedOutAfterMs: number | undefined): string {
  if (timedOutAfterMs !== undefined) return `got no answer within ${(timedOutAfterMs / 1000).toFixed(1)}s`
  const code = errnoOf(error)
  const words: Record<string, string> = {
    ECONNREFUSED: 'the connection was refused',
    ECONNRESET: 'the connection was reset',
    ENOTFOUND: 'the host name does not resolve',
    EAI_AGAIN: 'the host name could not be resolved (DNS did not answer)',
    UND_ERR_CONNECT_TIMEOUT: 'no connection within the connect timeout'
  }
  const cause = (error as { cause?: unknown })?.cause
  return words[code] ? `failed: ${words[code]} (${code})` : `failed: ${errorMessage(cause ?? error)}`
}

/**
 * GETs `verify-url` until it answers with an accepted status (and the expected text), retried with
 * the shared backoff while the new revision settles, within the context's deadline. Every failed try
 * is printed once per distinct answer; the verdict names the last answer.
 */
export async function verifyUrl(settings: VerifySettings & { url: string }, context: WaitContext): Promise<VerifyResult> {
  const { deadline, progress } = context
  const shown = maskedUrl(settings.url)
  const manual = settings.statuses.some(([low, high]) => low <= 399 && high >= 300)
  const wanted = `${describeRanges(settings.statuses)}${settings.text !== undefined ? ` with '${settings.text}' in the body` : ''}`
  progress.step(`verify-url: GET ${shown} until it answers ${wanted} (within ${formatDuration(deadline.remainingMs())})`)
  const startedAt = Date.now()
  let tries = 0
  let last = 'no request was made'
  // A try the deadline cut short says less than the answer before it: the verdict names both.
  let cutShort: string | undefined
  const lastTry = (): string => (cutShort === undefined ? `the last try ${last}` : tries > 1 ? `the last answer: it ${last}; a try after it ${cutShort}` : `the only try ${cutShort}`)

  // Checked with the inputs already; this keeps a URL that slipped past them from throwing after a rollout.
  const problem = verifyUrlProblem(settings.url)
  if (problem !== undefined) return { ok: false, reason: `verify-url: ${problem}` }
  const { target, headers } = request(settings.url)
  // Text about a failed request (and the server's answer) may quote the URL or its secrets, in any form:
  // only ever in its printable form. The longest first, so that no part of a secret is left over; the
  // shortest are left to the runner's masking, which would otherwise turn common words into ***.
  const secrets = verifyUrlSecrets(settings.url).filter(secret => secret.length >= 3).sort((a, b) => b.length - a.length)
  const clean = (text: string): string => secrets.reduce((out, secret) => out.split(secret).join('***'), text.split(settings.url).join(shown).split(target).join(shown))

  const attempt = async (): Promise<string> => {
    tries++
    const triedAt = Date.now()
    const limitMs = Math.min(REQUEST_TIMEOUT_MS, Math.max(1000, deadline.remainingMs() / 3), deadline.remainingMs())
    const timeout = AbortSignal.timeout(Math.max(1, Math.round(limitMs)))
    let response: Response
    try {
      response = await fetch(target, { method: 'GET', redirect: manual ? 'manual' : 'follow', signal: AbortSignal.any([timeout, deadline.signal]), headers })
    } catch (error) {
      if (deadline.signal.aborted) {
        cutShort = `got no answer in the ${formatDuration(Date.now() - triedAt)} left before the deadline`
        throw deadline.signal.reason
      }
      throw new NotYet(clean(connectionProblem(error, timeout.aborted ? limitMs : undefined)))
    }
    let body: string
    try {
      body = await readBody(response)
    } catch (error) {
      if (deadline.signal.aborted) throw deadline.signal.reason
      throw new NotYet(clean(`answered ${response.status}, then the body could not be read: ${errorMessage(error)}`))
    }
    // The status text and the body are the server's words: they may quote the URL, so they are cleaned like the rest
    // (the body before it is cut short, so a quoted URL is never cut in half past the masking).
    const status = clean(`${response.status}${response.statusText ? ` ${response.statusText}` : ''}`)
    if (!accepted(response.status, settings.statuses)) throw new NotYet(`answered ${status}: ${excerpt(clean(body))}`)
    if (settings.text !== undefined && !body.includes(settings.text)) throw new NotYet(`answered ${status} without '${settings.text}' in the body: ${excerpt(clean(body))}`)
    return status
  }

  try {
    const status = await retry(
      async () => {
        try {
          return await attempt()
        } catch (error) {
          if (error instanceof NotYet) last = error.message
          throw error
        }
      },
      {
        attempts: Number.MAX_SAFE_INTEGER,
        // Tries go on until the deadline; a pause that would reach past it is cut short for one last try.
        sleep: (ms, signal) => sleep(deadline.remainingMs() > 600 ? Math.min(ms, deadline.remainingMs() - 300) : ms, signal),
        baseMs: 500,
        maxMs: 5000,
        signal: deadline.signal,
        retryable: error => error instanceof NotYet,
        onRetry: (_error, attempt, delayMs) => {
          progress.event(`verify-url:${last}`, `verify-url: ${shown} ${last}; trying again (try ${attempt + 1} in ${(delayMs / 1000).toFixed(1)}s)`)
        }
      }
    )
    progress.step(`verify-url: ${shown} answered ${status} after ${tries} tr${tries === 1 ? 'y' : 'ies'} in ${formatDuration(Date.now() - startedAt)}`)
    return { ok: true }
  } catch (error) {
    const spent = `${tries} tr${tries === 1 ? 'y' : 'ies'} in ${formatDuration(Date.now() - startedAt)}`
    if (deadline.stoppedBy === 'cancelled') return { ok: false, reason: `cancelled while checking ${shown} (${spent}); ${lastTry()}` }
    if (error instanceof NotYet || deadline.stoppedBy === 'timeout') {
      return { ok: false, reason: `GET ${shown} never answered ${wanted} (${spent}, verify-timeout); ${lastTry()}` }
    }
    return { ok: false, reason: `GET ${shown} could not be checked: ${clean(errorMessage(error))}` }
  }
}
