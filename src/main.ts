import * as core from '@actions/core'
import { errorMessage } from './errors.js'
import { parseInputs } from './inputs.js'
import { choosePlatform, loadPlatform } from './platforms/choose.js'
import { createDeploymentRecorder, type DeploymentRecorder } from './report/deployments.js'
import { reportError, reportHalt, reportResult } from './report/report.js'
import { cancellationOnSignals } from './rollout/deadline.js'
import { runDeployment } from './rollout/engine.js'
import { Progress, workflowLog } from './rollout/progress.js'

/** The action: inputs -> platform -> engine -> report. Fails the step once, at the end. */
export async function run(): Promise<void> {
  const progress = new Progress(workflowLog(core))
  // A run that does not stop after a cancellation (a call that ignores the abort) writes a short report
  // and exits before the runner kills it mid-write.
  const cancellation = cancellationOnSignals({ onHalt: signals => reportHalt(signals, progress) })
  cancellation.signal.addEventListener('abort', () => core.info(`${errorMessage(cancellation.signal.reason)}: stopping, then reporting where the run stood`), { once: true })
  let deployments: DeploymentRecorder | undefined
  try {
    const request = parseInputs()
    const platformName = await choosePlatform(request)
    const platform = await loadPlatform(platformName, request, cancellation.signal)
    const recorder = (deployments = createDeploymentRecorder(request, platformName, { cancel: cancellation.signal }))
    const result = await runDeployment(request, platform, progress, cancellation.signal, { beforeApply: plan => recorder.started(plan) })
    progress.endPhase()
    await recorder.finished(result)
    if (request.github.prComment) await (await import('./report/pull-request.js')).commentPlan(result, request, platformName)
    await reportResult(result, request, platformName)
  } catch (error) {
    progress.endPhase()
    await deployments?.failed(error)
    await reportError(error, progress)
  } finally {
    cancellation.dispose()
  }
}
