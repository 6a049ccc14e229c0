import type { Service } from '@aws-sdk/client-ecs'
import type { Rollout, WaitContext, WaitOutcome } from '../platform.js'
import { pollRollout, type Observation } from '../../rollout/poll-loop.js'
import type { Progress } from '../../rollout/progress.js'
import { assessDeployment, shortArn, stoppedTaskReason } from './assess.js'
import type { EcsApi } from './client.js'
import { pruneRevisions } from './revisions.js'

/** One ECS deployment that our UpdateService created, followed by its id. */
export class EcsRollout implements Rollout {
  readonly revision: string
  readonly label: string
  readonly previousRevision?: string
  readonly outputs: Record<string, string>
  private readonly api: EcsApi
  private readonly service: string
  private readonly deploymentId: string | undefined
  /** Events the service had before our update: never printed as news of this rollout. */
  private readonly knownEvents: Set<string>
  /** Stopped-task reasons already reported, counted per reason (task ids aside). */
  private readonly stopReasons = new Map<string, number>()
  private readonly seenTasks = new Set<string>()
  private lastFailedTasks = 0
  /** keep-revisions: how many ACTIVE revisions of the family to keep after success. */
  keepRevisions?: number

  constructor(api: EcsApi, service: string, deploymentId: string | undefined, revision: string, previousRevision: string | undefined, knownEvents: Set<string>) {
    this.api = api
    this.knownEvents = knownEvents
    this.label = shortArn(revision)
    this.service = service
    this.deploymentId = deploymentId
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
    progress: Progress
  ): Promise<EcsRollout> {
    const updated = await api.updateService(service, change)
    const deployment = updated.deployments?.find(d => d.status === 'PRIMARY' && d.taskDefinition === change.taskDefinition)
    progress.step(`service ${service} updated to ${shortArn(change.taskDefinition)}${deployment?.id ? `: deployment ${deployment.id}` : ''}`)
    // The answer carries the events so far: everything after them is news of this rollout.
    const knownEvents = new Set((updated.events ?? []).map(event => event.id ?? ''))
    return new EcsRollout(api, service, deployment?.id, change.taskDefinition, previousRevision, knownEvents)
  }

  async wait(context: WaitContext): Promise<WaitOutcome> {
    const { progress, deadline } = context
    const deploymentId = this.deploymentId
    if (!deploymentId) {
      return { state: 'failed', reason: `ECS answered UpdateService with no PRIMARY deployment of ${shortArn(this.revision)}, so it cannot be followed` }
    }
    const outcome = await pollRollout(async (): Promise<Observation> => {
      const service = await this.api.describeService(this.service, deadline.signal)
      const newEvents = this.printEvents(service, progress)
      const assessment = assessDeployment(service, deploymentId)
      if (assessment.kind === 'completed') {
        progress.step(`deployment ${deploymentId} completed: ${assessment.status}`)
        return { outcome: { state: 'succeeded' }, changed: true, nearlyDone: true, status: assessment.status }
      }
      if (assessment.kind === 'failed' || assessment.kind === 'vanished') {
        await this.printStoppedTasks(progress, deadline.signal)
        const restoring = assessment.restoring
        const platformRollback = restoring?.id && restoring.taskDefinition && restoring.taskDefinition !== this.revision
          ? new EcsRollout(this.api, this.service, restoring.id, restoring.taskDefinition, this.revision, this.knownEvents)
          : undefined
        return { outcome: { state: 'failed', reason: assessment.reason, platformRollback }, changed: true, nearlyDone: false, status: assessment.reason }
      }
      // Stopped tasks are looked up only when ECS counts new failures: no extra call per poll otherwise.
      let stopped = false
      if (assessment.failedTasks > this.lastFailedTasks) {
        this.lastFailedTasks = assessment.failedTasks
        stopped = await this.printStoppedTasks(progress, deadline.signal)
      }
      const moved = progress.status(`deployment ${deploymentId}: ${assessment.status}`)
      return { changed: moved || newEvents || stopped, nearlyDone: assessment.nearlyDone, status: assessment.status }
    }, context)
    if (outcome.state === 'timed-out') await this.printStoppedTasks(progress).catch(() => false)
    return outcome
  }

  async afterSuccess(progress: Progress): Promise<void> {
    if (this.keepRevisions === undefined) return
    const family = shortArn(this.revision).replace(/:\d+$/, '')
    const pruned = await pruneRevisions(this.api, family, this.keepRevisions)
    progress.step(pruned.length ? `keep-revisions ${this.keepRevisions}: deregistered ${pruned.map(shortArn).join(', ')}` : `keep-revisions ${this.keepRevisions}: nothing to deregister`)
  }

  async undo(context: WaitContext): Promise<Rollout> {
    if (!this.previousRevision) throw new Error(`no previous task definition is known for service ${this.service}`)
    return EcsRollout.start(this.api, this.service, { taskDefinition: this.previousRevision }, this.revision, context.progress)
  }

  /** Prints service events newer than our update, oldest first, each once. */
  private printEvents(service: Service, progress: Progress): boolean {
    let printed = false
    const events = (service.events ?? []).filter(e => !this.knownEvents.has(e.id ?? '')).reverse()
    for (const event of events) {
      if (progress.event(`ecs-event:${event.id}`, `event: ${event.message}`)) printed = true
    }
    return printed
  }

  /** Prints why each newly stopped task of our task definition stopped; the reasons go to the report. */
  private async printStoppedTasks(progress: Progress, signal?: AbortSignal): Promise<boolean> {
    const arns = (await this.api.listStoppedTasks(this.service, signal)).filter(arn => !this.seenTasks.has(arn))
    if (arns.length === 0) return false
    arns.forEach(arn => this.seenTasks.add(arn))
    const tasks = (await this.api.describeTasks(arns, signal)).filter(task => task.taskDefinitionArn === this.revision)
    for (const task of tasks) {
      const { id, why } = stoppedTaskReason(task)
      progress.event(`ecs-task:${task.taskArn}`, `task ${id} stopped: ${why}`)
      // The report lists each distinct reason once, not once per task.
      const seen = this.stopReasons.get(why) ?? 0
      this.stopReasons.set(why, seen + 1)
      if (seen === 0) progress.reason(`tasks of ${this.label} stopped: ${why}`)
    }
    return tasks.length > 0
  }
}
