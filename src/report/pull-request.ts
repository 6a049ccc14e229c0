import fs from 'node:fs'
import * as core from '@actions/core'
import { errorMessage } from '../errors.js'
import type { RunResult } from '../rollout/engine.js'
import type { DeployRequest, GitHubContext } from '../request.js'
import { verifyUrlSecrets } from '../verify/url-input.js'
import { apiWarning, callGitHub, loadGitHubClient, type Octokit, type PermissionHint } from './github-client.js'
import { codeSpan, fenceFor, fitLines, text } from './summary.js'

/**
 * `pr-comment`: a dry run on a pull request writes its plan (images, objects, strategy, pre-deploy step,
 * the secret-safe diff) as one comment on the pull request, and every later run updates that same
 * comment. A hidden marker naming the service and the environment finds it, so each service and
 * environment keeps its own comment.
 *
 * Best effort, like the Deployment record: a fork's read-only token, a missing permission or an API
 * problem is a warning, never a failed step; the plan is in the job summary in any case.
 */

/** GitHub refuses an issue comment body longer than this (characters). */
export const COMMENT_MAX = 65_536

export const COMMENT_PERMISSION_HINT: PermissionHint = {
  mayNot: 'comment on pull requests of this repository',
  fix: 'Add `permissions: pull-requests: write` to the job (or the workflow). A pull request from a fork gets a read-only token whatever the workflow asks: there the plan stays in the job summary.'
}

/** Events whose GITHUB_REF or payload names a pull request. */
const PULL_REQUEST_EVENTS = ['pull_request', 'pull_request_target', 'pull_request_review', 'pull_request_review_comment']

/**
 * Who may have written our comment. A comment that merely starts with our marker is not proof: anyone
 * who can comment (the author of a pull request from a fork) could plant one, have the plan written into
 * it, then edit what reviewers read. Ours are written by the token's identity: the Actions bot or an
 * app (type Bot), or a person with write access when `github-token` is their token.
 */
const TRUSTED_ASSOCIATIONS = ['OWNER', 'MEMBER', 'COLLABORATOR']

/** Listing stops after this many pages of 100 comments: a pull request with more is not looked through further. */
const MAX_PAGES = 50

export interface CommentOptions {
  log?: { info(message: string): void; warning(message: string): void }
  timeoutMs?: number
  retryMaxDelayMs?: number
}

interface Comment {
  id: number
  body?: string
  html_url: string
  user: { type?: string } | null
  author_association?: string
}

/** The hidden first line that finds a run's comment again; the environment is URL-encoded so it cannot end the HTML comment. */
export function planMarker(service: string, environment: string | undefined): string {
  return `<!-- deploy-service plan: service=${service} environment=${encodeURIComponent(environment ?? '')} -->`
}

