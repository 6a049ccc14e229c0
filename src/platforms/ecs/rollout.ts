import type { Deployment, Service } from '@aws-sdk/client-ecs'
import type { LifecycleStage, OnPause } from '../../request.js'
import type { ObjectState, Rollout, WaitContext, WaitOutcome } from '../../rollout/platform.js'
import { errorMessage } from '../../errors.js'
import type { ScheduledTasksApi } from './scheduled/client.js'
import { pollRollout, type Observation } from '../../rollout/poll-loop.js'
import type { Progress } from '../../rollout/progress.js'
import { assessDeployment, circuitBreakerOn, failureThreshold, isFailedTask, shortArn, stoppedTaskReason, type Assessment } from './assess.js'
import type { EcsApi, ServiceRead } from './client.js'
import { ServiceDeploymentsUnavailable } from './service-deployment/errors.js'
import { pruneRevisions, reportPruned } from './revisions.js'
import { inFlight, ServiceDeploymentFollow, ServiceDeploymentRollback, type FollowedRollout } from './service-deployment/follow.js'
import { ServiceDeploymentApi } from './service-deployment/client.js'
import { CREATED_AT_TOLERANCE_MS } from './service-deployment/ours.js'
import { shortId } from './service-deployment/assess.js'
import { LookRhythm } from './service-deployment/rhythm.js'
import { ifOurs, type Owned } from '../../rollout/ownership.js'
import { proveRunsOurs, readCurrent, whoDeployed } from './ownership.js'
import { startLiveLogs, type EcsLiveLogSettings } from './logs/live.js'

/** How long the stopped tasks of a rollout that timed out may still be looked up. */
const AFTER_DEADLINE_MS = 5000

/** What we know of the tasks of the deployment we follow: reset when we follow another one. */
class TaskWatch {
  /** Failed tasks of this deployment seen so far (stopped tasks ECS keeps for about an hour). */
  failures = 0
  lastFailedTasks = 0
  lastRunning = 0
  /** All desired tasks were running once: a task started after that replaced one that stopped. */
  sawAllRunning = false

  /**
   * Whether a look at the stopped tasks is worth a call: ECS counted a new failure (failedTasks, which
   * resets once a task ran), fewer tasks run than before, an event says a health check failed, or a
   * task started after all were running or after failures were seen (a replacement: a task that ran
   * a while and stopped between two polls). A healthy rollout shows none of these, so it costs no
   * extra call; while tasks keep failing, each replacement costs one ListTasks (all its pages).
   */
  suggestsFailures(progressing: Extract<Assessment, { kind: 'progressing' }>, newEvents: string[]): boolean {
    const started = newEvents.some(m => /has started \d+ tasks/.test(m))
    const health = newEvents.some(m => /unhealthy|failed container health checks/i.test(m))
    const suggests = progressing.failedTasks > this.lastFailedTasks || progressing.runningCount < this.lastRunning || health ||
      (started && (this.sawAllRunning || this.failures > 0))
    this.lastFailedTasks = progressing.failedTasks
    this.lastRunning = progressing.runningCount
    if (progressing.desiredCount > 0 && progressing.runningCount >= progressing.desiredCount) this.sawAllRunning = true
    return suggests
  }
}

/**
 * One ECS deployment that our UpdateService created: followed through its service deployment
 * (DescribeServiceDeployments) where ECS lets us, else by its id in the service's deployments[].
 */
