import type { Service, ServiceDeployment } from '@aws-sdk/client-ecs'
import { errorMessage } from '../../../errors.js'
import type { LifecycleStage, OnPause } from '../../../request.js'
import { formatDuration } from '../../../rollout/deadline.js'
import type { Rollout, WaitContext, WaitOutcome } from '../../../rollout/platform.js'
import { pollRollout, type Observation } from '../../../rollout/poll-loop.js'
import type { Progress } from '../../../rollout/progress.js'
import { shortArn, type Assessment } from '../assess.js'
import type { EcsApi } from '../client.js'
import { ServiceDeploymentsUnavailable } from './errors.js'
import { ifOurs, type Proof } from '../../../rollout/ownership.js'
import { ServiceDeploymentApi, type ServiceDeploymentRead } from './client.js'
import { OurServiceDeployment, type OurCall } from './ours.js'
import { handOffReason } from '../handoff/stage.js'
import { allTargetTasksUp, assessServiceDeployment, IN_FLIGHT, serviceDeploymentLine, shortId, whyRolledBack } from './assess.js'
import { earlySuccessNote } from './early-success.js'
import { jitter, LookRhythm } from './rhythm.js'

/** What the follower needs of the rollout it serves (EcsRollout): the service read, the old rules' verdicts. */
export interface FollowedRollout {
  readonly api: EcsApi
  readonly revision: string
  readonly label: string
  readonly previousRevision?: string
  readonly outputs: Record<string, string>
  readonly onPause: OnPause
  /** `hand-off-at`: stop waiting at this stage (status `in-progress`); a later job follows it. */
  readonly handOffAt?: LifecycleStage
  /** A check (verify-url, verify-command) runs after success: after an early success, the only one left. */
  readonly verifies?: boolean
  /** Describes the service, prints its new events, and judges its deployments[] as the old rules do. */
  readService(context: WaitContext): Promise<{ service: Service; assessment: Assessment; taskFailure?: WaitOutcome }>
  /** Someone else's deployment replaced ours: the one-line reason, naming who. */
  supersededBy(assessment: Extract<Assessment, { kind: 'superseded' }>, signal: AbortSignal): Promise<string>
  /** Someone redeployed our revision: follow their deployment (by id) from now on. */
  followDeployment(id: string): void
  /** The deployment (deployments[] id) followed now. */
  readonly followedDeployment: string | undefined
  /** Prints why the failed tasks of the followed deployment stopped (each reason once, to the report). */
  reportStoppedTasks(context: WaitContext): Promise<void>
}

/**
 * Follows the service deployment a deploy started (DescribeServiceDeployments): success only at
 * SUCCESSFUL, ECS's own rollbacks as `failed` with the platform's rollback, pauses by `on-pause`.
 * `state` is `finding` until its ARN is known, `unavailable` once the calls were denied or are not there
 * (the rollout then keeps to the deployments[] rules, with one warning).
 */
export class ServiceDeploymentFollow {
  arn?: string
  /**
   * The service deployment this run may act on (continue, stop, roll back): the one proved created by
   * our UpdateService, or the one `mode: continue` was asked to continue. `arn` may move on to someone
   * else's redeploy of our revision; this never does.
   */
  ownArn?: string
  state: 'finding' | 'following' | 'unavailable' = 'finding'
  /** Finds the service deployment our UpdateService created (absent when following a given one). */
  private readonly finder?: OurServiceDeployment
  private lastStage = ''
  private lastWeight: number | undefined
  private lastStatus = ''
  private lastLine = ''
  /** How often to look, by phase (rhythm.ts). */
  private readonly rhythm = new LookRhythm()
  private serviceReadAt = 0
  private misses = 0
  /** Hooks we acted on (the continue or rollback call succeeded): never acted on again. */
  private readonly handledHooks = new Set<string>()
  /** Hooks whose pause line was printed: a call that failed and is tried again on the next look prints nothing new. */
  private readonly announcedHooks = new Set<string>()
  /** `on-pause: verify`: the check's result per hook, so a continue that failed and is tried again does not verify twice. */
  private readonly verifiedHooks = new Map<string, { ok: true } | { ok: false; reason: string }>()
  /** Set when `on-pause: verify` failed and we asked ECS to roll back: the reason the rollout failed. */
  private verifyFailure?: string
  /** Someone redeployed our revision: the deployment (id) we follow instead. */
  private redeployedAs?: string

