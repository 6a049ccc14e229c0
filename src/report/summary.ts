import { UserError, errorMessage, formatProblem } from '../errors.js'
import type { RunResult } from '../rollout/engine.js'
import type { Progress } from '../rollout/progress.js'
import type { DeployRequest } from '../request.js'
import { outputsOf } from './outputs.js'

const ICON: Record<RunResult['status'], string> = {
  succeeded: '✅',
  failed: '❌',
  'rolled-back': '↩️',
  superseded: '⏭️',
  paused: '⏸️',
  'in-progress': '⏳',
  applied: '📤',
  rendered: '📄',
  'dry-run': '🔍'
}

/**
 * GitHub refuses a step summary over 1 MiB (and shows none). The sections that can grow without bound
 * (reasons, the diff, the timeline) each get a share of it; what does not fit is cut with a pointer to
 * where the whole of it is. The rest (title, table) is small and bounded by LINE_MAX per line.
 */
export const SUMMARY_MAX_BYTES = 1024 * 1024
// With the halt summary (at most ~90 KiB) appended after a whole one, still under the limit.
const BUDGET = { reasons: 128 * 1024, diff: 576 * 1024, timeline: 128 * 1024 }
/** One line of outside text (a stop reason, an event) is cut beyond this. */
const LINE_MAX = 4096

/**
 * The job summary as Markdown: the outcome, the outputs as a table, the reasons, the timeline. Text
 * from outside (the platform's events and reasons, the diff) is shown as data: escaped, never markup.
 */
export function summaryMarkdown(result: RunResult, request: DeployRequest, platform: string): string {
  const outputs = outputsOf(result)
  const elsewhere = result.renderedPath ? `the step's log and ${codeSpan(result.renderedPath)} have all of it` : "the step's log has all of it"
  const lines = [`## ${ICON[result.status]} deploy-service: ${text(request.service)} ${result.status}`, '', text(result.message), '']
  lines.push('| | |', '|---|---|')
  lines.push(`| platform | ${text(platform)} |`)
  for (const [name, value] of Object.entries(outputs)) if (value !== '' && name !== 'services') lines.push(`| ${name} | ${codeSpan(value)} |`)
  if (result.rollback) {
    lines.push(`| rolled back to | ${codeSpan(result.rollback.revision)} (${result.rollback.by === 'platform' ? 'by the platform' : 'by this action'}, ${rollbackHealth(result.rollback)}) |`)
  }
  // A run that stopped early (failed, timed out, cancelled) says where the rollout stood at the end.
  if (!result.ok && result.progress.lastStatusLine) lines.push(`| rollout state at the end | ${text(result.progress.lastStatusLine)} |`)
  if (result.reasons.length > 0) {
    lines.push('', '### Why it failed', '')
    const reasons = result.reasons.map(reason => (reason.includes('\n') ? `- <pre>${html(clipLines(reason))}</pre>` : `- ${text(reason)}`))
    lines.push(...fitLines(reasons, BUDGET.reasons, count => `- … ${count} more left out here; ${elsewhere}`))
  }
  if (result.objects && result.objects.length > 0) {
    // Several ECS services: a row per service (the `services` output has the same as JSON).
    lines.push('', result.objects.some(object => object.service) ? '### Services' : '### Objects', '', '| object | state |', '|---|---|')
    const rows = result.objects.map(object => `| ${codeSpan(object.ref)} | ${text(object.state)} |`)
    lines.push(...fitLines(rows, BUDGET.reasons, count => `| … | ${count} more left out here; ${elsewhere} |`))
  }
  if (result.diff) {
    const diff = result.diff.trimEnd().split('\n').map(clip)
    const kept = fitLines(diff, BUDGET.diff, count => `… ${count} lines of the diff left out here; ${result.renderedPath ? `the rendered file ${result.renderedPath} has the whole result` : "the step's log has all of it"}`)
    const fence = fenceFor(kept.join('\n'))
    lines.push('', '### What would change', '', `${fence}diff`, ...kept, fence)
  }
  if (result.progress.timeline.length > 0) {
    lines.push('', '### Timeline', '', '| at | what |', '|---|---|')
    const rows = result.progress.timeline.map(entry => `| +${(entry.atMs / 1000).toFixed(1)}s | ${text(entry.message)} |`)
    lines.push(...fitLines(rows, BUDGET.timeline, count => `| … | ${count} entries left out here; ${elsewhere} |`))
  }
  return `${lines.join('\n')}\n`
}