export class EcsRollout implements Rollout, FollowedRollout {
  readonly revision: string
  readonly label: string
  readonly previousRevision?: string
  readonly outputs: Record<string, string>
  readonly api: EcsApi
  protected readonly service: string
  /** The service deployment our update started: found, followed, or unavailable (the old rules then). */
  readonly follow: ServiceDeploymentFollow
  /** `on-pause`: what to do at a PAUSE lifecycle hook. */
  onPause: OnPause = 'wait'
  /** `hand-off-at`: the stage at which to stop waiting and leave the verdict to a later job. */
  handOffAt?: LifecycleStage
  /** A check (verify-url, verify-command) runs after success: said with an early success, where it is the only guard left. */
  verifies = false
  private readonly deploymentId: string | undefined
  /** The deployment followed now: ours, or someone else's redeploy of our revision. */
  private following: string | undefined
  /** Events the service had before our update: never printed as news of this rollout. */
  private readonly knownEvents: Set<string>
  /** Messages of the events since our update, oldest first. */
  private readonly newsSinceUpdate: string[] = []
  private readonly newsIds = new Set<string>()
  /** Stopped-task reasons already reported, counted per reason (task ids aside). */
  private readonly stopReasons = new Map<string, number>()
  private readonly seenTasks = new Set<string>()
  private watch = new TaskWatch()
  private failuresSeen = 0
  /** `follow-logs`: the new tasks' container logs shown while waiting (./logs/live.ts); unset shows none. */
  liveLogs?: EcsLiveLogSettings
  /** keep-revisions: how many ACTIVE revisions of the family to keep after success. */
  keepRevisions?: number
  /** update-scheduled-tasks: move the family's rules and schedules in this cluster after success. */
  updateScheduledTasks = false
  /** The EventBridge / Scheduler calls; made from the standard AWS chain when not given (tests give one). */
  scheduledTasksApi?: ScheduledTasksApi
  /** The scheduled tasks this run moved or left alone, for the summary: set once there are some. */
  objects?: () => ObjectState[]
  /**
   * How the previous revision goes back once no service deployment of ours is in flight, given the
   * proof: UpdateService by default; an Express service puts its previous configuration back instead.
   */
  restoreBy?: (owned: Owned<ServiceRead>, progress: Progress, signal: AbortSignal) => Promise<Rollout>

  constructor(api: EcsApi, service: string, deploymentId: string | undefined, revision: string, previousRevision: string | undefined, knownEvents: Set<string>, follow = ServiceDeploymentFollow.off()) {
    this.api = api
    this.follow = follow
    this.knownEvents = knownEvents
    this.label = shortArn(revision)
    this.service = service
    this.deploymentId = deploymentId
    this.following = deploymentId
    this.revision = revision
    this.previousRevision = previousRevision
    this.outputs = { 'deployment-id': deploymentId ?? '', 'task-definition-arn': revision }
  }

  /** Starts a deployment of `taskDefinition` and returns it, to be followed by id. */
  static async start(
    api: EcsApi,
    service: string,
    change: { taskDefinition: string; desiredCount?: number; forceNewDeployment?: boolean },
    previousRevision: string | undefined,
    progress: Progress,
    signal: AbortSignal,
    /** The service's currentServiceDeployment before the update (never ours). */
    before?: string
  ): Promise<EcsRollout> {
    const calledAt = Date.now()
    const updated = await api.updateService(service, change, signal)
    return EcsRollout.started(api, service, updated, change.taskDefinition, calledAt, previousRevision, progress, signal, before)
  }

  /** The rollback UpdateService, made only with the proof that the service still rolls out our deployment. */
  static async restore(api: EcsApi, owned: Owned<ServiceRead>, taskDefinition: string, from: string, progress: Progress, signal: AbortSignal, before?: string, desiredCount?: number): Promise<EcsRollout> {
    const calledAt = Date.now()
    const updated = await api.rollBackService(owned, taskDefinition, signal, desiredCount)
    return EcsRollout.started(api, owned.precondition.service, updated, taskDefinition, calledAt, from, progress, signal, before)
  }

  /** The rollout our UpdateService (answered `updated`) started: its deployment by id, its service deployment once proved ours. */
  static async started(api: EcsApi, service: string, updated: Service, taskDefinition: string, calledAt: number, previousRevision: string | undefined, progress: Progress, signal: AbortSignal, before?: string): Promise<EcsRollout> {
    const deployment = updated.deployments?.find(d => d.status === 'PRIMARY' && d.taskDefinition === taskDefinition)
    progress.step(`service ${service} updated to ${shortArn(taskDefinition)}${deployment?.id ? `: deployment ${deployment.id}` : ''}`)
    // The answer carries the events so far: everything after them is news of this rollout.
    const knownEvents = new Set((updated.events ?? []).map(event => event.id ?? ''))
    // ECS's own clock for our call where the answer gives it (no skew with ours), else ours just before the call.
    const since = (deployment?.createdAt?.getTime() ?? calledAt) - CREATED_AT_TOLERANCE_MS
    const follow = new ServiceDeploymentFollow({ revision: taskDefinition, since, before })
    await follow.adoptAnswered(api, updated.currentServiceDeployment, progress, signal)
    return new EcsRollout(api, service, deployment?.id, taskDefinition, previousRevision, knownEvents, follow)
  }

