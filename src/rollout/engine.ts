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
 * lifecycle hook and `on-pause: exit` said to stop waiting (the step succeeds); `in-progress`: the
 * deployment reached the stage `hand-off-at` names and a later job (`mode: follow`) gives its verdict.
 */
export type RunStatus = 'succeeded' | 'failed' | 'rolled-back' | 'superseded' | 'paused' | 'in-progress' | 'applied' | 'rendered' | 'dry-run'

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

/** What every phase of one run shares: the request, its progress log and the run's cancellation. */
interface RunContext {
  request: DeployRequest
  progress: Progress
  cancelled: AbortSignal
}

/** The part of a result every phase adds to: the log, and the outputs known so far. */
type SoFar = Omit<RunResult, 'status' | 'ok' | 'message'>

/** A run that the change has been applied to: the plan, the rollout, and the result fields they give. */
interface Applied {
  plan: Plan
  rollout: Rollout
  /** The result fields so far; its outputs are read live (the rollout's grow while it waits). */
  result: SoFar
  /** A short name for messages (`web:7`). */
  name: string
}

/**
 * The pipeline both platforms share, in its phases: prepare -> before -> apply -> wait and verify ->
 * react. The platform knows how; the engine knows when, for how long, and what to do when a rollout
 * fails.
 */
export async function runDeployment(
  request: DeployRequest,
  platform: Platform,
  progress: Progress,
  cancel?: AbortSignal,
  hooks: EngineHooks = {}
): Promise<RunResult> {
  const base: SoFar = { progress, reasons: progress.reasons, outputs: {}, images: [] }
  if (request.mode === 'render') return renderOnly(request, platform, base)
  const { plan, planned, verify } = await preparePhase(request, platform, base)
  if (request.dryRun) return dryRunResult(plan, planned)

  // A cancellation that came while validating stops here, before anything changes.
  // From here on the verification is the resolved one (a `verify-url` path joined to the service's URL).
  const run: RunContext = { request: { ...request, verify }, progress, cancelled: cancel ?? new AbortController().signal }
  if (run.cancelled.aborted) throw run.cancelled.reason
  await hooks.beforeApply?.(plan)
  const before = await beforePhase(run, plan, planned)
  if ('status' in before) return before
  const applied = await applyPhase(run, plan, before.outputs, planned)
  if ('status' in applied) return applied
  if (!request.wait) {
    await housekeeping(applied.rollout, request, progress)
    return { ...applied.result, status: 'applied', ok: true, message: `applied ${applied.name}; not waiting for the rollout (wait: false)` }
  }
  const outcome = await waitAndVerifyPhase(run, applied)
  return reactPhase(run, applied, outcome)
}

/** `mode: render`: write and print the result; nothing is read from or changed on the server but the template's source. */
async function renderOnly(request: DeployRequest, platform: Platform, base: SoFar): Promise<RunResult> {
  base.progress.phase('Render')
  const rendered = await platform.render()
  const renderedPath = await writeRendered(request, rendered.fileName, rendered.text)
  // The file holds everything; the log only what anyone who can read the run may see.
  base.progress.step(`rendered ${renderedPath}:\n${rendered.redactedText.trimEnd()}`)
  return { ...base, status: 'rendered', ok: true, images: rendered.images, renderedPath, message: `rendered ${renderedPath}; nothing was changed` }
}

/** Render and validate against the live system; the plan, and the result fields it gives. */
async function preparePhase(request: DeployRequest, platform: Platform, base: SoFar): Promise<{ plan: Plan; planned: SoFar; verify: DeployRequest['verify'] }> {
  const { progress } = base
  progress.phase(request.dryRun ? 'Render and validate (dry run)' : 'Render and validate')
  const plan = await prepare(request, platform)
  // A `verify-url` path is checked against the service's own URL; without one it is refused here.
  const verify = request.verify && verifyAgainst(request.verify, plan.endpointUrl)
  progress.step(plan.description)
  if (plan.before) progress.step(`before the rollout: ${plan.before.description}`)
  const renderedPath = await writeRendered(request, plan.fileName, plan.text)
  return { plan, verify, planned: { ...base, images: plan.images, previousRevision: plan.previousRevision, renderedPath } }
}

async function dryRunResult(plan: Plan, planned: SoFar): Promise<RunResult> {
  const diff = await plan.dryRun()
  const described = { description: plan.description, ...(plan.before ? { before: plan.before.description } : {}) }
  return { ...planned, status: 'dry-run', ok: true, diff, objects: plan.dryRunObjects?.(), plan: described, message: `dry run: ${plan.checkedBy}; nothing was changed` }
}

