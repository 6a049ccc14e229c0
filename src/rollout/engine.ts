import fs from 'node:fs/promises'
import path from 'node:path'
import { UserError, errorMessage } from '../errors.js'
import { Deadline, formatDuration } from './deadline.js'
import type { Progress } from './progress.js'
import type { ObjectState, Plan, Platform, Rollout, WaitContext, WaitOutcome } from './platform.js'
import type { ImageChange } from '../render/containers.js'
import type { DeployRequest } from '../request.js'
import { verifyAgainst, verifyRollout } from '../verify/index.js'
import { isNotOurs } from './ownership.js'

/**
 * `superseded`: another change replaced ours while we waited (nothing rolled back); `applied`: the
 * change was made and not waited for (`wait: false`); `paused`: the deployment waits at a PAUSE
 * lifecycle hook and `on-pause: exit` said to stop waiting (the step succeeds).
 */
export type RunStatus = 'succeeded' | 'failed' | 'rolled-back' | 'superseded' | 'paused' | 'applied' | 'rendered' | 'dry-run'

/** What a run did, for the outputs, the job summary and the GitHub Deployment. */
export interface RunResult {
  status: RunStatus
  /** False when the step must fail: the rollout failed, timed out, was cancelled or rolled back. */
  ok: boolean
  /** The final line: what happened, in one sentence. */
  message: string
  revision?: string
  previousRevision?: string
  images: ImageChange[]
  outputs: Record<string, string>
  renderedPath?: string
  diff?: string
  /**
   * A dry run's plan in words, for the pull-request comment: the change (ECS: with the strategy and its
   * timing) and the step that would run before it (the pre-deploy command).
   */
  plan?: { description: string; before?: string }
  /** Why the rollout failed, as the platform explained it (events, stopped tasks, pod reasons). */
  reasons: string[]
  /** What the rollout did, step by step. */
  progress: Progress
  /**
   * The revision put back after a failure, and whether it came up healthy. `unknown` says why its health
   * is not known (then `healthy: false` says nothing about it): the run was cancelled while the rollback
   * was in progress, or another deploy replaced it.
   */
  rollback?: { revision: string; by: 'action' | 'platform'; healthy: boolean; unknown?: 'cancelled' | 'superseded' }
  /** Every object the rollout waited on (and pruned), with its state, when the platform lists them. */
  objects?: ObjectState[]
}

export interface EngineHooks {
  /** Called once the change is validated, just before it is applied (GitHub Deployment: in_progress). */
  beforeApply?(plan: Plan): Promise<void>
}

/**
 * The pipeline both platforms share: prepare -> apply -> wait -> react. The platform knows how; the
 * engine knows when, for how long, and what to do when a rollout fails.
 */