  async wait(context: WaitContext): Promise<WaitOutcome> {
    if (!this.deploymentId && !this.follow.following) {
      return { state: 'failed', reason: `ECS answered UpdateService with no PRIMARY deployment of ${this.label}, so it cannot be followed` }
    }
    // The logs are shown beside the wait and end with it; they never decide its outcome.
    const logs = this.liveLogs ? startLiveLogs(this.api, this.liveLogs, () => this.following, context) : undefined
    const outcome = await pollRollout(() => this.observe(context), context).finally(() => logs?.stop())
    if (outcome.state === 'timed-out' && this.following) {
      // The deadline's signal has fired: this last look has a short bound of its own, and cancellation.
      const signal = AbortSignal.any([context.cancel, AbortSignal.timeout(AFTER_DEADLINE_MS)])
      await this.inspectStoppedTasks(this.following, context.progress, signal).catch(() => false)
    }
    return outcome
  }

  /** One look at the rollout (a group of services looks at all its members together, one call per 10). */
  async observe(context: WaitContext): Promise<Observation> {
    if (this.follow.following) {
      try {
        const observation = await this.follow.observe(this, context)
        if (observation) return observation
      } catch (error) {
        if (!(error instanceof ServiceDeploymentsUnavailable)) throw error
        this.follow.giveUp(error, context.progress)
      }
    }
    const observation = await this.observeDeployments(context)
    if (!observation.outcome && this.lastService) await this.follow.find(this.api, this.lastService, context)
    return observation
  }

  /** The service as last read. */
  private lastService?: Service
  /** How often the deployments[] rules look (service-deployment/rhythm.ts), as the service-deployment follower does. */
  private readonly fallbackRhythm = new LookRhythm()
  /** Events since our update printed by readService: whether the last read brought news. */
  private lastNews: string[] = []

  /** Describes the service, prints its new events, and judges its deployments[] as the old rules do. */
  async readService(context: WaitContext): Promise<{ service: Service; assessment: Assessment; taskFailure?: WaitOutcome }> {
    const { progress, deadline } = context
    const followed = this.following ?? ''
    const service = await this.api.describeService(this.service, deadline.signal)
    this.lastService = service
    const newEvents = this.printEvents(service, progress)
    this.lastNews = newEvents
    const assessment = assessDeployment(service, { deploymentId: followed, revision: this.revision, previousRevision: this.previousRevision, newEvents: this.newsSinceUpdate })
    if (assessment.kind !== 'progressing' || !followed || !this.watch.suggestsFailures(assessment, newEvents)) return { service, assessment }
    await this.inspectStoppedTasks(followed, progress, deadline.signal)
    const threshold = failureThreshold(service.desiredCount ?? assessment.desiredCount)
    // With the breaker on, ECS judges its own rollout (and may roll back by itself): we only report.
    if (circuitBreakerOn(service) || this.watch.failures < threshold) return { service, assessment }
    const reason = `${this.watch.failures} tasks of ${this.label} (deployment ${followed}) failed, reaching the threshold at which ECS's circuit breaker fails a deployment ` +
      `(${threshold}: half the desired count, at least 3, at most 200); this service has no circuit breaker, so ECS would keep replacing them`
    return { service, assessment, taskFailure: { state: 'failed', reason } }
  }

  async supersededBy(assessment: Extract<Assessment, { kind: 'superseded' }>, signal: AbortSignal): Promise<string> {
    return this.supersededReason(assessment.by, assessment.ours, this.following ?? '', signal)
  }

  get followedDeployment(): string | undefined {
    return this.following
  }

  async reportStoppedTasks(context: WaitContext): Promise<void> {
    if (this.following) await this.inspectStoppedTasks(this.following, context.progress, context.deadline.signal)
  }

  followDeployment(id: string): void {
    this.following = id
    this.watch = new TaskWatch()
  }

