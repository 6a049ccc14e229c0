import * as core from '@actions/core'
import fs from 'node:fs'
import { UserError, errorMessage, formatProblem } from '../errors.js'
import { isCancellation } from '../rollout/deadline.js'
import type { RunResult } from '../rollout/engine.js'
import { workflowLog, type Progress } from '../rollout/progress.js'
import type { DeployRequest } from '../request.js'
import { outputsOf } from './outputs.js'
import { errorSummary, haltSummary, haltMessage, summaryMarkdown } from './summary.js'

/**
 * Step outputs, the job summary and the final line of a run that reached a result. Writing outputs or
 * the summary can fail on a broken runner (GITHUB_OUTPUT or GITHUB_STEP_SUMMARY missing or not
 * writable): that is a warning, and the verdict stays the rollout's.
 */
export async function reportResult(result: RunResult, request: DeployRequest, platform: string): Promise<void> {
  writeOutputs(outputsOf(result))
  await writeSummary(summaryMarkdown(result, request, platform))
  if (result.ok) workflowLog(core).info(result.message)
  else core.setFailed(result.message)
}

/**
 * A run that stopped on an error: each problem as an annotation (at file:line when it has one), the
 * summary, and a final line that says whether anything had been changed. An error that is not the
 * user's (a bug, a broken runner) also prints its stack trace, which names src/ files (source maps).
 */
export async function reportError(error: unknown, progress: Progress): Promise<void> {
  if (error instanceof UserError) {
    for (const problem of error.problems) {
      const at = problem.location
      core.error(formatProblem(problem), at ? { file: at.file, startLine: at.line, startColumn: at.column, title: 'deploy-service' } : { title: 'deploy-service' })
    }
    const more = error.problems.length - 1
    const what = `${formatProblem(error.problems[0])}${more > 0 ? ` (and ${more} more above)` : ''}`
    core.setFailed(progress.changing ? what : `nothing was changed: ${what}`)
  } else {
    // A cancellation is no bug: its stack would only be noise. It may come wrapped, as the cause of the
    // call it aborted ("could not describe service 'web': the run was cancelled (SIGINT)").
    const cancelled = isCancellation(error)
    if (!cancelled) printStack(error)
    const prefix = cancelled ? (progress.changing ? 'cancelled while the change was being made: ' : 'cancelled; nothing was changed: ') : progress.changing ? '' : 'nothing was changed: '
    core.setFailed(`${prefix}${errorMessage(error)}`)
  }
  writeOutputs({ status: 'failed', 'duration-seconds': (progress.elapsedMs() / 1000).toFixed(1) })
  await writeSummary(errorSummary(error, progress.changing))
}

/** Each output on its own: one that cannot be written is a warning, and the others are still tried. */
export function writeOutputs(outputs: Record<string, string>): void {
  const failed: string[] = []
  let why = ''
  for (const [name, value] of Object.entries(outputs)) {
    try {
      core.setOutput(name, value)
    } catch (error) {
      failed.push(name)
      why = errorMessage(error).replace(/\.+$/, '')
    }
  }
  if (failed.length > 0) {
    core.warning(`Could not write the step outputs (${failed.join(', ')}): ${why}. Is GITHUB_OUTPUT a writable file? Later steps will not see them; the deploy's result is not affected.`)
  }
}

/** Appends to the job summary; a summary that cannot be written is a warning. */
export async function writeSummary(markdown: string): Promise<void> {
  try {
    await core.summary.addRaw(markdown).write()
  } catch (error) {
    core.summary.emptyBuffer()
    core.warning(`Could not write the job summary: ${errorMessage(error).replace(/\.+$/, '')}. Is GITHUB_STEP_SUMMARY a writable file? The deploy's result is not affected.`)
  }
}

/** The stack of an unexpected error, line by line as plain log text (never as workflow commands). */
export function printStack(error: unknown): void {
  const stack = error instanceof Error ? error.stack : undefined
  if (!stack) return
  const log = workflowLog(core)
  log.startGroup?.('Stack trace of the unexpected error (include it in a bug report)')
  log.info(stack)
  log.endGroup?.()
}

/**
 * A cancelled run that did not stop in time (a call that ignored the abort): the final line, the status
 * output and a short summary of where it stood, all written synchronously since the process exits next.
 */
export function reportHalt(signals: string[], progress: Progress): void {
  progress.endPhase()
  core.error(haltMessage(signals, progress))
  writeOutputs({ status: 'failed', 'duration-seconds': (progress.elapsedMs() / 1000).toFixed(1) })
  const file = process.env.GITHUB_STEP_SUMMARY
  if (!file) return
  try {
    fs.appendFileSync(file, haltSummary(signals, progress))
  } catch (error) {
    core.warning(`Could not write the job summary: ${errorMessage(error)}`)
  }
}
