import type { Container, ContainerDefinition, Failure, RunTaskCommandInput, Service, Task, TaskDefinition } from '@aws-sdk/client-ecs'
import { randomUUID } from 'node:crypto'
import { UserError, errorMessage } from '../../../errors.js'
import type { ImageChange } from '../../../render/containers.js'
import type { TaskDefinitionInput } from '../../../render/task-definition.js'
import type { DeployRequest, PreDeployCommand } from '../../../request.js'
import { formatDuration } from '../../../rollout/deadline.js'
import type { BeforeOutcome, BeforeStep, WaitContext, WaitOutcome } from '../../../rollout/platform.js'
import { PollSchedule } from '../../../rollout/poll.js'
import { pollRollout, stoppedOutcome, type Observation } from '../../../rollout/poll-loop.js'
import { shortArn } from '../assess.js'
import type { EcsApi } from '../client.js'
import { OneOffTaskApi } from './client.js'
import { LogFollower, awsLogsConfig, createLogReader, logsConfigOf, regionOf, type AwsLogsConfig } from '../logs/cloudwatch.js'
import { stopOurTask, waitExited, type StartedTask } from './stop.js'
import { stoppedFromOutside, type HowItEnded } from './verdict.js'

/** ECS allows this many characters of overrides (JSON included) in one RunTask. */
const OVERRIDES_LIMIT = 8192
/** A task RunTask started may be unknown to DescribeTasks for a moment (eventual consistency); not for longer. */
const UNKNOWN_FOR_MS = 30_000
/** After our StopTask: the last lines may reach CloudWatch Logs a moment after the container exited. */
const LAST_LINES_SETTLE_MS = 2_000

export interface OneOffOptions {
  api: EcsApi
  request: DeployRequest
  /** The live service: its network configuration, launch type or capacity providers, platform version. */
  service: Service
  /** The rendered task definition the deploy registers (the task runs from it). */
  definition: TaskDefinitionInput
  images: ImageChange[]
  /** The deploy's one registration: the task runs from the revision that apply then deploys. */
  register(signal: AbortSignal): Promise<TaskDefinition>
}

/**
 * The `pre-deploy-command` as an ECS one-off task: checked now (the container, the network, the size
 * of the override), run by the engine before UpdateService. Throws a UserError naming the input when
 * it cannot run.
 */
export function preDeployTask(options: OneOffOptions): BeforeStep {
  const { request, service, definition } = options
  const preDeploy = request.preDeploy as PreDeployCommand
  const container = chooseContainer(preDeploy, definition, options.images, request)
  const overrides = { containerOverrides: [{ name: container.name!, command: preDeploy.command }] }
  if (JSON.stringify(overrides).length > OVERRIDES_LIMIT) {
    throw new UserError({ input: 'pre-deploy-command', message: `is too long: ECS takes at most ${OVERRIDES_LIMIT} characters of overrides in RunTask; run a script from the image instead` })
  }
  const placement = placementOf(service, definition)
  const startedBy = startedByOf(request)
  const logs = awsLogsConfig(container, regionOf(service.serviceArn))
  const where = [placement.launchType ?? placement.capacityProviderStrategy?.map(s => s.capacityProvider).join('+') ?? 'the cluster default capacity', placement.platformVersion && `platform ${placement.platformVersion}`, placement.networkConfiguration && networkText(placement.networkConfiguration)]
  const description = `one-off task of the new revision of ${definition.family} in cluster ${request.ecs.cluster}: container ${container.name} runs ${JSON.stringify(preDeploy.command)} (${where.filter(Boolean).join(', ')}; startedBy ${startedBy}; timeout ${formatDuration(preDeploy.timeoutMs)}); ${'unavailable' in logs ? `its log is not shown: ${logs.unavailable}` : `its log is read from CloudWatch Logs group ${logs.group} (${logs.region})`}`
  return {
    description,
    run: context => runOneOff(options, { container: container.name!, stopTimeout: container.stopTimeout, overrides, placement, startedBy, logs }, context)
  }
}