/** Writes or updates the pull request's plan comment when `pr-comment` asks for it; never throws. */
export async function commentPlan(result: RunResult, request: DeployRequest, platform: string, options: CommentOptions = {}): Promise<void> {
  const log = options.log ?? core
  const github = request.github
  if (!github.prComment) return
  if (result.status !== 'dry-run') {
    log.info('pr-comment: only a dry run comments its plan on the pull request; this run made the change, so there is no comment.')
    return
  }
  const number = pullRequestNumber(github)
  if (number === undefined) {
    log.info(`pr-comment: this run is not for a pull request (event '${github.eventName || 'unknown'}'), so the plan is in the job summary only.`)
    return
  }
  const consequence = 'the plan is in the job summary only'
  const effect = 'The dry run itself is not affected'
  const [owner, repo] = github.repository.split('/')
  if (!github.token || !owner || !repo) {
    log.warning(`Could not comment the plan on pull request #${number}: ${github.token ? 'GITHUB_REPOSITORY is not set' : 'there is no token. Set `github-token` (default: the workflow\'s GITHUB_TOKEN)'}. ${effect}; ${consequence}.`)
    return
  }
  let octokit: Octokit
  try {
    octokit = await loadGitHubClient(github.token, github.apiUrl)
  } catch (error) {
    log.warning(`Could not comment the plan on pull request #${number}: the GitHub client did not load (${errorMessage(error)}). Is GITHUB_EVENT_PATH a readable JSON file? ${effect}; ${consequence}.`)
    return
  }
  const call = { timeoutMs: options.timeoutMs ?? 20_000, maxDelayMs: options.retryMaxDelayMs ?? 3000 }
  const marker = planMarker(request.service, github.environment)
  const body = maskSecrets(planComment(result, request, platform), request)
  let what = `read the comments of pull request #${number}`
  try {
    const ours = await findComment(octokit, { owner, repo, number, marker }, call)
    if (ours?.body === body) {
      log.info(`pull request #${number}: the plan comment is up to date: ${ours.html_url}`)
      return
    }
    if (ours) {
      what = `update the plan comment ${ours.id} on pull request #${number}`
      const updated = await callGitHub(signal => octokit.rest.issues.updateComment({ owner, repo, comment_id: ours.id, body, request: { signal } }), call)
      log.info(`pull request #${number}: plan comment updated: ${updated.data.html_url}`)
    } else {
      what = `comment the plan on pull request #${number}`
      const created = await callGitHub(signal => octokit.rest.issues.createComment({ owner, repo, issue_number: number, body, request: { signal } }), call)
      log.info(`pull request #${number}: plan commented: ${created.data.html_url}`)
    }
  } catch (error) {
    log.warning(apiWarning(what, consequence, error, COMMENT_PERMISSION_HINT, effect))
  }
}

/** Our earlier comment: page by page (GitHub's Link header says whether there is a next one). */
async function findComment(
  octokit: Octokit,
  where: { owner: string; repo: string; number: number; marker: string },
  call: { timeoutMs: number; maxDelayMs: number }
): Promise<Comment | undefined> {
  for (let page = 1; page <= MAX_PAGES; page++) {
    const answer = await callGitHub(
      signal => octokit.rest.issues.listComments({ owner: where.owner, repo: where.repo, issue_number: where.number, per_page: 100, page, request: { signal } }),
      call
    )
    const found = (answer.data as Comment[]).find(comment => isOurs(comment, where.marker))
    if (found) return found
    if (!/\brel="next"/.test(String(answer.headers.link ?? ''))) return undefined
  }
  return undefined
}

function isOurs(comment: Comment, marker: string): boolean {
  if (!comment.body?.startsWith(marker)) return false
  return comment.user?.type === 'Bot' || TRUSTED_ASSOCIATIONS.includes(comment.author_association ?? '')
}

/** The pull request of this run: from GITHUB_REF (`refs/pull/7/merge`), else from the event's payload. */
export function pullRequestNumber(github: GitHubContext): number | undefined {
  if (!PULL_REQUEST_EVENTS.includes(github.eventName)) return undefined
  const fromRef = /^refs\/pull\/(\d+)\/(?:merge|head)$/.exec(github.ref)
  if (fromRef) return Number(fromRef[1])
  // pull_request_target runs on the base branch: only the payload names the pull request.
  try {
    const payload = JSON.parse(fs.readFileSync(github.eventPath, 'utf8')) as { pull_request?: { number?: unknown } }
    const number = payload.pull_request?.number
    return typeof number === 'number' && Number.isInteger(number) && number > 0 ? number : undefined
  } catch {
    return undefined
  }
}

/**
 * Values the runner masks in the log (registered with core.setSecret) are not masked in a comment: the
 * runner never sees its body. The ones a plan could show (helm-set values, verify-url credentials) are
 * replaced here, as the log would show them.
 */
function maskSecrets(body: string, request: DeployRequest): string {
  const secrets = [...Object.values(request.kubernetes.helmSet).filter(value => value.length >= 3), ...(request.verify?.url ? verifyUrlSecrets(request.verify.url) : [])]
  // Longest first, so that a secret holding a shorter one is replaced whole.
  return secrets.sort((a, b) => b.length - a.length).reduce((masked, secret) => masked.split(secret).join('***'), body)
}

