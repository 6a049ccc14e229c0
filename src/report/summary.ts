import { UserError, errorMessage, formatProblem } from '../errors.js'
import type { RunResult } from '../rollout/engine.js'
import type { DeployRequest } from '../request.js'
import { outputsOf } from './outputs.js'

const ICON: Record<RunResult['status'], string> = {
  succeeded: '✅',
  failed: '❌',
  'rolled-back': '↩️',
  superseded: '⏭️',
  applied: '📤',
  rendered: '📄',
  'dry-run': '🔍'
}

/** The job summary as Markdown: the outcome, the outputs as a table, the reasons, the timeline. */
export function summaryMarkdown(result: RunResult, request: DeployRequest, platform: string): string {
  const outputs = outputsOf(result)
  const lines = [`## ${ICON[result.status]} deploy-service: ${request.service} ${result.status}`, '', `${escape(result.message)}`, '']
  lines.push('| | |', '|---|---|')
  lines.push(`| platform | ${platform} |`)
  for (const [name, value] of Object.entries(outputs)) if (value !== '') lines.push(`| ${name} | \`${escape(value)}\` |`)
  if (result.rollback) {
    lines.push(`| rolled back to | \`${escape(result.rollback.revision)}\` (${result.rollback.by === 'platform' ? 'by the platform' : 'by this action'}, ${result.rollback.healthy ? 'healthy' : 'NOT healthy'}) |`)
  }
  if (result.reasons.length > 0) {
    lines.push('', '### Why it failed', '')
    for (const reason of result.reasons) lines.push(reason.includes('\n') ? `- <pre>${html(reason)}</pre>` : `- ${escape(reason)}`)
  }
  if (result.diff) lines.push('', '### What would change', '', '```diff', result.diff.trimEnd(), '```')
  if (result.progress.timeline.length > 0) {
    lines.push('', '### Timeline', '', '| at | what |', '|---|---|')
    for (const entry of result.progress.timeline) lines.push(`| +${(entry.atMs / 1000).toFixed(1)}s | ${escape(entry.message)} |`)
  }
  return `${lines.join('\n')}\n`
}

/** The job summary of a run that stopped on an error before it had a result. */
export function errorSummary(error: unknown, changing: boolean): string {
  const problems = error instanceof UserError ? error.problems.map(formatProblem) : [errorMessage(error)]
  const lines = ['## ❌ deploy-service failed', '', changing ? 'The change was being applied when this happened.' : 'Nothing was changed.', '']
  for (const problem of problems) lines.push(`- ${escape(problem)}`)
  return `${lines.join('\n')}\n`
}

function escape(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ')
}

function html(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}