interface Prepared {
  container: string
  /** The container's stopTimeout (seconds between SIGTERM and SIGKILL), if its definition sets one. */
  stopTimeout?: number
  overrides: NonNullable<RunTaskCommandInput['overrides']>
  placement: Placement
  startedBy: string
  logs: AwsLogsConfig | { unavailable: string }
}

async function runOneOff(options: OneOffOptions, prepared: Prepared, context: WaitContext): Promise<BeforeOutcome> {
  const { api } = options
  const { deadline, progress } = context
  const registered = await options.register(deadline.signal)
  progress.step(`registered task definition ${shortArn(registered.taskDefinitionArn)}; the service still runs the old one`)
  const started = await new OneOffTaskApi(api).run({
    taskDefinition: registered.taskDefinitionArn!,
    count: 1,
    startedBy: prepared.startedBy,
    overrides: prepared.overrides,
    clientToken: randomUUID(),
    ...prepared.placement
  }, deadline.signal)
  const task = started.tasks?.[0]
  if (!task?.taskArn) {
    return { state: 'failed', reason: `ECS started no task: ${failuresText(started.failures ?? [])}`, outputs: {} }
  }
  const arn = task.taskArn
  const id = shortArn(arn)
  const outputs: Record<string, string> = { 'pre-deploy-task': arn }
  progress.step(`started task ${id} (${task.lastStatus ?? 'PROVISIONING'}): ${consoleUrl(arn)}`)

  let follower: LogFollower | undefined
  if ('unavailable' in prepared.logs) progress.step(`its log is not shown here: ${prepared.logs.unavailable}`)
  else {
    const reader = await createLogReader(prepared.logs.region, logsConfigOf(api))
    follower = new LogFollower(reader, prepared.logs, prepared.container, progress)
    follower.locate(id)
    follower.start(deadline.signal)
  }

  const ran: StartedTask = { taskArn: arn, startedBy: prepared.startedBy }
  const followed = await followToStopped(api, ran, prepared.container, registered, follower, context)
  const { outcome, last, how } = followed
  let stopped = ''
  if (outcome.state === 'timed-out' || outcome.state === 'cancelled' || followed.lost) {
    // Left alone, the task would go on by itself (a migration half done): stop it, within a bound.
    const cancelled = deadline.stoppedBy === 'cancelled' || context.cancel.aborted
    const stop = await stopOurTask(api, ran, cancelled ? 'the run was cancelled' : followed.lost ? 'the task could no longer be followed' : 'pre-deploy-timeout passed')
    stopped = stop.text
    progress.step(`task ${id}: ${stopped}`)
    // Its last lines (a trap's among them) reach the log when the container exits, after the StopTask:
    // wait for that, bounded, unless the run was cancelled (the runner kills the job seconds later).
    if (stop.stopped && !cancelled && follower) await waitExited(api, arn, prepared.container, prepared.stopTimeout, context.cancel)
  }
  // The last lines: read until they stop coming, a little longer after a stop of ours, not at all after a cancellation.
  if (follower) {
    if (!deadline.signal.aborted && !followed.lost) await follower.finish(deadline.signal)
    else if (context.cancel.aborted) await follower.finish(AbortSignal.timeout(1))
    else await follower.finish(AbortSignal.any([context.cancel, AbortSignal.timeout(LAST_LINES_SETTLE_MS + 3000)]), { settleMs: LAST_LINES_SETTLE_MS })
  }
  const tail = tailText(follower?.tail() ?? [])

  if (outcome.state === 'succeeded' && last) {
    const verdict = verdictOf(last, prepared.container)
    if (verdict.exitCode !== undefined) outputs['pre-deploy-exit-code'] = String(verdict.exitCode)
    const outside = verdict.exitCode === 0 ? stoppedFromOutside(last, prepared.container, how) : undefined
    if (verdict.exitCode === 0 && !outside) return { state: 'succeeded', outputs }
    return { state: 'failed', reason: `${outside ? `${outside}; ${prepared.container} exited with code 0` : verdict.reason}${follower?.problem ? `; its log: ${follower.problem}` : ''}${tail}`, outputs }
  }
  if (outcome.state === 'timed-out' || outcome.state === 'cancelled') {
    const why = outcome.state === 'cancelled' ? `the run was cancelled while task ${id} ran` : `task ${id} did not stop within ${formatDuration(options.request.preDeploy!.timeoutMs)} (pre-deploy-timeout)`
    return { state: outcome.state, reason: `${why}; ${stopped}; it was last seen ${last?.lastStatus ?? 'not yet visible to DescribeTasks'}${tail}`, outputs }
  }
  return { state: 'failed', reason: `${'reason' in outcome ? outcome.reason : outcome.state}${stopped ? `; ${stopped}` : ''}${tail}`, outputs }
}