export async function runDeployment(
  request: DeployRequest,
  platform: Platform,
  progress: Progress,
  cancel?: AbortSignal,
  hooks: EngineHooks = {}
): Promise<RunResult> {
  const base = { progress, reasons: progress.reasons, outputs: {} as Record<string, string> }
  if (request.mode === 'render') {
    progress.phase('Render')
    const rendered = await platform.render()
    const renderedPath = await writeRendered(request, rendered.fileName, rendered.text)
    // The file holds everything; the log only what anyone who can read the run may see.
    progress.step(`rendered ${renderedPath}:\n${rendered.redactedText.trimEnd()}`)
    return { ...base, status: 'rendered', ok: true, images: rendered.images, renderedPath, message: `rendered ${renderedPath}; nothing was changed` }
  }

  progress.phase(request.dryRun ? 'Render and validate (dry run)' : 'Render and validate')
  const plan = await prepare(request, platform)
  // A `verify-url` path is checked against the service's own URL; without one it is refused here.
  const verify = request.verify && verifyAgainst(request.verify, plan.endpointUrl)
  progress.step(plan.description)
  if (plan.before) progress.step(`before the rollout: ${plan.before.description}`)
  const renderedPath = await writeRendered(request, plan.fileName, plan.text)
  const planned = { ...base, images: plan.images, previousRevision: plan.previousRevision, renderedPath }

  if (request.dryRun) {
    const diff = await plan.dryRun()
    const described = { description: plan.description, ...(plan.before ? { before: plan.before.description } : {}) }
    return { ...planned, status: 'dry-run', ok: true, diff, objects: plan.dryRunObjects?.(), plan: described, message: `dry run: ${plan.checkedBy}; nothing was changed` }
  }

  // A cancellation that came while validating stops here, before anything changes.
  const cancelled = cancel ?? new AbortController().signal
  if (cancelled.aborted) throw cancelled.reason
  await hooks.beforeApply?.(plan)
  let beforeOutputs: Record<string, string> = {}
  if (plan.before) {
    progress.phase(`Before the rollout: ${plan.before.description}`)
    // What it runs may change things (a migration changes the database); the service it never touches.
    progress.changing = true
    const before = plan.before
    const outcome = await withDeadline(request.preDeploy?.timeoutMs ?? request.timeoutMs, progress, cancelled, async context => {
      try {
        return await before.run(context)
      } catch (error) {
        const stopped = context.deadline.stoppedBy
        return { state: stopped === 'cancelled' ? 'cancelled' : stopped === 'timeout' ? 'timed-out' : 'failed', reason: errorMessage(error), outputs: {} } as const
      }
    })
    beforeOutputs = outcome.outputs
    if (outcome.state !== 'succeeded') {
      const reason = outcome.reason ?? outcome.state
      progress.reason(`the pre-deploy step ${outcome.state === 'timed-out' ? 'timed out' : outcome.state}: ${reason}`, { headline: true })
      return { ...planned, outputs: beforeOutputs, status: 'failed', ok: false, message: `the pre-deploy step ${outcome.state === 'timed-out' ? 'timed out' : outcome.state} (${reason}); the service was not changed` }
    }
    progress.step('the pre-deploy step succeeded')
  }
  progress.phase('Apply')
  progress.changing = true
  let rollout: Rollout
  try {
    rollout = await plan.apply(progress, cancelled)
  } catch (error) {
    // `mode: rollback` / `continue` act on what runs now: a fresh read that found someone else's deploy refuses it.
    if (!isNotOurs(error)) throw error
    progress.reason(error.message, { headline: true })
    return { ...planned, outputs: beforeOutputs, status: error.superseded ? 'superseded' : 'failed', ok: false, message: `${error.message}; nothing was changed` }
  }
  // The rollout's outputs grow while it waits (a service deployment found late): read them live.
  const applied = {
    ...planned,
    // Read again at apply (a deploy that landed during the pre-deploy step): what a rollback returns to.
    previousRevision: rollout.previousRevision ?? planned.previousRevision,
    revision: rollout.revision,
    get outputs() {
      return { ...beforeOutputs, ...rollout.outputs }
    }
  }
  if (!request.wait) {
    await housekeeping(rollout, request, progress)
    return { ...applied, status: 'applied', ok: true, message: `applied ${rollout.label ?? rollout.revision}; not waiting for the rollout (wait: false)` }
  }

  progress.phase(`Wait for ${rollout.label ?? rollout.revision}`)
  let verified = false
  const verifyNow = async (deadline: WaitContext['deadline']): Promise<{ ok: true } | { ok: false; reason: string }> => {
    verified = true
    return verifyRollout(verify!, verifyEnvironment(request, rollout, plan.images), { deadline, progress, cancel: cancelled })
  }
  let outcome = await withDeadline(request.timeoutMs, progress, cancelled, context =>
    waitFor(rollout, request.verify && request.ecs.onPause === 'verify' ? { ...context, verifyAtPause: () => verifyNow(context.deadline) } : context)
  )
  const name = rollout.label ?? rollout.revision
  const objects = (): ObjectState[] | undefined => rollout.objects?.()
  if (outcome.state === 'succeeded' && request.verify && !verified) {
    // A check that fails is a failed rollout, rolled back like any other; it has its own deadline.
    progress.phase(`Verify ${name}`)
    const check = await withDeadline(request.verify.timeoutMs, progress, cancelled, context => verifyNow(context.deadline))
    if (!check.ok) outcome = { state: cancelled.aborted ? 'cancelled' : 'failed', reason: `verification failed: ${check.reason}` }
    else progress.step('verification passed')
  }
  if (outcome.state === 'succeeded') {
    await housekeeping(rollout, request, progress)
    const verb = request.mode === 'rollback' ? 'rolled back to' : 'deployed'
    const note = outcome.note ? ` (${outcome.note})` : ''
    return { ...applied, objects: objects(), status: 'succeeded', ok: true, message: `${verb} ${name} in ${formatDuration(progress.elapsedMs())}${note}` }
  }
  if (outcome.state === 'paused') {
    progress.step(outcome.reason)
    return { ...applied, objects: objects(), status: 'paused', ok: true, message: `${name} is paused: ${outcome.reason}` }
  }
  progress.reason(outcome.reason, { headline: true })
  const failed = { ...applied, objects: objects(), status: 'failed' as const, ok: false }
  if (outcome.state === 'superseded') {
    // What runs now is someone else's change: never undo it, whatever rollback-on-failure says.
    return { ...failed, status: 'superseded', message: `${name} was superseded while rolling out: ${outcome.reason}; nothing was rolled back` }
  }
  if (outcome.state === 'cancelled') {
    return { ...failed, message: `cancelled while rolling out ${name}: ${outcome.reason}; it was left as it stood, nothing was rolled back` }
  }
  if (request.mode === 'rollback') return { ...failed, message: `the rollback to ${name} did not become healthy: ${outcome.reason}` }

  progress.phase('Roll back')
  let by: 'action' | 'platform' = 'action'
  let undoError: unknown
  // The rollback has a deadline of its own (a fresh `timeout`), and the undo's calls honour it.
  const restored = await withDeadline(request.timeoutMs, progress, cancelled, async context => {
    let restore: Rollout | undefined
    if (outcome.platformRollback) {
      restore = outcome.platformRollback
      by = 'platform'
      progress.step(`the platform is already rolling back to ${restore.label ?? restore.revision} (its own rollback: circuit breaker, alarms or a lifecycle hook)`)
    } else if (request.rollbackOnFailure) {
      progress.step(`rolling back to ${rollout.previousRevision ?? 'the previous revision'}`)
      try {
        restore = await rollout.undo(context)
      } catch (error) {
        undoError = context.deadline.stoppedBy === 'cancelled' ? context.deadline.signal.reason : error
        return undefined
      }
    }
    return restore ? { restore, outcome: await waitFor(restore, context) } : undefined
  })
  if (undoError !== undefined) {
    if (isNotOurs(undoError)) {
      // The fresh read before the rollback found someone else's change: never undo it.
      progress.reason(`not rolled back: ${undoError.message}`)
      const status = undoError.superseded ? 'superseded' : 'failed'
      return { ...failed, status, message: `the rollout of ${name} failed (${outcome.reason}); nothing was rolled back: ${undoError.found}${undoError.owner ? ` (${undoError.owner})` : ''}, which is not ours to undo` }
    }
    if (cancelled.aborted) return { ...failed, message: `cancelled while rolling back ${name} (${outcome.reason}): ${errorMessage(undoError)}; the rollback may not have been made` }
    // No previous revision (a first deploy), or the undo was refused: the failure and its reasons stand.
    progress.reason(`could not roll back: ${errorMessage(undoError)}`)
    return { ...failed, message: `the rollout of ${name} failed: ${outcome.reason}; it could not be rolled back (${errorMessage(undoError)})` }
  }
  if (!restored) return { ...failed, message: `the rollout of ${name} failed: ${outcome.reason} (rollback-on-failure is off)` }

  const { restore } = restored
  const healthy = restored.outcome.state === 'succeeded'
  const restoredName = restore.label ?? restore.revision
  if (restored.outcome.state === 'cancelled') {
    // A cancelled wait says nothing about the rollback's health: never report it as a failed rollback.
    progress.reason(`cancelled while waiting for the rollback to ${restoredName}, which was in progress; its health is unknown: ${restored.outcome.reason}`)
    return {
      ...failed,
      rollback: { revision: restore.revision, by, healthy: false, unknown: 'cancelled' },
      message: `the rollout of ${name} failed (${outcome.reason}); the rollback to ${restoredName} was started, then the run was cancelled before it finished: the rollback was in progress and its health is unknown`
    }
  }
  if (restored.outcome.state === 'superseded') {
    // Someone else's change replaced our rollback too: it is theirs now, and we touch it no further.
    progress.reason(`the rollback to ${restoredName} was superseded: ${restored.outcome.reason}`)
    return {
      ...failed,
      status: 'superseded',
      rollback: { revision: restore.revision, by, healthy: false, unknown: 'superseded' },
      message: `the rollout of ${name} failed (${outcome.reason}); the rollback to ${restoredName} was superseded by another deploy (${restored.outcome.reason}); nothing more was rolled back`
    }
  }
  if (restored.outcome.state !== 'succeeded') progress.reason(`the rollback to ${restoredName} did not become healthy either: ${restored.outcome.reason}`)
  return {
    ...failed,
    status: healthy ? 'rolled-back' : 'failed',
    rollback: { revision: restore.revision, by, healthy },
    message: healthy
      ? `the rollout of ${name} failed (${outcome.reason}); ${restoredName} is back and healthy`
      : `the rollout of ${name} failed (${outcome.reason}), and so did the rollback to ${restoredName}`
  }
}