/** The step before the change (a migration): its outputs, or the failed run's result when it did not succeed. */
async function beforePhase(run: RunContext, plan: Plan, planned: SoFar): Promise<{ outputs: Record<string, string> } | RunResult> {
  const { request, progress, cancelled } = run
  if (!plan.before) return { outputs: {} }
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
  if (outcome.state !== 'succeeded') {
    const reason = outcome.reason ?? outcome.state
    const what = `the pre-deploy step ${outcome.state === 'timed-out' ? 'timed out' : outcome.state}`
    progress.reason(`${what}: ${reason}`, { headline: true })
    return { ...planned, outputs: outcome.outputs, status: 'failed', ok: false, message: `${what} (${reason}); the service was not changed` }
  }
  progress.step('the pre-deploy step succeeded')
  return { outputs: outcome.outputs }
}

/** Makes the change; a fresh read that found someone else's deploy refuses it (`mode: rollback` / `continue` / `follow`). */
async function applyPhase(run: RunContext, plan: Plan, beforeOutputs: Record<string, string>, planned: SoFar): Promise<Applied | RunResult> {
  const { progress, cancelled } = run
  progress.phase('Apply')
  progress.changing = true
  let rollout: Rollout
  try {
    rollout = await plan.apply(progress, cancelled)
  } catch (error) {
    if (!isNotOurs(error)) throw error
    progress.reason(error.message, { headline: true })
    return { ...planned, outputs: beforeOutputs, status: error.superseded ? 'superseded' : 'failed', ok: false, message: `${error.message}; nothing was changed` }
  }
  const result: SoFar = {
    ...planned,
    // Read again at apply (a deploy that landed during the pre-deploy step): what a rollback returns to.
    previousRevision: rollout.previousRevision ?? planned.previousRevision,
    revision: rollout.revision,
    get outputs() {
      return { ...beforeOutputs, ...rollout.outputs }
    }
  }
  return { plan, rollout, result, name: rollout.label ?? rollout.revision }
}

/** Waits for the rollout, then runs the verification (unless it ran at a pause already): one outcome. */
async function waitAndVerifyPhase(run: RunContext, { plan, rollout, name }: Applied): Promise<WaitOutcome> {
  const { request, progress, cancelled } = run
  progress.phase(`Wait for ${name}`)
  let verified = false
  const verifyNow = async (deadline: WaitContext['deadline']): Promise<{ ok: true } | { ok: false; reason: string }> => {
    verified = true
    return verifyRollout(request.verify!, verifyEnvironment(request, rollout, plan.images), { deadline, progress, cancel: cancelled })
  }
  const outcome = await withDeadline(request.timeoutMs, progress, cancelled, context =>
    waitFor(rollout, request.verify && request.ecs.onPause === 'verify' ? { ...context, verifyAtPause: () => verifyNow(context.deadline) } : context)
  )
  if (outcome.state !== 'succeeded' || !request.verify || verified) return outcome
  // A check that fails is a failed rollout, rolled back like any other; it has its own deadline.
  progress.phase(`Verify ${name}`)
  const check = await withDeadline(request.verify.timeoutMs, progress, cancelled, context => verifyNow(context.deadline))
  if (!check.ok) return { state: cancelled.aborted ? 'cancelled' : 'failed', reason: `verification failed: ${check.reason}` }
  progress.step('verification passed')
  return outcome
}

/** The verdict: success, a pause or hand-off, or a failure, superseded or cancelled run; a failure is rolled back. */
async function reactPhase(run: RunContext, applied: Applied, outcome: WaitOutcome): Promise<RunResult> {
  const { request, progress } = run
  const { rollout, name } = applied
  const settled = { ...applied.result, objects: rollout.objects?.() }
  if (outcome.state === 'succeeded') {
    await housekeeping(rollout, request, progress)
    const verb = request.mode === 'rollback' ? 'rolled back to' : 'deployed'
    const note = outcome.note ? ` (${outcome.note})` : ''
    // Read after the housekeeping: it adds rows of its own (ECS scheduled tasks moved).
    return { ...settled, objects: rollout.objects?.(), status: 'succeeded', ok: true, message: `${verb} ${name} in ${formatDuration(progress.elapsedMs())}${note}` }
  }
  if (outcome.state === 'paused') {
    progress.step(outcome.reason)
    return { ...settled, status: 'paused', ok: true, message: `${name} is paused: ${outcome.reason}` }
  }
  if (outcome.state === 'handed-off') {
    progress.step(outcome.reason)
    return { ...settled, status: 'in-progress', ok: true, message: `${name} is still rolling out, handed to a later job: ${outcome.reason}` }
  }
  progress.reason(outcome.reason, { headline: true })
  const failed: RunResult = { ...settled, status: 'failed', ok: false, message: '' }
  if (outcome.state === 'superseded') {
    // What runs now is someone else's change: never undo it, whatever rollback-on-failure says.
    return { ...failed, status: 'superseded', message: `${name} was superseded while rolling out: ${outcome.reason}; nothing was rolled back` }
  }
  if (outcome.state === 'cancelled') {
    return { ...failed, message: `cancelled while rolling out ${name}: ${outcome.reason}; it was left as it stood, nothing was rolled back` }
  }
  if (request.mode === 'rollback') return { ...failed, message: `the rollback to ${name} did not become healthy: ${outcome.reason}` }
  return rollBack(run, applied, outcome, failed)
}