/**
 * Follows the task with DescribeTasks (the engine's poll loop: fast while it changes or ends, slower
 * while it runs, patient with throttling) until it is STOPPED, the deadline passes or the run is
 * cancelled. `last` is the task as last seen; `how` what was seen of how it ended; `lost` says the
 * task could no longer be followed (DescribeTasks failed for good, or never showed it).
 */
async function followToStopped(api: EcsApi, ran: StartedTask, container: string, registered: TaskDefinition, follower: LogFollower | undefined, context: WaitContext): Promise<{ outcome: WaitOutcome; last?: Task; how: HowItEnded; lost?: boolean }> {
  const { deadline, progress } = context
  const arn = ran.taskArn
  const id = shortArn(arn)
  const unknownAfter = Date.now() + UNKNOWN_FOR_MS
  const how: HowItEnded = { essential: (registered.containerDefinitions ?? []).filter(c => c.essential !== false).map(c => c.name ?? ''), exitedBefore: [], exitedOnItsOwn: false }
  let last: Task | undefined
  let lastLine = ''
  let linesSeen = 0
  const observe = async (): Promise<Observation> => {
    const [now] = await api.describeTasks([arn], deadline.signal)
    if (!now) {
      if (Date.now() > unknownAfter) throw new Error(`ECS does not know task ${arn} ${UNKNOWN_FOR_MS / 1000}s after starting it`)
      return { changed: false, nearlyDone: false, status: `task ${id}: not visible yet` }
    }
    last = now
    const mine = now.containers?.find(c => c.name === container)
    if (follower && mine?.runtimeId) follower.locate(id, mine.runtimeId)
    const exited = mine?.lastStatus === 'STOPPED'
    noteHowItEnds(how, now, container)
    const exitCode = typeof mine?.exitCode === 'number' ? `, ${container} exited with ${mine.exitCode}` : ''
    const line = `task ${id}: ${now.lastStatus}${now.desiredStatus === 'STOPPED' && now.lastStatus !== 'STOPPED' ? ' (stopping)' : ''}${exitCode}`
    // New log lines count as movement too: a task that prints is looked at often, a silent one less.
    const changed = line !== lastLine || (follower?.delivered ?? 0) !== linesSeen
    linesSeen = follower?.delivered ?? 0
    lastLine = line
    progress.status(line)
    if (now.lastStatus === 'STOPPED') return { changed, nearlyDone: true, status: line, outcome: { state: 'succeeded' } }
    if (exited && how.stoppedByUs === undefined && now.desiredStatus !== 'STOPPED' && !isEssential(registered, container)) {
      // A non-essential container that exited does not end its task: the essential ones would run on.
      const why = `${container} (the pre-deploy command) exited; stopping the rest of the task`
      how.stoppedByUs = `deploy-service: ${why}`
      const stop = await stopOurTask(api, ran, why)
      progress.step(`task ${id}: ${container} exited; the rest of the task: ${stop.text}`)
    }
    return { changed, nearlyDone: exited || now.desiredStatus === 'STOPPED', status: line }
  }
  try {
    return { outcome: await pollRollout(observe, context, new PollSchedule({ maxMs: 5000 })), last, how }
  } catch (error) {
    if (deadline.signal.aborted) return { outcome: stoppedOutcome(context, lastLine), last, how }
    return { outcome: { state: 'failed', reason: `could not follow task ${id}: ${errorMessage(error)}` }, last, how, lost: true }
  }
}

