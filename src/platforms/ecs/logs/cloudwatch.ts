import type { ContainerDefinition } from '@aws-sdk/client-ecs'
import type { CloudWatchLogsClient, CloudWatchLogsClientConfig } from '@aws-sdk/client-cloudwatch-logs'
import { errorMessage } from '../../../errors.js'
import { sleep } from '../../../rollout/poll.js'
import type { Progress } from '../../../rollout/progress.js'
import { isRetryable, isThrottling, retry } from '../../../rollout/retry.js'
import { cutText, type LogBudget } from '../../../rollout/log-budget.js'
import { AWS_CLIENT_BOUNDS, type EcsApi } from '../client.js'

// The awslogs (CloudWatch Logs) side of ECS: where a container's output goes and one follower of a
// stream. Shared by the pre-deploy one-off task and the live logs of a rollout's tasks (./live.ts).

/** Where the awslogs driver writes a container's output (its group, region and stream prefix). */
export interface AwsLogsConfig {
  group: string
  region: string
  /** `awslogs-stream-prefix`: the stream is `prefix/container/taskId`; without it, the Docker container id. */
  streamPrefix?: string
}

/** The awslogs settings of a container, or why its log cannot be read from here. */
export function awsLogsConfig(container: ContainerDefinition, defaultRegion: string): AwsLogsConfig | { unavailable: string } {
  const config = container.logConfiguration
  const name = container.name ?? '?'
  if (!config?.logDriver) return { unavailable: `container '${name}' has no logConfiguration, so ECS keeps none of its output; give it the awslogs log driver to see it here` }
  if (config.logDriver === 'awsfirelens') return { unavailable: `container '${name}' logs through FireLens (awsfirelens); read its output where the log router sends it` }
  if (config.logDriver !== 'awslogs') return { unavailable: `container '${name}' uses the ${config.logDriver} log driver; only awslogs (CloudWatch Logs) is read here` }
  const options = config.options ?? {}
  const group = options['awslogs-group']
  if (!group) return { unavailable: `container '${name}' uses awslogs without 'awslogs-group'` }
  return { group, region: options['awslogs-region'] || defaultRegion, streamPrefix: options['awslogs-stream-prefix'] || undefined }
}

/** The stream of one task's container: `prefix/container/taskId`, else the Docker container id (runtimeId). */
export function streamName(config: AwsLogsConfig, container: string, taskId: string, runtimeId?: string): string | undefined {
  return config.streamPrefix ? `${config.streamPrefix}/${container}/${taskId}` : runtimeId
}

/** The one call the follower makes; the CloudWatch Logs client, loaded on this path only. */
export interface LogReader {
  /** `onFailedTry` hears each failed try that is tried again, so a read cut short can still say why. */
  getLogEvents(
    input: { logGroupName: string; logStreamName: string; nextToken?: string },
    signal: AbortSignal,
    onFailedTry?: (error: unknown) => void
  ): Promise<{ events: string[]; nextForwardToken?: string }>
}

/**
 * A CloudWatch Logs reader configured as the ECS client is (each try bounded, no retry of the SDK's
 * own), loaded by dynamic import: a deploy without a pre-deploy command never parses it.
 */
export async function createLogReader(region: string, config: Partial<CloudWatchLogsClientConfig> = {}): Promise<LogReader> {
  const { CloudWatchLogsClient, GetLogEventsCommand } = await import('@aws-sdk/client-cloudwatch-logs')
  const client: CloudWatchLogsClient = new CloudWatchLogsClient({
    ...AWS_CLIENT_BOUNDS,
    region,
    ...config
  })
  return {
    async getLogEvents(input, signal, onFailedTry) {
      const output = await retry(() => client.send(new GetLogEventsCommand({ ...input, startFromHead: true }), { abortSignal: signal }), {
        attempts: 4,
        withinMs: 20_000,
        baseMs: 500,
        maxMs: 2_000,
        signal,
        onRetry: error => onFailedTry?.(error)
      })
      return { events: (output.events ?? []).map(event => event.message ?? ''), nextForwardToken: output.nextForwardToken }
    }
  }
}

/** The region of an ECS ARN (the service's, a task's), else the standard chain's. */
export function regionOf(arn?: string): string {
  return arn?.split(':')[3] || process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || 'us-east-1'
}

/** The logs client shares the ECS client's credentials; its endpoint comes from the standard chain, or the test's. */
export function logsConfigOf(api: EcsApi): Partial<CloudWatchLogsClientConfig> {
  return { credentials: api.client.config.credentials, ...api.logsClientConfig }
}

/** How a follower shows its lines: a label before each (default the container) and a bound shared with other streams. */
export interface FollowerOptions {
  /** Before each line, e.g. `task 0f3c…/web` (default: the container's name). */
  label?: string
  /** Keeps the lines of two followers apart in Progress (one event per line). */
  key?: string
  budget?: LogBudget
}

/** Lines kept for the reasons of a failure. */
export const TAIL_LINES = 20

/**
 * Follows one container's log stream while its task runs, printing each new line once through
 * Progress (which shows text from outside as data, never as a workflow command), and keeps the last
 * lines for a failure's reason. Problems reading the log are said once and never fail the step: the
 * verdict is the exit code, not the log.
 */
export class LogFollower {
  /** Lines printed so far, in all. */
  delivered = 0
  private readonly lastLines: string[] = []
  private token?: string
  private stream?: string
  private unavailable?: string
  private found = false
  /** The last read's transient error (throttling, 5xx, no connection), cleared by a read that works. */
  private lastError?: string
  /** What CloudWatch Logs said while the stream was missing ("The specified log group does not exist."). */
  private notFound?: string
  private readonly stop = new AbortController()
  private following?: Promise<void>