/** After a failed rollout: the platform's own rollback, or ours (rollback-on-failure), waited for under a fresh deadline. */
async function rollBack(run: RunContext, { rollout, name }: Applied, outcome: { reason: string; platformRollback?: Rollout }, failed: RunResult): Promise<RunResult> {
  const { request, progress, cancelled } = run
  progress.phase('Roll back')
  let by: 'action' | 'platform' = 'action'
  let undoError: unknown
  // The rollback has a deadline of its own (a fresh `timeout`), and the undo's calls honour it.
  const restored = await withDeadline(request.timeoutMs, progress, cancelled, async context => {
    let restore: Rollout | undefined
    if (outcome.platformRollback) {
      restore = outcome.platformRollback
      by = 'platform'
      progress.step(`the platform is already rolling back to ${restore.label ?? restore.revision} (its own rollback, not this action's: ECS's circuit breaker, an alarm or a lifecycle hook; Flagger's failed analysis)`)
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
  return rolledBackResult(progress, name, outcome.reason, { ...restored, by }, failed)
}

/** The verdict on the rollback: healthy, not healthy, cut short by the cancellation, or superseded. */
function rolledBackResult(progress: Progress, name: string, why: string, restored: { restore: Rollout; outcome: WaitOutcome; by: 'action' | 'platform' }, failed: RunResult): RunResult {
  const { restore, by } = restored
  const healthy = restored.outcome.state === 'succeeded'
  const restoredName = restore.label ?? restore.revision
  if (restored.outcome.state === 'cancelled') {
    // A cancelled wait says nothing about the rollback's health: never report it as a failed rollback.
    progress.reason(`cancelled while waiting for the rollback to ${restoredName}, which was in progress; its health is unknown: ${restored.outcome.reason}`)
    return {
      ...failed,
      rollback: { revision: restore.revision, by, healthy: false, unknown: 'cancelled' },
      message: `the rollout of ${name} failed (${why}); the rollback to ${restoredName} was started, then the run was cancelled before it finished: the rollback was in progress and its health is unknown`
    }
  }
  if (restored.outcome.state === 'superseded') {
    // Someone else's change replaced our rollback too: it is theirs now, and we touch it no further.
    progress.reason(`the rollback to ${restoredName} was superseded: ${restored.outcome.reason}`)
    return {
      ...failed,
      status: 'superseded',
      rollback: { revision: restore.revision, by, healthy: false, unknown: 'superseded' },
      message: `the rollout of ${name} failed (${why}); the rollback to ${restoredName} was superseded by another deploy (${restored.outcome.reason}); nothing more was rolled back`
    }
  }
  if (!healthy) progress.reason(`the rollback to ${restoredName} did not become healthy either: ${'reason' in restored.outcome ? restored.outcome.reason : restored.outcome.state}`)
  return {
    ...failed,
    status: healthy ? 'rolled-back' : 'failed',
    rollback: { revision: restore.revision, by, healthy },
    message: healthy
      ? `the rollout of ${name} failed (${why}); ${restoredName} is back and healthy`
      : `the rollout of ${name} failed (${why}), and so did the rollback to ${restoredName}`
  }
}

/**
 * After a deploy or `mode: rollback` that succeeded (or was applied without waiting); its problems are
 * warnings only. A rollback's own housekeeping is what its platform set (ECS: scheduled tasks moved back).
 */
async function housekeeping(rollout: Rollout, request: DeployRequest, progress: Progress): Promise<void> {
  if ((request.mode !== 'deploy' && request.mode !== 'rollback') || !rollout.afterSuccess) return
  try {
    await rollout.afterSuccess(progress)
  } catch (error) {
    progress.reason(`housekeeping after the deploy failed (the deploy itself succeeded): ${errorMessage(error)}`)
  }
}

/** The plan for the mode; `continue` and `follow` only where the platform has pauses and hand-offs. */
async function prepare(request: DeployRequest, platform: Platform): Promise<Plan> {
  if (request.mode === 'rollback') return platform.prepareRollback()
  if (request.mode === 'follow') {
    if (!platform.prepareFollow) throw new UserError({ input: 'mode', message: `mode 'follow' follows an ECS service deployment handed off with hand-off-at; ${platform.name} deployments are not handed off: use mode 'deploy'` })
    return platform.prepareFollow()
  }
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