  /**
   * `ours`: find the service deployment our UpdateService created, and follow only that. `arn`: follow
   * (and act on) this one, which the user named or `mode: continue` found current.
   */
  constructor(ours: OurCall | undefined, arn?: string) {
    this.finder = ours ? new OurServiceDeployment(ours) : undefined
    if (arn) {
      this.arn = arn
      this.ownArn = arn
      this.state = 'following'
    }
  }

  /** For a rollout followed by deployments[] alone (ECS's rollback of the old kind). */
  static off(): ServiceDeploymentFollow {
    const follow = new ServiceDeploymentFollow(undefined)
    follow.state = 'unavailable'
    return follow
  }

  /** Whether the followed service deployment may still change what runs (known only once followed). */
  get following(): boolean {
    return this.state === 'following'
  }

  /** Gives up on service deployments: one warning naming the permission, then the deployments[] rules. */
  giveUp(error: unknown, progress: Progress): void {
    this.state = 'unavailable'
    const fallback = 'following the rollout by DescribeServices alone (deployments[] rolloutState), which cannot see lifecycle stages, bake time, alarms or pauses'
    const all = ['ecs:ListServiceDeployments', 'ecs:DescribeServiceDeployments', 'ecs:DescribeServiceRevisions', 'ecs:StopServiceDeployment', 'ecs:ContinueServiceDeployment']
    if (error instanceof ServiceDeploymentsUnavailable && error.notImplemented) {
      progress.reason(`the service deployment could not be read: the ECS endpoint does not implement ${error.permission} (${error.message}; an emulator?); ${fallback}`)
    } else if (error instanceof ServiceDeploymentsUnavailable) {
      const others = all.filter(permission => permission !== error.permission).join(', ')
      progress.reason(`the service deployment could not be read: ${error.permission} was refused (${error.message}); ${fallback}; give the role ${error.permission} (and ${others}) to follow ECS's own verdict`)
    } else {
      progress.reason(`the service deployment could not be read (${errorMessage(error)}); ${fallback}; on AWS, check that the role may call ${all.join(', ')}`)
    }
  }

  /**
   * Looks for our service deployment (OurServiceDeployment: followed only once proved created by our
   * UpdateService). Until then the deployments[] rules follow our deployment by its id.
   */
  async find(api: EcsApi, service: Service, context: WaitContext): Promise<void> {
    if (this.state !== 'finding' || !this.finder) return
    const signal = context.deadline.signal
    try {
      this.adopt(await this.finder.find(api, service, signal), context.progress)
    } catch (error) {
      // Denied, or not there at all (an emulator that does not implement it): the old rules from now on.
      // Anything else (a 5xx, throttling) is the poll loop's to retry, as for observe.
      if (signal.aborted || !(error instanceof ServiceDeploymentsUnavailable)) throw error
      this.giveUp(error, context.progress)
    }
  }

  /**
   * The service deployment our UpdateService answer names as current, proved ours at once so that its
   * first stages are seen. Not proved (someone else's, not visible yet, the calls denied): `find` goes on.
   */
  async adoptAnswered(api: EcsApi, arn: string | undefined, progress: Progress, signal: AbortSignal): Promise<void> {
    if (this.state !== 'finding' || !this.finder || !arn) return
    try {
      const sd = await this.finder.answered(api, arn, signal)
      this.adopt(sd?.serviceDeploymentArn, progress)
      // Read just now: its first stage is the rollout's first step, however short it is.
      if (sd) this.noteChanges(sd, progress)
    } catch (error) {
      // Denied or failing: the first look of `find` deals with it, under the wait's retry and warnings.
      if (signal.aborted) throw error
    }
  }

  private adopt(arn: string | undefined, progress: Progress): void {
    if (!arn) return
    this.arn = arn
    this.ownArn = arn
    this.state = 'following'
    progress.step(`service deployment ${arn} (created by our update)`)
  }

