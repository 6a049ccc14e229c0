import * as core from '@actions/core'
import { UserError, errorMessage, formatProblem } from '../errors.js'
import type { RunResult } from '../rollout/engine.js'
import type { Progress } from '../rollout/progress.js'
import type { DeployRequest } from '../request.js'
import { outputsOf } from './outputs.js'
import { errorSummary, summaryMarkdown } from './summary.js'

/** Step outputs, the job summary and the final line of a run that reached a result. */
export async function reportResult(result: RunResult, request: DeployRequest, platform: string): Promise<void> {
  for (const [name, value] of Object.entries(outputsOf(result))) core.setOutput(name, value)
  await core.summary.addRaw(summaryMarkdown(result, request, platform)).write()
  if (result.ok) core.info(result.message)
  else core.setFailed(result.message)
}

/**
 * A run that stopped on an error: each problem as an annotation (at file:line when it has one), the
 * summary, and a final line that says whether anything had been changed.
 */
export async function reportError(error: unknown, progress: Progress): Promise<void> {
  core.setOutput('status', 'failed')
  core.setOutput('duration-seconds', (progress.elapsedMs() / 1000).toFixed(1))
  if (error instanceof UserError) {
    for (const problem of error.problems) {
      const at = problem.location
      core.error(formatProblem(problem), at ? { file: at.file, startLine: at.line, startColumn: at.column, title: 'deploy-service' } : { title: 'deploy-service' })
    }
    const more = error.problems.length - 1
    const what = `${formatProblem(error.problems[0])}${more > 0 ? ` (and ${more} more above)` : ''}`
    core.setFailed(progress.changing ? what : `nothing was changed: ${what}`)
  } else {
    core.setFailed(progress.changing ? errorMessage(error) : `nothing was changed: ${errorMessage(error)}`)
  }
  await core.summary.addRaw(errorSummary(error, progress.changing)).write().catch(() => undefined)
}
