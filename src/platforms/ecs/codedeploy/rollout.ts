import type { DeploymentInfo, ECSTarget } from '@aws-sdk/client-codedeploy'
import type { OnPause } from '../../../request.js'
import type { Rollout, WaitContext, WaitOutcome } from '../../../rollout/platform.js'
import { pollRollout, type Observation } from '../../../rollout/poll-loop.js'
import type { Progress } from '../../../rollout/progress.js'
import { shortArn } from '../assess.js'
import { ENDED, clip, describeDeployment, failedEvent, failureReason, hookFailure, rollsBackOnFailure, trafficLine } from './assess.js'
import type { CodeDeployApi, CodeDeployRead } from './client.js'
import { ifOurs, type Owned, type Proof } from '../../../rollout/ownership.js'

/** A failed deployment whose group rolls back by itself: how many looks to wait for the rollback to be named. */
const ROLLBACK_APPEARS_LOOKS = 5

/**
 * How long before the termination wait should end the polling turns quick: the slowest interval
 * (10 s), so that the last slow look cannot sleep past the end.
 */
const BAKE_END_MARGIN_MS = 10_000

/** What a CodeDeploy rollout needs to start another deployment (a rollback of a deployment that already ended). */
export interface CodeDeployTarget {
  api: CodeDeployApi
  application: string
  group: string
  service: string
  /** The AppSpec (JSON) for a task definition of this service. */
  appSpecFor(taskDefinition: string): string
  onPause: OnPause
  /** The deployment group's termination wait for the original task set (Baking), when it has one. */
  bakeMs?: number
}

/**
 * One CodeDeploy deployment of an ECS service, followed by id with GetDeployment and its ECS target
 * (lifecycle events, task sets and their traffic). `rollbackOf`: this rollout is CodeDeploy's rollback
 * of that deployment (StopDeployment with autoRollbackEnabled), whose id CodeDeploy names in the
 * stopped deployment's rollbackInfo once it has made it.
 */
export class CodeDeployRollout implements Rollout {
  readonly revision: string
  readonly label: string
  readonly previousRevision?: string
  readonly outputs: Record<string, string>
  private readonly target: CodeDeployTarget
  /** The deployment followed now; undefined while waiting for CodeDeploy to name its rollback. */
  private following?: string
  private readonly rollbackOf?: string
  private lastStatus = ''
  /** Looks at a failed deployment while waiting for CodeDeploy to name its own rollback. */
  private looksAtFailure = 0
  private continued = false
  private bakingTarget?: ECSTarget
  /** When this rollout first saw its deployment Baking. */
  private bakingSince?: number
  /** keep-revisions, set by the plan for a deploy. */
  afterSuccess?: (progress: Progress) => Promise<void>

  constructor(target: CodeDeployTarget, deployment: { id?: string; rollbackOf?: string }, revision: string, previousRevision?: string) {
    this.target = target
    this.following = deployment.id
    this.rollbackOf = deployment.rollbackOf
    this.revision = revision
    this.label = shortArn(revision)
    this.previousRevision = previousRevision
    this.outputs = { 'codedeploy-deployment-id': deployment.id ?? deployment.rollbackOf ?? '', 'task-definition-arn': revision }
  }

  /** Creates a CodeDeploy deployment of `taskDefinition` and returns it, to be followed by id. */
  static async start(target: CodeDeployTarget, taskDefinition: string, previousRevision: string | undefined, progress: Progress, signal: AbortSignal, why: string, owned?: Owned<CodeDeployRead>): Promise<CodeDeployRollout> {
    const input = { application: target.application, group: target.group, appSpec: target.appSpecFor(taskDefinition), description: clip(why, 100) }
    const id = owned ? await target.api.redeploy(owned, input, signal) : await target.api.createDeployment(input, signal)
    progress.step(`CodeDeploy deployment ${id} created in ${target.application}/${target.group}: ${shortArn(taskDefinition)}`)
    return new CodeDeployRollout(target, { id }, taskDefinition, previousRevision)
  }

  async wait(context: WaitContext): Promise<WaitOutcome> {
    return pollRollout(() => this.observe(context), context)
  }