/** After a deploy that succeeded (or was applied without waiting); its problems are warnings only. */
async function housekeeping(rollout: Rollout, request: DeployRequest, progress: Progress): Promise<void> {
  if (request.mode !== 'deploy' || !rollout.afterSuccess) return
  try {
    await rollout.afterSuccess(progress)
  } catch (error) {
    progress.reason(`housekeeping after the deploy failed (the deploy itself succeeded): ${errorMessage(error)}`)
  }
}

/** The plan for the mode; `continue` only where the platform has pauses to continue. */
async function prepare(request: DeployRequest, platform: Platform): Promise<Plan> {
  if (request.mode === 'rollback') return platform.prepareRollback()
  if (request.mode !== 'continue') return platform.prepareDeploy()
  if (!platform.prepareContinue) {
    throw new UserError({ input: 'mode', message: `mode 'continue' continues a paused ECS service deployment; ${platform.name} deployments do not pause: use mode 'deploy'` })
  }
  return platform.prepareContinue()
}

/** What a verification command sees of the deploy, beside the runner's own environment. */
function verifyEnvironment(request: DeployRequest, rollout: Rollout, images: ImageChange[]): Record<string, string> {
  return {
    DEPLOY_SERVICE: request.service,
    DEPLOY_REVISION: rollout.revision,
    // With `image-tag` the image is known only once rendered: the new image of each changed container.
    DEPLOY_IMAGE: request.image ?? [...new Set(images.map(i => i.next))].join(','),
    DEPLOY_ENVIRONMENT_URL: request.github.environmentUrl ?? '',
    ...Object.fromEntries(Object.entries(rollout.outputs).map(([key, value]) => [`DEPLOY_${key.toUpperCase().replace(/-/g, '_')}`, value]))
  }
}