  /** Today's rules: the deployment followed by its id in the service's deployments[]. */
  private async observeDeployments(context: WaitContext): Promise<Observation> {
    const { progress, deadline } = context
    const followed = this.following!
    const { assessment, taskFailure } = await this.readService(context)
    const newEvents = this.lastNews
    switch (assessment.kind) {
      case 'completed': {
        progress.step(`deployment ${followed} completed: ${assessment.status}`)
        const note = followed === this.deploymentId ? undefined : `completed by deployment ${followed} of the same revision, started by another deploy`
        return { outcome: note ? { state: 'succeeded', note } : { state: 'succeeded' }, changed: true, nearlyDone: true, status: assessment.status }
      }
      case 'redeployed': {
        progress.step(`deployment ${assessment.by.id}, started by another deploy, rolls out ${this.label} again (the same revision): following it instead of ${followed}`)
        this.followDeployment(assessment.by.id!)
        return { changed: true, nearlyDone: false, status: `following deployment ${assessment.by.id} of ${this.label}` }
      }
      case 'superseded': {
        const reason = await this.supersededReason(assessment.by, assessment.ours, followed, deadline.signal)
        return { outcome: { state: 'superseded', reason }, changed: true, nearlyDone: false, status: reason }
      }
      case 'failed': {
        await this.inspectStoppedTasks(followed, progress, deadline.signal)
        const restoring = assessment.restoring
        const platformRollback = restoring?.id && restoring.taskDefinition && restoring.taskDefinition !== this.revision
          ? new EcsRollout(this.api, this.service, restoring.id, restoring.taskDefinition, this.revision, this.knownEvents)
          : undefined
        return { outcome: { state: 'failed', reason: assessment.reason, platformRollback }, changed: true, nearlyDone: false, status: assessment.reason }
      }
    }
    if (taskFailure) return { outcome: taskFailure, changed: true, nearlyDone: false, status: assessment.status }
    const stopped = this.watch.failures > this.failuresSeen
    this.failuresSeen = this.watch.failures
    const moved = progress.status(`deployment ${followed}: ${assessment.status}`)
    const changed = moved || newEvents.length > 0 || stopped
    // The README's rhythm here too: 1-2 s while tasks start, backing off through a drain (not a look a second).
    return { changed, nearlyDone: assessment.nearlyDone, status: assessment.status, waitMs: this.fallbackRhythm.tasks(assessment.nearlyDone, changed, Date.now()) }
  }

  async afterSuccess(progress: Progress): Promise<void> {
    // Before pruning: the scheduled tasks leave the revision this run replaced first.
    if (this.updateScheduledTasks) await this.moveScheduledTasks(progress)
    if (this.keepRevisions === undefined) return
    const family = shortArn(this.revision).replace(/:\d+$/, '')
    // The revision a rollback of this deploy returns to is kept whatever its age.
    const pruned = await pruneRevisions(this.api, family, this.keepRevisions, this.previousRevision ? [this.previousRevision] : [])
    reportPruned(progress, this.keepRevisions, pruned)
  }

  /**
   * `update-scheduled-tasks`: the rules and schedules that run this family in this cluster follow the
   * service from the revision this run replaced to the one it put in place. Loaded only here, so a deploy
   * without the input never parses the EventBridge or Scheduler client. Any failure is a warning: the
   * service is healthy and verified, and failing (or rolling back) the deploy for a cron job's target
   * would undo a good deploy and leave the schedules half moved.
   */
  private async moveScheduledTasks(progress: Progress): Promise<void> {
    if (!this.previousRevision) return
    try {
      const { ScheduledTasksApi, moveScheduledTasks } = await import('./scheduled/index.js')
      const clusterArn = (await this.api.describeService(this.service)).clusterArn ?? this.api.cluster
      const api = this.scheduledTasksApi ?? new ScheduledTasksApi()
      const rows = await moveScheduledTasks(api, { clusterArn, from: this.previousRevision, to: this.revision }, progress)
      if (rows.length > 0) this.objects = () => rows
    } catch (error) {
      progress.reason(`update-scheduled-tasks: the scheduled tasks of ${this.label} could not be found or moved (the deploy itself succeeded; move them by hand): ${errorMessage(error)}`)
    }
  }