  /** One look: the service deployment, and the service when something moved or it is time. */
  async observe(rollout: FollowedRollout, context: WaitContext): Promise<Observation | undefined> {
    const { progress, deadline } = context
    const sd = await rollout.api.describeServiceDeployment(this.arn!, deadline.signal)
    if (!sd) {
      // Not visible yet (ECS shows a new one after a moment), or gone: the old rules meanwhile.
      if (++this.misses >= 30) this.giveUp(new Error(`ECS does not know service deployment ${this.arn}`), progress)
      return undefined
    }
    this.misses = 0
    rollout.outputs['service-deployment-arn'] = this.arn!
    rollout.outputs['lifecycle-stage'] = sd.lifecycleStage ?? ''
    const verdict = assessServiceDeployment(sd)
    // Counts that moved say tasks start or stop: the service (events, stopped tasks) is read at once.
    const line = 'line' in verdict ? verdict.line : verdict.reason
    const changed = this.noteChanges(sd, progress) || line !== this.lastLine
    this.lastLine = line
    const now = Date.now()
    const settled = verdict.kind !== 'progressing' && verdict.kind !== 'paused'
    const every = this.rhythm.serviceEveryMs(sd, verdict.kind === 'paused' && rollout.onPause === 'wait', now)
    let read: Awaited<ReturnType<FollowedRollout['readService']>> | undefined
    if (changed || settled || now - this.serviceReadAt >= every) {
      read = await rollout.readService(context)
      this.serviceReadAt = now
    }
    const id = shortId(sd)
    const handOff = handOffReason(rollout.handOffAt, sd)
    if (handOff) return { outcome: { state: 'handed-off', reason: handOff }, changed: true, nearlyDone: false, status: handOff }
    switch (verdict.kind) {
      case 'succeeded': {
        progress.step(`deployment ${rollout.followedDeployment ?? ''} completed: service deployment ${id} SUCCESSFUL, ${verdict.line}`)
        const early = earlySuccessNote(sd, rollout.verifies ?? false)
        if (early) progress.step(early)
        const redeployed = this.redeployedAs ? `completed by deployment ${this.redeployedAs} of the same revision, started by another deploy` : undefined
        const note = [redeployed, early].filter(Boolean).join('; ')
        return { outcome: note ? { state: 'succeeded', note } : { state: 'succeeded' }, changed: true, nearlyDone: true, status: verdict.line }
      }
      case 'rolling-back':
      case 'rolled-back': {
        const ecsReason = this.verifyFailure ? `${this.verifyFailure}; ECS rolled back service deployment ${id}` : `ECS rolled back service deployment ${id}: ${verdict.reason}`
        // The deployment's own rolloutStateReason, where ECS gives one, is the headline; the service deployment's says more.
        const legacy = read?.assessment.kind === 'failed' ? read.assessment.reason : undefined
        await rollout.reportStoppedTasks(context)
        const reason = legacy && !this.verifyFailure ? legacy : ecsReason
        if (reason !== ecsReason) progress.reason(ecsReason)
        const restore = new ServiceDeploymentRollback(rollout.api, this.arn!, rollout.previousRevision ?? sd.rollback?.serviceRevisionArn ?? 'the previous revision', rollout.revision)
        return { outcome: { state: 'failed', reason, platformRollback: restore }, changed: true, nearlyDone: false, status: reason }
      }
      case 'failed':
        await rollout.reportStoppedTasks(context)
        return { outcome: { state: 'failed', reason: verdict.reason }, changed: true, nearlyDone: false, status: verdict.reason }
      case 'stopped': {
        const assessment = read?.assessment
        if (assessment?.kind === 'redeployed' && read?.service.currentServiceDeployment && read.service.currentServiceDeployment !== this.arn) {
          progress.step(`service deployment ${read.service.currentServiceDeployment}, started by another deploy, rolls out ${rollout.label} again (the same revision): following it instead of ${id}`)
          this.arn = read.service.currentServiceDeployment
          this.redeployedAs = assessment.by.id
          rollout.followDeployment(assessment.by.id!)
          return { changed: true, nearlyDone: false, status: `following service deployment ${this.arn}`, waitMs: 1000 }
        }
        if (assessment?.kind === 'superseded') {
          const reason = await rollout.supersededBy(assessment, deadline.signal)
          return { outcome: { state: 'superseded', reason }, changed: true, nearlyDone: false, status: reason }
        }
        await rollout.reportStoppedTasks(context)
        const legacy = assessment?.kind === 'failed' ? `${assessment.reason} (${verdict.reason})` : verdict.reason
        return { outcome: { state: 'failed', reason: legacy }, changed: true, nearlyDone: false, status: verdict.reason }
      }
      case 'paused': {
        const outcome = await this.atPause(rollout, context, sd, verdict)
        if (outcome) return { outcome, changed: true, nearlyDone: false, status: verdict.line }
        return { changed: true, nearlyDone: false, status: verdict.line, waitMs: this.handledHooks.has(verdict.hookId) && rollout.onPause !== 'wait' ? 1000 : jitter(5000) }
      }
    }
    // Progressing: the old rules still see failing tasks (stop reasons) and a rollout without a breaker.
    if (read?.taskFailure) return { outcome: read.taskFailure, changed: true, nearlyDone: false, status: verdict.line }
    const bakeEndsAt = this.rhythm.bakeEndsAt
    const left = bakeEndsAt > now ? `, bake ${formatDuration(bakeEndsAt - now)} left` : ''
    const moved = progress.status(`service deployment ${id}: ${verdict.line}${left}`)
    return { changed: changed || moved, nearlyDone: allTargetTasksUp(sd), status: verdict.line, waitMs: this.rhythm.next(sd, changed, now) }
  }