  private async observe(context: WaitContext): Promise<Observation> {
    const { progress, deadline } = context
    if (!this.following) return this.findRollback(context)
    const id = this.following
    const info = await this.target.api.getDeployment(id, deadline.signal)
    // Baking (traffic has moved, the original task set waits to be terminated) changes nothing in the
    // target: read once when it starts, then a long bake costs one call a look.
    const baking = info.status === 'Baking'
    const target = info.status === 'Created' || info.status === 'Queued' ? undefined
      : baking && this.bakingTarget ? this.bakingTarget
      : await this.target.api.ecsTarget(id, deadline.signal)
    if (baking) this.bakingTarget = target
    const changed = this.report(info, target, progress)
    const status = `CodeDeploy deployment ${id}: ${describeDeployment(info, target)}`
    switch (info.status) {
      case 'Succeeded':
        progress.step(`CodeDeploy deployment ${id} succeeded`)
        return { outcome: { state: 'succeeded' }, changed: true, nearlyDone: true, status }
      case 'Failed':
      case 'Stopped':
        return this.ended(info, target, status, progress)
      case 'Ready':
        return this.ready(id, status, context)
    }
    return { changed, nearlyDone: baking && this.bakeEndsSoon(), status }
  }

  /**
   * Within the last seconds of the deployment group's termination wait: poll quickly so that the end
   * of a long bake is noticed at once, while the rest of the bake is polled slowly.
   */
  private bakeEndsSoon(): boolean {
    // The bake starts when the last lifecycle event ends (traffic has moved); else when we first saw it.
    const ends = (this.bakingTarget?.lifecycleEvents ?? []).map(e => e.endTime?.getTime() ?? 0)
    this.bakingSince ??= Math.min(Date.now(), Math.max(0, ...ends) || Date.now())
    return this.target.bakeMs !== undefined && Date.now() >= this.bakingSince + this.target.bakeMs - BAKE_END_MARGIN_MS
  }

  /** Prints what changed since the last look: the status line, each lifecycle event's new state, a failing hook. */
  private report(info: DeploymentInfo, target: ECSTarget | undefined, progress: Progress): boolean {
    let changed = progress.status(`CodeDeploy deployment ${info.deploymentId}: ${describeDeployment(info, target)}`)
    for (const event of target?.lifecycleEvents ?? []) {
      if (!event.lifecycleEventName || !event.status || event.status === 'Pending') continue
      const printed = progress.event(`codedeploy:${info.deploymentId}:${event.lifecycleEventName}:${event.status}`, `lifecycle event ${event.lifecycleEventName}: ${event.status}`)
      changed ||= printed
    }
    const failed = failedEvent(target)
    if (failed) progress.reason(hookFailure(failed))
    if (info.status !== this.lastStatus) changed = true
    this.lastStatus = info.status ?? ''
    return changed
  }

  private ended(info: DeploymentInfo, target: ECSTarget | undefined, status: string, progress: Progress): Observation {
    const reason = failureReason(info, target)
    const rollback = info.rollbackInfo
    if (rollback?.rollbackDeploymentId) {
      progress.step(`CodeDeploy is rolling back: deployment ${rollback.rollbackDeploymentId}${rollback.rollbackMessage ? ` (${clip(rollback.rollbackMessage)})` : ''}`)
      const platformRollback = this.previousRevision
        ? new CodeDeployRollout(this.target, { id: rollback.rollbackDeploymentId }, this.previousRevision, this.revision)
        : undefined
      return { outcome: { state: 'failed', reason, platformRollback }, changed: true, nearlyDone: false, status }
    }
    // CodeDeploy names its own rollback a moment after the failure: give it a few looks before undoing ourselves.
    if (rollsBackOnFailure(info) && !rollback?.rollbackMessage && this.looksAtFailure++ < ROLLBACK_APPEARS_LOOKS) {
      return { changed: false, nearlyDone: true, status }
    }
    if (rollback?.rollbackMessage) progress.reason(`CodeDeploy did not roll back: ${clip(rollback.rollbackMessage)}`)
    return { outcome: { state: 'failed', reason }, changed: true, nearlyDone: false, status }
  }