/**
 * How the rollback ended, in words. A rollback the run stopped waiting for (cancelled) or that another
 * deploy replaced has no known health: never called "NOT healthy", which would say it failed.
 */
export function rollbackHealth(rollback: NonNullable<RunResult['rollback']>): string {
  if (rollback.unknown === 'cancelled') return 'in progress when the run was cancelled: health unknown'
  if (rollback.unknown === 'superseded') return 'replaced by another deploy: health unknown'
  return rollback.healthy ? 'healthy' : 'NOT healthy'
}

/** The job summary of a run that stopped on an error before it had a result. */
export function errorSummary(error: unknown, changing: boolean): string {
  const problems = error instanceof UserError ? error.problems.map(formatProblem) : [errorMessage(error)]
  const lines = ['## ❌ deploy-service failed', '', changing ? 'The change was being applied when this happened.' : 'Nothing was changed.', '']
  lines.push(...fitLines(problems.map(problem => `- ${text(problem)}`), BUDGET.reasons, count => `- … ${count} more problems in the step's log`))
  return `${lines.join('\n')}\n`
}

/** The final line of a cancelled run that did not stop by itself in time. */
export function haltMessage(signals: string[], progress: Progress): string {
  const stood = progress.lastStatusLine ? `; where the rollout stood: ${progress.lastStatusLine}` : ''
  const last = progress.timeline.at(-1)?.message.split('\n')[0]
  const step = last ? `; last step: ${last}` : ''
  const changed = progress.changing ? 'the change had been applied and was left as it stood, nothing was rolled back' : 'nothing was changed'
  return `cancelled (${signals.join(', then ')}) and the run did not stop in time: ${changed}${step}${stood}`
}

/** The short job summary written, synchronously, by a cancelled run that did not stop in time. */
export function haltSummary(signals: string[], progress: Progress): string {
  const lines = ['## ❌ deploy-service cancelled', '', text(haltMessage(signals, progress)), '']
  const recent = progress.timeline.slice(-20)
  if (recent.length > 0) {
    lines.push('| at | what |', '|---|---|')
    for (const entry of recent) lines.push(`| +${(entry.atMs / 1000).toFixed(1)}s | ${text(entry.message)} |`)
  }
  return `${lines.join('\n')}\n`
}

/**
 * Keeps whole lines within `budget` bytes: the first ones and the last ones (how it began and how it
 * ended), with one line saying how many were left out between them.
 */
export function fitLines(lines: string[], budget: number, leftOut: (count: number) => string): string[] {
  const size = (line: string): number => Buffer.byteLength(line, 'utf8') + 1
  if (lines.reduce((total, line) => total + size(line), 0) <= budget) return lines
  const half = (budget - size(leftOut(lines.length))) / 2
  const head: string[] = []
  let used = 0
  for (const line of lines) {
    if (used + size(line) > half) break
    head.push(line)
    used += size(line)
  }
  const tail: string[] = []
  used = 0
  for (let i = lines.length - 1; i >= head.length; i--) {
    if (used + size(lines[i]) > half) break
    tail.unshift(lines[i])
    used += size(lines[i])
  }
  return [...head, leftOut(lines.length - head.length - tail.length), ...tail]
}

/** Outside text as one line of Markdown that renders as itself: no HTML, links, emphasis or code. */
export function text(value: string): string {
  return html(clip(value.replace(/\r?\n/g, ' '))).replace(/[\\`*_[\]|~]/g, '\\$&')
}

/** A value as inline code; backticks in it cannot end the span, pipes cannot end a table cell. */
export function codeSpan(value: string): string {
  const line = clip(value.replace(/\r?\n/g, ' ')).replace(/\|/g, '\\|')
  const fence = '`'.repeat(longestRun(line, '`') + 1)
  const pad = line.startsWith('`') || line.endsWith('`') ? ' ' : ''
  return `${fence}${pad}${line}${pad}${fence}`
}

function html(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** A code fence longer than any run of backticks in the text, so the text cannot close it. */
export function fenceFor(body: string): string {
  return '`'.repeat(Math.max(3, longestRun(body, '`') + 1))
}

function longestRun(value: string, char: string): number {
  let longest = 0
  let run = 0
  for (const c of value) {
    run = c === char ? run + 1 : 0
    longest = Math.max(longest, run)
  }
  return longest
}

function clip(line: string): string {
  return line.length <= LINE_MAX ? line : `${line.slice(0, LINE_MAX)}… (${line.length - LINE_MAX} more characters)`
}

function clipLines(value: string): string {
  return value.split('\n').map(clip).join('\n')
}