  /** Stage changes, traffic shifts and status changes: steps of the timeline. Returns whether anything moved. */
  private noteChanges(sd: ServiceDeployment, progress: Progress): boolean {
    let changed = false
    const id = shortId(sd)
    if ((sd.status ?? '') !== this.lastStatus) {
      changed = true
      this.lastStatus = sd.status ?? ''
    }
    const stage = sd.lifecycleStage ?? ''
    if (stage && stage !== this.lastStage) {
      progress.step(`service deployment ${id}: stage ${stage}`)
      this.lastStage = stage
      changed = true
    }
    const weight = sd.targetServiceRevision?.requestedProductionTrafficWeight
    if (weight !== undefined && weight !== this.lastWeight) {
      if (this.lastWeight !== undefined || weight > 0) progress.step(`service deployment ${id}: production traffic to the new revision ${weight}%`)
      this.lastWeight = weight
      changed = true
    }
    return changed
  }

  /** A PAUSE hook awaits action: `on-pause` says what to do. Returns the outcome when waiting ends here. */
  private async atPause(rollout: FollowedRollout, context: WaitContext, sd: ServiceDeployment, verdict: Extract<ReturnType<typeof assessServiceDeployment>, { kind: 'paused' }>): Promise<WaitOutcome | undefined> {
    const { progress, deadline } = context
    const id = shortId(sd)
    const where = `service deployment ${id} is paused at PAUSE hook ${verdict.hookId} (stage ${verdict.stage || 'unknown'})`
    const expires = verdict.expiresAt ? `; ECS will ${verdict.timeoutAction ?? 'ROLLBACK'} it at ${verdict.expiresAt.toISOString()} unless someone acts` : ''
    const hookId = verdict.hookId
    if (this.handledHooks.has(hookId)) return undefined
    // Marked handled only once the call succeeded: one that failed (a 5xx, throttling) is tried again at the next look.
    const announce = (message: string) => {
      if (this.announcedHooks.has(hookId)) return
      this.announcedHooks.add(hookId)
      progress.step(message)
    }
    // Someone else's redeploy of our revision, followed: its pauses are theirs to continue, never ours.
    const onPause = this.arn === this.ownArn ? rollout.onPause : 'wait'
    switch (onPause) {
      case 'exit':
        this.handledHooks.add(hookId)
        // The output a later step continues (or rolls back) with: set only when the run ends at the pause.
        rollout.outputs['hook-id'] = hookId
        return { state: 'paused', reason: `${where}${expires}; continue it with mode 'continue' (or roll it back with mode 'rollback'), service-deployment-arn ${this.arn}` }
      case 'continue':
        announce(`${where}: continuing it (on-pause: continue)`)
        await this.actAtHook(rollout, sd, hookId, 'CONTINUE', deadline.signal)
        this.handledHooks.add(hookId)
        return undefined
      case 'verify': {
        if (!context.verifyAtPause) break
        if (!TRAFFIC_STAGES.has(verdict.stage)) {
          // Nothing reaches the new revision yet: a check now would test the old one. Continue; the check runs
          // at a later hook with traffic, or after the rollout.
          announce(`${where}: continuing it; no traffic reaches the new revision at this stage, so it is verified later (on-pause: verify)`)
          await this.actAtHook(rollout, sd, hookId, 'CONTINUE', deadline.signal)
          this.handledHooks.add(hookId)
          return undefined
        }
        let check = this.verifiedHooks.get(hookId)
        if (!check) {
          announce(`${where}: verifying before it goes on (on-pause: verify)`)
          const result = await context.verifyAtPause()
          check = result.ok ? { ok: true } : { ok: false, reason: result.reason }
          this.verifiedHooks.set(hookId, check)
          if (check.ok) progress.step('verification at the pause passed: continuing the service deployment')
          else {
            this.verifyFailure = `verification at the pause failed: ${check.reason}`
            progress.reason(this.verifyFailure)
          }
        }
        await this.actAtHook(rollout, sd, hookId, check.ok ? 'CONTINUE' : 'ROLLBACK', deadline.signal)
        this.handledHooks.add(hookId)
        return undefined
      }
    }
    this.handledHooks.add(hookId)
    progress.step(`${where}${expires}; waiting for someone to continue it (ContinueServiceDeployment, or this action with mode 'continue') within the timeout`)
    return undefined
  }