/** Runs `fn` under a deadline of `timeoutMs` from now that the run's cancellation also ends. */
async function withDeadline<T>(timeoutMs: number, progress: Progress, cancel: AbortSignal, fn: (context: WaitContext) => Promise<T>): Promise<T> {
  const deadline = new Deadline(timeoutMs, cancel)
  try {
    return await fn({ deadline, progress, cancel })
  } finally {
    deadline.dispose()
  }
}

async function waitFor(rollout: Rollout, context: WaitContext): Promise<WaitOutcome> {
  const { deadline } = context
  try {
    return await rollout.wait(context)
  } catch (error) {
    // Not knowing is not success: an error while following the rollout fails it.
    if (deadline.stoppedBy === 'cancelled') return { state: 'cancelled', reason: errorMessage(deadline.signal.reason) }
    if (deadline.stoppedBy === 'timeout') return { state: 'timed-out', reason: errorMessage(deadline.signal.reason) }
    return { state: 'failed', reason: `could not follow the rollout: ${errorMessage(error)}` }
  }
}

/**
 * Writes the rendered result into RUNNER_TEMP/deploy-service. The name comes from template content
 * (a task-definition family, a workload name), so it is reduced to one safe file name: a family of
 * `../../x` must never write outside the folder.
 */
export async function writeRendered(request: DeployRequest, fileName: string, text: string): Promise<string> {
  const dir = path.resolve(request.outputDir, 'deploy-service')
  await fs.mkdir(dir, { recursive: true })
  const file = path.join(dir, safeFileName(fileName))
  await fs.writeFile(file, text, { mode: 0o600 })
  return file
}

/** One path segment made of letters, digits, '.', '_' and '-', never '.' or '..', at most 200 characters. */
export function safeFileName(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '_').slice(0, 200)
  return safe === '' ? 'rendered' : safe
}
