// Live container logs while an ECS rollout is waited on (`follow-logs`), as the Kubernetes platform
// shows its new pods': the chosen container of the tasks OUR deployment started (ListTasks by
// startedBy, the id ECS gives every task a deployment starts: never an older deployment's task), read
// from CloudWatch Logs (awslogs). `one` follows the first of them to run and another once it stops;
// `all` every one, up to MAX_STREAMS. The lines never decide anything: the wait's verdict is the
// deployment's, and the streams end when the wait ends.
import { ListTasksCommand, type Container, type ContainerDefinition, type Task, type TaskDefinition } from '@aws-sdk/client-ecs'
import { errorMessage } from '../../../errors.js'
import { LIVE_LOG_LIMITS, LogBudget } from '../../../rollout/log-budget.js'
import type { WaitContext } from '../../../rollout/platform.js'
import { sleep } from '../../../rollout/poll.js'
import type { Progress } from '../../../rollout/progress.js'
import type { EcsApi } from '../client.js'
import { awsLogsConfig, createLogReader, LogFollower, logsConfigOf, type AwsLogsConfig, type LogReader } from './cloudwatch.js'

export type FollowLogs = 'one' | 'all' | 'off'

/** A deployment's tasks are listed at most this often (one ListTasks, and a DescribeTasks only when a task is to be chosen). */
export const LIST_EVERY_MS = 5000
/** `all`: at most this many tasks' logs are followed in one wait. */
export const MAX_STREAMS = 10
/** When the wait ends, how long the followers may take to read what their streams still hold. */
const LAST_READ_MS = 1500

export interface EcsLiveLogSettings {
  mode: FollowLogs
  /** The container whose log is shown. */
  container: string
  /** Its awslogs settings, or why its output cannot be read from here. */
  logs: AwsLogsConfig | { unavailable: string }
}

/**
 * The settings for a revision: the container given the new image (the one named like the service when
 * several are), else the one named like the service, else the first; its awslogs settings.
 */
export function liveLogSettings(mode: FollowLogs, definition: TaskDefinition, service: string, changed: string[], region: string): EcsLiveLogSettings {
  const containers = (definition.containerDefinitions ?? []) as ContainerDefinition[]
  const names = containers.map(c => c.name ?? '')
  const targets = changed.filter(name => names.includes(name))
  const name = (targets.includes(service) ? service : targets[0]) ?? names.find(n => n === service) ?? names[0] ?? ''
  const container = containers.find(c => c.name === name)
  return { mode, container: name, logs: container ? awsLogsConfig(container, region) : { unavailable: `task definition ${definition.family} has no containers` } }
}

/**
 * Starts following (nothing with `off`; one line and no call for a container without awslogs).
 * `deployment` is the deployment followed now (the rollout may move to another deploy's redeploy of
 * the same revision). Returns what ends it.
 */
export function startLiveLogs(api: EcsApi, settings: EcsLiveLogSettings, deployment: () => string | undefined, context: WaitContext): { stop(): Promise<void> } | undefined {
  if (settings.mode === 'off') return undefined
  if ('unavailable' in settings.logs) {
    context.progress.step(`no live logs of the new tasks (follow-logs: ${settings.mode}): ${settings.logs.unavailable}`)
    return undefined
  }
  const live = new LiveLogs(api, { ...settings, logs: settings.logs }, deployment, context)
  // Nothing the logs meet may reach the wait's outcome.
  return { stop: () => live.stop().catch(() => undefined) }
}

class LiveLogs {
  private readonly followed = new Map<string, LogFollower>()
  /** Tasks that were followed or seen to stop: never chosen again. */
  private readonly done = new Set<string>()
  private readonly closing: Promise<void>[] = []
  private readonly budget = new LogBudget(LIVE_LOG_LIMITS)
  private readonly ending = new AbortController()
  private readonly signal: AbortSignal
  private readonly running: Promise<void>
  private started = 0
  private readonly api: EcsApi
  private readonly settings: EcsLiveLogSettings & { logs: AwsLogsConfig }
  private readonly deployment: () => string | undefined
  private readonly progress: Progress
  private readonly cancel: AbortSignal