  /**
   * The replacement task set is up and CodeDeploy waits for someone to reroute traffic
   * (deploymentReadyOption STOP_DEPLOYMENT): `on-pause` says whether to continue it, stop here, or wait.
   */
  private async ready(id: string, status: string, context: WaitContext): Promise<Observation> {
    const { onPause } = this.target
    const how = `continue it with 'aws deploy continue-deployment --deployment-id ${id}', or stop it with a rollback`
    if (onPause === 'exit') {
      return { outcome: { state: 'paused', reason: `CodeDeploy deployment ${id} is Ready: the replacement task set is up and waits for traffic to be rerouted; ${how}` }, changed: true, nearlyDone: false, status }
    }
    if (onPause === 'verify' && context.verifyAtPause && !this.continued) {
      // The test listener serves the replacement task set now: check it before production traffic moves.
      context.progress.step(`CodeDeploy deployment ${id} is Ready: verifying the replacement task set before rerouting traffic (on-pause: verify)`)
      const check = await context.verifyAtPause()
      if (!check.ok) return { outcome: { state: 'failed', reason: `verification at Ready failed: ${check.reason}` }, changed: true, nearlyDone: false, status }
    }
    if ((onPause === 'continue' || onPause === 'verify') && !this.continued) {
      await this.target.api.continueDeployment(id, context.deadline.signal)
      this.continued = true
      context.progress.step(`CodeDeploy deployment ${id} was Ready: rerouting traffic (on-pause: ${onPause})`)
      return { changed: true, nearlyDone: false, status }
    }
    context.progress.event(`codedeploy:${id}:ready`, `CodeDeploy deployment ${id} is Ready and waits for traffic to be rerouted; ${how}`)
    return { changed: false, nearlyDone: false, status }
  }

  /** Waits for CodeDeploy to name the rollback of the deployment we stopped, then follows it. */
  private async findRollback(context: WaitContext): Promise<Observation> {
    const stopped = this.rollbackOf!
    const info = await this.target.api.getDeployment(stopped, context.deadline.signal)
    const rollback = info.rollbackInfo
    if (rollback?.rollbackDeploymentId) {
      this.following = rollback.rollbackDeploymentId
      this.outputs['codedeploy-deployment-id'] = rollback.rollbackDeploymentId
      context.progress.step(`CodeDeploy rolls back ${stopped} with deployment ${rollback.rollbackDeploymentId}`)
      return { changed: true, nearlyDone: false, status: `CodeDeploy rollback deployment ${rollback.rollbackDeploymentId}: starting` }
    }
    if (ENDED.has(info.status ?? '') && rollback?.rollbackMessage) {
      return { outcome: { state: 'failed', reason: `CodeDeploy could not roll back deployment ${stopped}: ${clip(rollback.rollbackMessage)}` }, changed: true, nearlyDone: false, status: info.status ?? '' }
    }
    if (ENDED.has(info.status ?? '') && this.looksAtFailure++ >= ROLLBACK_APPEARS_LOOKS) {
      // Stopped and no rollback named: what counts is where production traffic goes now.
      const target = await this.target.api.ecsTarget(stopped, context.deadline.signal)
      const blue = target?.taskSetsInfo?.find(t => t.taskSetLabel === 'Blue')
      const traffic = trafficLine(target) ?? 'no task sets reported'
      if (blue?.trafficWeight === 100) {
        context.progress.step(`CodeDeploy deployment ${stopped} is ${info.status} with no rollback deployment; the original task set takes all traffic (${traffic})`)
        return { outcome: { state: 'succeeded', note: 'the original task set kept all traffic' }, changed: true, nearlyDone: true, status: traffic }
      }
      return { outcome: { state: 'failed', reason: `CodeDeploy deployment ${stopped} is ${info.status} and CodeDeploy named no rollback; ${traffic}` }, changed: true, nearlyDone: false, status: traffic }
    }
    return { changed: false, nearlyDone: true, status: `CodeDeploy deployment ${stopped}: ${info.status}, waiting for CodeDeploy to start its rollback` }
  }