/** What one look at the task says of which container ended first. */
function noteHowItEnds(how: HowItEnded, task: Task, container: string): void {
  const mine = task.containers?.find(c => c.name === container)
  if (mine?.lastStatus === 'STOPPED') {
    if (task.desiredStatus !== 'STOPPED' && task.lastStatus !== 'STOPPED') how.exitedOnItsOwn = true
    const others = task.containers?.filter(c => c.name !== container && how.essential.includes(c.name ?? '')) ?? []
    if (!how.exitedBefore.some(name => how.essential.includes(name)) && others.length > 0 && others.every(c => c.lastStatus !== 'STOPPED')) how.exitedFirst ??= true
    return
  }
  for (const other of task.containers ?? []) {
    if (other.name !== container && other.lastStatus === 'STOPPED' && !how.exitedBefore.includes(other.name ?? '')) how.exitedBefore.push(other.name ?? '')
  }
}

/** The container's exit code, or why it never ran: stop code, stop reason, the container's reason. */
export function verdictOf(task: Task, name: string): { exitCode?: number; reason: string } {
  const container: Container | undefined = task.containers?.find(c => c.name === name)
  const exitCode = typeof container?.exitCode === 'number' ? container.exitCode : undefined
  const stop = [task.stopCode, task.stoppedReason].filter(Boolean).join(': ')
  if (exitCode !== undefined) {
    if (exitCode === 0) return { exitCode, reason: 'exit code 0' }
    const extra = [container?.reason && container.reason !== task.stoppedReason ? container.reason : '', stop].filter(Boolean).join('; ')
    return { exitCode, reason: `${name} exited with code ${exitCode}${exitCode === 137 ? ' (killed: out of memory or stopped)' : ''}${extra ? ` (${extra})` : ''}` }
  }
  const parts = [stop, container?.reason && container.reason !== task.stoppedReason ? `${name}: ${container.reason}` : '']
  const said = parts.filter(Boolean).join('; ')
  return { reason: `the task stopped before ${name} ran to an exit code: ${said || `ECS gave no reason (stopCode ${task.stopCode ?? 'none'})`}` }
}

/** RunTask's `failures[]`, each with its ARN, reason and detail, and what the reason means. */
export function failuresText(failures: Failure[]): string {
  if (failures.length === 0) return 'RunTask returned neither a task nor a failure'
  return failures.map(f => {
    const hint = failureHint(f.reason ?? '')
    return `${f.arn ?? '(no ARN)'}: ${f.reason ?? '(no reason)'}${f.detail ? ` (${f.detail})` : ''}${hint ? ` - ${hint}` : ''}`
  }).join('; ')
}

function failureHint(reason: string): string {
  if (reason === 'RESOURCE:ENI') return 'no container instance has a free network interface for an awsvpc task: use larger instances or ENI trunking, or add instances'
  if (reason.startsWith('RESOURCE:')) return `no container instance has enough ${reason.slice(9).toLowerCase()} free for the task: add capacity or make the task smaller`
  if (reason === 'AGENT') return "the container instance's ECS agent is disconnected"
  if (reason === 'ATTRIBUTE') return 'no container instance has the attributes the placement constraints ask for'
  if (/Capacity is unavailable/i.test(reason)) return 'Fargate had no capacity: deploy again later, or give the service subnets in more availability zones'
  return ''
}

type Placement = Pick<RunTaskCommandInput, 'launchType' | 'capacityProviderStrategy' | 'platformVersion' | 'networkConfiguration' | 'placementConstraints' | 'placementStrategy'>