  constructor(api: EcsApi, settings: EcsLiveLogSettings & { logs: AwsLogsConfig }, deployment: () => string | undefined, context: WaitContext) {
    this.api = api
    this.settings = settings
    this.deployment = deployment
    this.progress = context.progress
    this.cancel = context.cancel
    this.signal = AbortSignal.any([context.deadline.signal, this.ending.signal])
    this.running = this.run()
  }

  private async run(): Promise<void> {
    let reader: LogReader
    try {
      // The CloudWatch Logs client is loaded here, only when logs are followed.
      reader = await createLogReader(this.settings.logs.region, logsConfigOf(this.api))
    } catch (error) {
      this.progress.step(`no live logs of the new tasks: ${errorMessage(error)}`)
      return
    }
    while (!this.signal.aborted) {
      try {
        await this.look(reader)
      } catch (error) {
        // Said once per message; the next look tries again. Never the verdict's business.
        if (!this.signal.aborted) this.progress.event(`live-log-error:${errorMessage(error)}`, `live logs: could not list the new tasks: ${errorMessage(error)}`)
      }
      await sleep(LIST_EVERY_MS, this.signal)
    }
  }

  /** One look: streams of stopped tasks end, new tasks of our deployment are chosen. */
  private async look(reader: LogReader): Promise<void> {
    const deployment = this.deployment()
    if (!deployment) return
    const output = await this.api.send(`list the running tasks of deployment '${deployment}'`, abortSignal =>
      // startedBy must be ListTasks' only filter (besides cluster and desiredStatus); RUNNING lists PENDING ones too.
      this.api.client.send(new ListTasksCommand({ cluster: this.api.cluster, startedBy: deployment, desiredStatus: 'RUNNING', maxResults: 100 }), { abortSignal }), this.signal)
    const listed = new Set(output.taskArns ?? [])
    for (const [arn, follower] of this.followed) {
      if (listed.has(arn)) continue
      // Stopped (or stopping): what its stream still holds is read, then it ends.
      this.followed.delete(arn)
      this.closing.push(follower.finish(this.cancel, { withinMs: 3000 }))
    }
    const room = this.settings.mode === 'one' ? 1 - this.followed.size : MAX_STREAMS - this.started
    const fresh = [...listed].filter(arn => !this.followed.has(arn) && !this.done.has(arn))
    if (fresh.length === 0) return
    if (room <= 0) {
      if (this.settings.mode === 'all') this.progress.event('live-log-cap', `live logs: the logs of ${MAX_STREAMS} tasks are followed at most; later tasks' logs are not shown`)
      return
    }
    const tasks = await this.api.describeTasks(fresh, this.signal)
    // The first to start first; only a running container has a log yet.
    const runningTasks = tasks
      .filter(task => task.lastStatus === 'RUNNING' && this.containerOf(task)?.lastStatus === 'RUNNING')
      .sort((a, b) => (a.startedAt?.getTime() ?? 0) - (b.startedAt?.getTime() ?? 0) || (a.taskArn ?? '').localeCompare(b.taskArn ?? ''))
    for (const task of runningTasks.slice(0, room)) this.follow(reader, task)
  }

  private containerOf(task: Task): Container | undefined {
    return task.containers?.find(c => c.name === this.settings.container)
  }

  private follow(reader: LogReader, task: Task): void {
    const arn = task.taskArn!
    const id = arn.split('/').at(-1) ?? arn
    const { container, logs, mode } = this.settings
    const follower = new LogFollower(reader, logs, container, this.progress, { label: `${id}/${container}`, key: 'live-log', budget: this.budget })
    // Without a stream prefix the stream is the Docker container id, known once the container runs.
    follower.locate(id, this.containerOf(task)?.runtimeId)
    this.done.add(arn)
    this.started++
    this.progress.event(`live-log-start:${arn}`, `following the log of task ${id}, container ${container} (follow-logs: ${mode}): ${follower.where}`)
    this.followed.set(arn, follower)
    follower.start(this.signal)
  }

  /** The wait is over: no more looks; each stream gets a last short read (none once cancelled). */
  async stop(): Promise<void> {
    this.ending.abort()
    await this.running
    const last = [...this.followed.values()].map(follower => follower.finish(this.cancel, { withinMs: LAST_READ_MS }))
    this.followed.clear()
    await Promise.all([...this.closing, ...last])
  }
}