/**
 * The comment's Markdown: the marker, what would change, the diff folded in <details>, where the rest
 * is. Outside text is shown as data (escaped, or inside a fence it cannot close). At most COMMENT_MAX
 * characters: a diff too long is cut in the middle with a pointer to the job summary.
 */
export function planComment(result: RunResult, request: DeployRequest, platform: string): string {
  const github = request.github
  const summaryLink = github.runUrl ? `the [job summary](${github.runUrl}) of this run` : 'the job summary of this run'
  const environment = github.environment ? ` → ${text(github.environment)}` : ''
  const lines = [planMarker(request.service, github.environment), `### 🔍 deploy-service plan: ${codeSpan(request.service)}${environment}`, '']
  const commit = github.sha ? `commit ${codeSpan(github.sha.slice(0, 12))}, ` : ''
  lines.push(`${text(result.message)} (${commit}${text(platform)}). Every later run of this pull request updates this comment.`, '')
  if (result.plan) lines.push(`**Change:** ${text(result.plan.description)}`, '')
  if (result.plan?.before) lines.push(`**Before the rollout:** ${text(result.plan.before)}`, '')

  if (result.images.length > 0) {
    lines.push('| container | image now | image after |', '|---|---|---|')
    for (const image of result.images) lines.push(`| ${codeSpan(image.container)} | ${image.previous ? codeSpan(image.previous) : '(none)'} | ${codeSpan(image.next)} |`)
    lines.push('')
  }

  const objects = result.objects ?? []
  if (objects.length > 0) {
    const count = (match: RegExp): number => objects.filter(object => match.test(object.state)).length
    const created = count(/would be created/)
    const changed = count(/would change/)
    const pruned = count(/would be pruned/)
    lines.push(`**Objects:** ${created} to create, ${changed} to change, ${pruned} to prune, ${objects.length - created - changed - pruned} unchanged`, '')
    const rows = objects.filter(object => object.state !== 'unchanged').map(object => `| ${codeSpan(object.ref)} | ${text(object.state)} |`)
    if (rows.length > 0) lines.push('| object | change |', '|---|---|', ...fitLines(rows, 8 * 1024, left => `| … | ${left} more in ${summaryLink} |`), '')
  }

  const where = result.renderedPath
    ? `The whole rendered file is ${codeSpan(result.renderedPath)} on the runner (output \`rendered-path\`; upload it with actions/upload-artifact to keep it); ${summaryLink} and the step's log have the plan too.`
    : `${summaryLink} and the step's log have the plan too.`

  if (result.diff?.trim()) {
    const diff = result.diff.trimEnd().split('\n')
    // What is left for the diff once everything else is in: fitLines counts UTF-8 bytes, never fewer
    // than the characters GitHub counts, so the cut diff always fits.
    const rest = [...lines, '<details>', `<summary>Diff (${diff.length} lines; secret values redacted)</summary>`, '', '````diff', '````', '', '</details>', '', where]
    const budget = COMMENT_MAX - rest.join('\n').length - 1024
    const kept = fitLines(diff, Math.max(0, budget), left => `… ${left} lines of the diff left out here (a comment holds at most ${COMMENT_MAX} characters); ${result.renderedPath ? `the rendered file ${result.renderedPath} has the whole result and ` : ''}the job summary of this run has the diff`)
    const fence = fenceFor(kept.join('\n'))
    lines.push('<details>', `<summary>Diff (${diff.length} lines; secret values redacted)</summary>`, '', `${fence}diff`, ...kept, fence, '', '</details>', '')
  } else {
    lines.push('No difference from what runs now.', '')
  }
  lines.push(where)
  const body = `${lines.join('\n')}\n`
  // The parts other than the diff are bounded (a line at most 4 KiB, the object rows 8 KiB); this is the last guard.
  return body.length <= COMMENT_MAX ? body : `${body.slice(0, COMMENT_MAX - 200)}\n\n… cut here: a comment holds at most ${COMMENT_MAX} characters; ${summaryLink} has all of it.\n`
}