  /**
   * CodeDeploy's own rollback while our deployment is in flight: StopDeployment with autoRollbackEnabled,
   * then follow the rollback deployment it makes. A deployment that already ended (succeeded and then
   * failed verification, or failed with no rollback) cannot be stopped: a new CodeDeploy deployment of
   * the previous task definition puts it back, only when no one has deployed to the group since ours
   * (read right before): someone's hotfix is never replaced by our rollback (src/rollout/ownership.ts).
   */
  async undo(context: WaitContext): Promise<Rollout> {
    const signal = context.deadline.signal
    if (signal.aborted) throw signal.reason
    const id = this.following ?? this.rollbackOf
    const previous = this.previousRevision
    if (!previous) throw new Error(`no previous task definition is known for service ${this.target.service}`)
    if (!id) throw new Error(`no CodeDeploy deployment of this run is known for service ${this.target.service}: nothing was rolled back`)
    const info = await this.target.api.getDeployment(id, signal)
    if (!ENDED.has(info.status ?? '')) {
      // Ours (its id is our CreateDeployment's answer), and in flight as just read.
      const proof: Proof<CodeDeployRead> = { ours: true, precondition: { deploymentId: id, status: info.status ?? '' }, evidence: `CodeDeploy deployment ${id} is this run's and still ${info.status}` }
      const stop = await ifOurs(`stop CodeDeploy deployment ${id}`, async () => proof, owned => this.target.api.stopAndRollBack(owned, signal))
      if (!stop.alreadyCompleted) {
        context.progress.step(`stopped CodeDeploy deployment ${id} with rollback (${stop.status ?? 'requested'}${stop.message ? `: ${clip(stop.message)}` : ''})`)
        return new CodeDeployRollout(this.target, { rollbackOf: id }, previous, this.revision)
      }
    }
    return ifOurs(`roll back ${this.target.service} to ${shortArn(previous)} with a new CodeDeploy deployment`, () => this.stillOurs(id, signal), owned =>
      CodeDeployRollout.start(this.target, previous, this.revision, context.progress, signal, `deploy-service: roll back ${this.target.service} to ${shortArn(previous)}`, owned))
  }

  /**
   * Whether the service still runs what our deployment `id` put there: no deployment has been created in
   * its group since ours (ListDeployments by createTime, read now), other than CodeDeploy's rollback of ours.
   */
  private async stillOurs(id: string, signal: AbortSignal): Promise<Proof<CodeDeployRead>> {
    const { api, application, group } = this.target
    const ours = await api.getDeployment(id, signal)
    const since = ours.createTime ?? new Date(0)
    for (const other of (await api.deploymentsSince(application, group, since, signal)).filter(other => other !== id)) {
      const info = await api.getDeployment(other, signal)
      if ((info.createTime?.getTime() ?? 0) < since.getTime()) continue
      if (info.creator === 'codeDeployRollback' && info.rollbackInfo?.rollbackTriggeringDeploymentId === id) {
        return { ours: false, found: `CodeDeploy already rolled back our deployment ${id} with deployment ${other} (${info.status})` }
      }
      const deploys = taskDefinitionOf(info)
      return {
        ours: false,
        found: `deployment group ${application}/${group} has a newer deployment than ours (${id}): ${other}${deploys ? ` of ${shortArn(deploys)}` : ''} (${info.status})`,
        owner: `created by ${info.creator ?? 'someone'}${info.description ? `: "${clip(info.description, 100)}"` : ''}`,
        superseded: true
      }
    }
    return { ours: true, precondition: { deploymentId: id, status: ours.status ?? '' }, evidence: `no deployment was made in ${application}/${group} since ours (${id}, ${ours.status})` }
  }
}

/** The task definition a deployment's AppSpec deploys, when it can be read (AppSpec text is data). */
function taskDefinitionOf(info: DeploymentInfo): string | undefined {
  try {
    const appSpec = JSON.parse(info.revision?.appSpecContent?.content ?? '') as { Resources?: Array<{ TargetService?: { Properties?: { TaskDefinition?: unknown } } }> }
    const taskDefinition = appSpec.Resources?.[0]?.TargetService?.Properties?.TaskDefinition
    return typeof taskDefinition === 'string' ? clip(taskDefinition, 200) : undefined
  } catch {
    return undefined
  }
}