  private readonly reader: LogReader
  private readonly config: AwsLogsConfig
  private readonly container: string
  private readonly progress: Progress

  private readonly options: FollowerOptions

  constructor(reader: LogReader, config: AwsLogsConfig, container: string, progress: Progress, options: FollowerOptions = {}) {
    this.reader = reader
    this.config = config
    this.container = container
    this.progress = progress
    this.options = options
  }

  /** The stream, once known (the prefix form is known at once; the other needs the container's runtimeId). */
  locate(taskId: string, runtimeId?: string): void {
    this.stream ??= streamName(this.config, this.container, taskId, runtimeId)
  }

  get where(): string {
    return `CloudWatch Logs group ${this.config.group}${this.stream ? `, stream ${this.stream}` : ''} (${this.config.region})`
  }

  /** Why no line could be read, if that is so. */
  get problem(): string | undefined {
    if (this.unavailable) return this.unavailable
    if (!this.found && this.lastError) return `could not read ${this.where}: ${this.lastError}`
    if (!this.found) return this.stream ? `no log stream ${this.stream} appeared in group ${this.config.group} (${this.config.region})${this.notFound ? `: ${this.notFound}` : ''}` : 'the log stream was never known'
    return undefined
  }

  tail(): string[] {
    return [...this.lastLines]
  }

  /**
   * Starts reading while the task runs: about once a second while lines come, backing off to 4 s
   * when quiet, until `finish` or the signal.
   */
  start(signal: AbortSignal): void {
    const until = AbortSignal.any([signal, this.stop.signal])
    this.following = (async () => {
      let idleMs = 1000
      while (!until.aborted && !this.unavailable) {
        const lines = await this.read(until)
        idleMs = lines > 0 ? 1000 : Math.min(idleMs * 1.5, 4000)
        await sleep(idleMs, until)
      }
    })()
  }

  /**
   * After the task stopped: the awslogs driver flushed when the container exited, before the task
   * was deprovisioned, so reading until a read brings nothing new gets the last lines (at most
   * `withinMs`; a stream not there yet is given one more look half a second later). `settleMs`: keep
   * looking that long even while nothing new comes (after our StopTask, the lines the container
   * wrote on its way out may reach CloudWatch Logs a moment after it exited).
   */
  async finish(signal: AbortSignal, { withinMs = 5000, settleMs = 0 }: { withinMs?: number; settleMs?: number } = {}): Promise<void> {
    this.stop.abort()
    await this.following
    if (this.unavailable || !this.stream) return
    // Each read is bounded too: a log endpoint that does not answer must not hold up the verdict.
    const bounded = AbortSignal.any([signal, AbortSignal.timeout(withinMs)])
    const settledAt = Date.now() + settleMs
    for (let look = 1; !bounded.aborted && !this.unavailable; look++) {
      const lines = await this.read(bounded)
      if (lines === 0 && (this.found || look >= 2) && Date.now() >= settledAt) break
      if (lines === 0) await sleep(500, bounded)
    }
    // A stream that never appeared: the container never started, or it logs elsewhere than its definition says.
    if (!this.found && !this.unavailable && !signal.aborted) this.progress.step(`${this.options.label ? `${this.options.label}: ` : ''}its log: ${this.problem}`)
  }

  /** Ends the reading now (the wait is over), without the last look `finish` takes. */
  async halt(): Promise<void> {
    this.stop.abort()
    await this.following
  }

  /** One read of every new page; returns how many lines it printed. */
  private async read(signal: AbortSignal): Promise<number> {
    if (!this.stream) return 0
    let printed = 0
    try {
      for (let page = 0; page < 50; page++) {
        const output = await this.reader.getLogEvents({ logGroupName: this.config.group, logStreamName: this.stream, nextToken: this.token }, signal, error => {
          if (!this.found) this.lastError = errorMessage(error)
        })
        this.found = true
        this.lastError = undefined
        for (const line of output.events) this.print(line)
        printed += output.events.length
        const same = output.nextForwardToken === undefined || output.nextForwardToken === this.token
        this.token = output.nextForwardToken ?? this.token
        if (same || output.events.length === 0) break
      }
    } catch (error) {
      if (signal.aborted) {
        // A read still in flight when the step moved on: the endpoint was slow (or failing: then its
        // last failed try says how), not the stream missing.
        if (!this.found) this.lastError ??= 'CloudWatch Logs did not answer in time'
        return printed
      }
      const name = (error as { name?: string })?.name
      // The driver creates the stream when the container starts: until then it does not exist.
      if (name === 'ResourceNotFoundException') {
        this.lastError = undefined
        this.notFound = errorMessage(error)
        return printed
      }
      if (isThrottling(error) || isRetryable(error)) {
        this.lastError = errorMessage(error)
        return printed
      }
      this.unavailable = `could not read ${this.where}: ${errorMessage(error)}${/AccessDenied/.test(name ?? '') ? ' (the role needs logs:GetLogEvents on that group)' : ''}`
      this.progress.step(`the task's log is not available: ${this.unavailable}`)
    }
    return printed
  }

  private print(message: string): void {
    const line = message.replace(/\r?\n$/, '')
    this.delivered++
    this.lastLines.push(line)
    if (this.lastLines.length > TAIL_LINES) this.lastLines.shift()
    const budget = this.options.budget
    const allowed = budget?.take() ?? true
    if (allowed !== true) {
      // Said once per cause for the whole wait (the key names no stream).
      this.progress.event(`log-cut:${allowed}`, `${cutText(allowed, budget!)} (CloudWatch Logs group ${this.config.group} has them all)`)
      return
    }
    this.progress.event(`${this.options.key ?? 'log'}:${this.stream}:${this.delivered}`, `${this.options.label ?? this.container} | ${line}`)
  }
}