  /**
   * ContinueServiceDeployment at `hookId`, on our service deployment only: the one our UpdateService
   * created (or that `mode: continue` was asked to continue), read paused at that hook by this look.
   */
  private async actAtHook(rollout: FollowedRollout, sd: ServiceDeployment, hookId: string, action: 'CONTINUE' | 'ROLLBACK', signal: AbortSignal): Promise<void> {
    const id = shortId(sd)
    const proof = (): Proof<ServiceDeploymentRead> => this.arn === this.ownArn
      ? { ours: true, precondition: { service: shortArn(sd.serviceArn), serviceDeploymentArn: this.arn!, status: sd.status ?? '', hookId }, evidence: `service deployment ${id} is this run's, read paused at hook ${hookId}` }
      : { ours: false, found: `service deployment ${id} was started by another deploy (a redeploy of ${rollout.label})` }
    await ifOurs(`${action === 'CONTINUE' ? 'continue' : 'roll back'} service deployment ${id} at hook ${hookId}`, async () => proof(), owned =>
      new ServiceDeploymentApi(rollout.api).continue(owned, action, signal))
  }
}

/**
 * The lifecycle stages at which test or production traffic reaches the new (green) revision, as the ECS API
 * reference describes them (DeploymentLifecycleHook.lifecycleStages): `on-pause: verify` checks there and
 * nowhere else. RECONCILE_SERVICE, PRE_SCALE_UP and POST_SCALE_UP carry no traffic to it (the blue revision
 * handles 100% of production, and there is no test traffic). A hook at PRE_PRODUCTION_TRAFFIC_SHIFT pauses in
 * POST_TEST_TRAFFIC_SHIFT. BAKE_TIME and CLEAN_UP are no hook stages; a stage not listed here is not verified
 * at (the check then runs after the rollout, so nothing goes unchecked).
 */
const TRAFFIC_STAGES: ReadonlySet<string> = new Set(['TEST_TRAFFIC_SHIFT', 'POST_TEST_TRAFFIC_SHIFT', 'PRODUCTION_TRAFFIC_SHIFT', 'POST_PRODUCTION_TRAFFIC_SHIFT'])

/**
 * ECS rolling back a service deployment (its own decision, or our StopServiceDeployment /
 * ContinueServiceDeployment ROLLBACK): followed until ROLLBACK_SUCCESSFUL.
 */
export class ServiceDeploymentRollback implements Rollout {
  readonly revision: string
  readonly label: string
  readonly previousRevision?: string
  readonly outputs: Record<string, string>
  private readonly api: EcsApi
  private readonly arn: string

  constructor(api: EcsApi, arn: string, revision: string, from?: string) {
    this.api = api
    this.arn = arn
    this.revision = revision
    this.label = revision.includes(':task-definition/') ? shortArn(revision) : revision
    this.previousRevision = from
    this.outputs = { 'service-deployment-arn': arn }
  }

  async wait(context: WaitContext): Promise<WaitOutcome> {
    const { progress, deadline } = context
    return pollRollout(async () => {
      const sd = await this.api.describeServiceDeployment(this.arn, deadline.signal)
      if (!sd) return { changed: false, nearlyDone: false, status: `service deployment ${shortId(this.arn)} is not visible`, waitMs: 1000 }
      this.outputs['lifecycle-stage'] = sd.lifecycleStage ?? ''
      const line = `service deployment ${shortId(sd)}: ${serviceDeploymentLine(sd)}`
      switch (sd.status) {
        case 'ROLLBACK_SUCCESSFUL':
          progress.step(`${line}: ECS rolled it back (${whyRolledBack(sd)})`)
          return { outcome: { state: 'succeeded' }, changed: true, nearlyDone: true, status: line }
        case 'ROLLBACK_FAILED':
        case 'STOPPED':
        case 'SUCCESSFUL':
          return { outcome: { state: 'failed', reason: `the rollback of service deployment ${shortId(sd)} ended ${sd.status}${sd.statusReason ? `: ${sd.statusReason}` : ''}` }, changed: true, nearlyDone: false, status: line }
      }
      const moved = progress.status(line)
      return { changed: moved, nearlyDone: true, status: line, waitMs: jitter(1000) }
    }, context)
  }

  async undo(): Promise<Rollout> {
    throw new Error(`service deployment ${shortId(this.arn)} is ECS's rollback already; nothing more to roll back`)
  }
}

/** Whether a service deployment may still change what runs. */
export function inFlight(sd: ServiceDeployment | undefined): boolean {
  return Boolean(sd && IN_FLIGHT.has(sd.status ?? ''))
}
