import * as core from '@actions/core'
import { UserError, errorMessage, formatProblem } from './errors.js'
import { parseInputs } from './inputs.js'
import { loadPlatform } from './platforms/platform.js'
import { choosePlatform } from './platforms/choose.js'
import { createDeploymentRecorder } from './report/deployments.js'
import type { DeploymentRecorder } from './report/deployments.js'
import { outputsOf } from './report/outputs.js'
import { errorSummary, summaryMarkdown } from './report/summary.js'
import { runDeployment } from './rollout/engine.js'
import { cancellationOnSignals } from './rollout/deadline.js'
import { Progress } from './rollout/progress.js'

/** The action: inputs -> platform -> engine -> report. Fails the step once, at the end. */
export async function run(): Promise<void> {
  const progress = new Progress(core)
  const cancellation = cancellationOnSignals()
  let deployments: DeploymentRecorder | undefined
  try {
    const request = parseInputs()
    const platformName = await choosePlatform(request)
    const platform = await loadPlatform(platformName, request)
    const recorder = (deployments = createDeploymentRecorder(request, platformName, { cancel: cancellation.signal }))
    const result = await runDeployment(request, platform, progress, cancellation.signal, { beforeApply: plan => recorder.started(plan) })
    progress.endPhase()
    await recorder.finished(result)
    for (const [name, value] of Object.entries(outputsOf(result))) core.setOutput(name, value)
    await core.summary.addRaw(summaryMarkdown(result, request, platformName)).write()
    if (result.ok) core.info(result.message)
    else core.setFailed(result.message)
  } catch (error) {
    progress.endPhase()
    await deployments?.failed(error)
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
      core.setFailed(errorMessage(error))
    }
    await core.summary.addRaw(errorSummary(error, progress.changing)).write().catch(() => undefined)
  } finally {
    cancellation.dispose()
  }
}