/** Where the service's own tasks run, so the one-off task can reach what they reach. */
export function placementOf(service: Service, definition: Record<string, unknown>): Placement {
  const placement: Placement = {}
  if (service.capacityProviderStrategy?.length) placement.capacityProviderStrategy = service.capacityProviderStrategy
  else if (service.launchType) placement.launchType = service.launchType
  if (service.platformVersion) placement.platformVersion = service.platformVersion
  if (definition.networkMode === 'awsvpc') {
    if (!service.networkConfiguration?.awsvpcConfiguration) {
      throw new UserError({ input: 'pre-deploy-command', message: `the task definition uses the awsvpc network mode, but service '${service.serviceName}' has no network configuration to run the task with` })
    }
    placement.networkConfiguration = service.networkConfiguration
  }
  if (service.placementConstraints?.length) placement.placementConstraints = service.placementConstraints
  if (service.placementStrategy?.length && placement.launchType !== 'FARGATE') placement.placementStrategy = service.placementStrategy
  return placement
}

/**
 * `pre-deploy-container`, else the container that gets the new image (the one named like the service
 * when several do); an unknown name is an error that lists the candidates.
 */
function chooseContainer(preDeploy: PreDeployCommand, definition: TaskDefinitionInput, images: ImageChange[], request: DeployRequest): ContainerDefinition {
  const containers = (definition.containerDefinitions ?? []) as ContainerDefinition[]
  const names = containers.map(c => c.name ?? '')
  const byName = (name: string): ContainerDefinition | undefined => containers.find(c => c.name === name)
  if (preDeploy.container) {
    const found = byName(preDeploy.container)
    if (!found) throw new UserError({ input: 'pre-deploy-container', message: `'${preDeploy.container}' is not a container of task definition ${definition.family}; its containers: ${names.join(', ')}` })
    return found
  }
  const targets = images.map(i => i.container).filter(name => byName(name))
  const name = targets.length === 1 ? targets[0] : targets.includes(request.service) ? request.service : targets.length === 0 && names.length === 1 ? names[0] : undefined
  if (!name) {
    throw new UserError({ input: 'pre-deploy-container', message: `cannot tell which container runs pre-deploy-command (${targets.length ? `the new image goes to ${targets.join(', ')}` : 'no container gets a new image'}): set 'pre-deploy-container' to one of ${names.join(', ')}` })
  }
  return byName(name)!
}

/** `deploy-service/<service>/<run id>`: up to 128 letters, digits, '-', '/' and '_', as ECS allows. */
export function startedByOf(request: Pick<DeployRequest, 'service' | 'github'>): string {
  const clean = (text: string): string => text.replace(/[^A-Za-z0-9_-]/g, '-')
  return `deploy-service/${clean(request.service)}/${clean(request.github.runId || 'local')}`.slice(0, 128)
}

function isEssential(definition: TaskDefinition, name: string): boolean {
  return definition.containerDefinitions?.find(c => c.name === name)?.essential !== false
}

function networkText(network: NonNullable<Placement['networkConfiguration']>): string {
  const vpc = network.awsvpcConfiguration
  return `subnets ${(vpc?.subnets ?? []).join(',')}${vpc?.securityGroups?.length ? `, security groups ${vpc.securityGroups.join(',')}` : ''}`
}

/** The log's last lines for a reason, each cut at 500 characters (an event may be 256 KB). */
function tailText(lines: string[]): string {
  const clipped = lines.map(line => (line.length > 500 ? `${line.slice(0, 500)}…` : line))
  return lines.length ? `; the last ${lines.length === 1 ? 'line' : `${lines.length} lines`} of its log:\n${clipped.join('\n')}` : ''
}

function consoleUrl(taskArn: string): string {
  const [, , , region, , rest] = taskArn.split(':')
  const parts = (rest ?? '').split('/')
  const cluster = parts.length === 3 ? parts[1] : 'default'
  return `https://${region}.console.aws.amazon.com/ecs/v2/clusters/${cluster}/tasks/${parts.at(-1)}?region=${region}`
}