  /**
   * A service deployment of ours still in flight is rolled back by ECS (StopServiceDeployment ROLLBACK,
   * or ContinueServiceDeployment ROLLBACK at a pause: for blue/green an instant shift back); otherwise
   * the previous task definition goes back by UpdateService. Either only after a read, right before the
   * call, proves that what runs is still ours (src/rollout/ownership.ts): a hotfix that landed while we
   * verified or waited is someone else's, and NotOurs says so instead.
   */
  async undo(context: WaitContext): Promise<Rollout> {
    // A cancellation or the rollback's deadline that fired before the call: do not start it.
    const signal = context.deadline.signal
    if (signal.aborted) throw signal.reason
    const own = this.follow.ownArn
    // Only calls that are denied or not there send us to UpdateService: after a transient failure (its
    // retries spent) a blue/green deployment in flight must not be undone by a new deployment instead of ECS's rollback.
    const read = own ? await readCurrent(this.api, this.service, own, 'created by this run', signal).catch((error: unknown) => {
      if (error instanceof ServiceDeploymentsUnavailable) return undefined
      throw error
    }) : undefined
    if (own && read) {
      const sd = read.sd
      if (sd?.status?.startsWith('ROLLBACK')) return new ServiceDeploymentRollback(this.api, own, this.previousRevision ?? 'the previous revision', this.revision)
      // Not current any more: someone else's deployment replaced ours, and it is not ours to undo.
      if (!read.proof.ours || inFlight(sd)) {
        const how = read.proof.ours && read.proof.precondition.hookId ? 'ContinueServiceDeployment' : 'StopServiceDeployment'
        await ifOurs(`roll back service deployment ${shortId(own)}`, async () => read.proof, owned =>
          new ServiceDeploymentApi(this.api).rollBack(owned, signal))
        context.progress.step(`asked ECS to roll back service deployment ${shortId(own)} (${how} ROLLBACK)`)
        return new ServiceDeploymentRollback(this.api, own, this.previousRevision ?? sd?.rollback?.serviceRevisionArn ?? 'the previous revision', this.revision)
      }
    }
    const previous = this.previousRevision
    if (!previous) throw new Error(`no previous task definition is known for service ${this.service}`)
    const ours = { revision: this.revision, deployments: [this.deploymentId, this.following].filter((id): id is string => Boolean(id)) }
    return ifOurs(`roll back service ${this.service} to ${shortArn(previous)}`, () => proveRunsOurs(this.api, this.service, ours, signal), owned => this.restoreBy ? this.restoreBy(owned, context.progress, signal) :
      EcsRollout.restore(this.api, owned, previous, this.revision, context.progress, signal, this.lastService?.currentServiceDeployment))
  }

  /** One line: who replaced the deployment we followed, with what, and what its task definition's tags say. */
  private async supersededReason(by: Deployment, ours: Deployment | undefined, followed: string, signal: AbortSignal): Promise<string> {
    const state = ours ? `left ${`${ours.status ?? ''} ${ours.rolloutState ?? ''}`.trim()}` : 'now gone from the service'
    const failedFirst = ours?.rolloutState === 'FAILED' ? `, after ours had failed (${ours.rolloutStateReason ?? 'FAILED'})` : ''
    const who = await whoDeployed(this.api, by.taskDefinition, signal)
    return `service ${this.service} now rolls out ${shortArn(by.taskDefinition)} (deployment ${by.id}), which replaced ours ` +
      `(${followed} of ${this.label}, ${state})${failedFirst}; ${who}`
  }

  /** Prints service events newer than our update, oldest first, each once; returns this poll's news. */
  private printEvents(service: Service, progress: Progress): string[] {
    const news: string[] = []
    const events = (service.events ?? []).filter(e => !this.knownEvents.has(e.id ?? '') && !this.newsIds.has(e.id ?? '')).reverse()
    for (const event of events) {
      const message = event.message ?? ''
      this.newsIds.add(event.id ?? '')
      this.newsSinceUpdate.push(message)
      news.push(message)
      progress.event(`ecs-event:${event.id}`, `event: ${message}`)
    }
    return news
  }

  /**
   * Looks at the stopped tasks of one deployment (by startedBy, every page) and prints why each new
   * failed task stopped; the reasons go to the report, each distinct reason once. Counts failures.
   */
  private async inspectStoppedTasks(deploymentId: string, progress: Progress, signal?: AbortSignal): Promise<boolean> {
    const arns = (await this.api.listStoppedTasksOfDeployment(deploymentId, signal)).filter(arn => !this.seenTasks.has(arn))
    if (arns.length === 0) return false
    const tasks = await this.api.describeTasks(arns, signal)
    // Described, or gone (ECS answers MISSING): either way not to be asked about again.
    arns.forEach(arn => this.seenTasks.add(arn))
    let failed = 0
    for (const task of tasks) {
      if (!isFailedTask(task)) continue
      failed++
      if (deploymentId === this.following) this.watch.failures++
      const { id, why } = stoppedTaskReason(task)
      progress.event(`ecs-task:${task.taskArn}`, `task ${id} stopped: ${why}`)
      const seen = this.stopReasons.get(why) ?? 0
      this.stopReasons.set(why, seen + 1)
      if (seen === 0) progress.reason(`tasks of ${shortArn(task.taskDefinitionArn) || this.label} stopped: ${why}`)
    }
    return failed > 0
  }
}
