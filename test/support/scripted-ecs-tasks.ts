// One-off tasks for the scripted ECS endpoint (RunTask, a task followed to STOPPED, its exit code and
// stop reason), kept beside scripted-ecs.ts so that file stays about rollouts. Same rules: the ECS API
// reference for shapes, status names and error wording; Node builtins and erasable TypeScript only.
//
// What a task does is chosen by its command override and image, as a tiny shell would run it:
//   the command (argv, or `sh -c <script>`) is read as statements split by ';', '&&' or newlines
//   (outside quotes): `echo <text>` prints a line (100 ms each), `sleep <seconds>` waits, `exit <n>`
//   ends with code n, `trap '<script>' TERM` runs that script when the container gets SIGTERM (and
//   ends with its `exit`, else 143); anything else succeeds silently. The end of the script is exit 0.
//   A shell without a trap dies of SIGTERM at once (exit 143). Each container runs its command: the
//   override for the one overridden, else its definition's `command`; without one, the image's own
//   command, a server that never exits and stops gracefully (exit 0) on SIGTERM.
//   An image tag containing `pullfail`: the image cannot be pulled, the task stops before it runs
//   (TaskFailedToStart, CannotPullContainerError). `nocapacity`: RunTask places no task and says why
//   in failures[] (Fargate: "Capacity is unavailable ...", EC2: RESOURCE:MEMORY or RESOURCE:ENI).
// Lifecycle (ECS task lifecycle): PROVISIONING -> PENDING -> RUNNING -> (STOPPING) -> DEPROVISIONING
// -> STOPPED, desiredStatus STOPPED from the moment the first essential container exits or StopTask is
// called; then every container still running gets SIGTERM, and SIGKILL (exit 137) when it outlives its
// stopTimeout (default 30 s). stopCode EssentialContainerExited, TaskFailedToStart or UserInitiated
// (with StopTask's reason as stoppedReason); POST /_scripted/stop-task {task, stopCode, stoppedReason}
// plays a stop from ECS itself (a Fargate Spot interruption: SpotInterruption, 'Your Spot Task was
// interrupted.'). A non-essential container that exits stops alone (its exitCode shown); the task runs
// on while an essential one does (here: for ever, until StopTask). RunTask's clientToken is idempotent: the same
// request again returns the same tasks; another request with it is a ConflictException. With
// `oneOffVisibleAfterMs`, DescribeTasks answers MISSING for a task that young (eventual consistency).
// Logs: a container whose logConfiguration is awslogs with an `awslogs-endpoint` option (the Docker
// driver's own option for a custom endpoint) has its lines written there (a moto_server) as it prints
// them, to the stream `prefix/container/taskId`, in real time: the log can be read while the task runs.
// What a container prints on its way out (a trap) is sent when it exits, as the driver flushes then;
// DescribeTasks shows the container STOPPED only once its driver has sent every line.
import { randomBytes } from 'node:crypto'
import { EcsError, type EcsState, type Obj } from './scripted-ecs-state.ts'

const PROVISION_MS = 150
const PULL_MS = 250
const LINE_MS = 100
const DEPROVISION_MS = 300
const CAPACITY = 'Capacity is unavailable at this time. Please try again later or in a different availability zone'

const invalid = (message: string) => new EcsError('InvalidParameterException', message)
const clientError = (message: string) => new EcsError('ClientException', message)
const secs = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000)
const last = (s: string, sep: string) => s.slice(s.lastIndexOf(sep) + 1)

interface Line { at: number; text: string }
/** What a container's command does: lines at offsets from its start, how long, its exit; a trap's own. */
export interface Script { lines: Line[]; durationMs: number; exitCode?: number; exited?: boolean; shell: boolean; trap?: Script }
/** One container of a one-off task, in absolute time. */
interface Box {
  name: string; essential: boolean; script: Script; stopTimeoutMs: number
  lines: Line[]; endAt: number; exitCode?: number; reason?: string
  /** Its awslogs driver has sent every line it printed (the driver flushes when the container exits). */
  flushed: boolean
}
interface OneOff {
  id: string; arn: string; cluster: string; taskDef: Obj; input: Obj; container: string
  createdAt: number; pendingAt: number; runningAt?: number; stoppedAt: number
  /** When the task's stop begins (desiredStatus STOPPED): the first essential container's exit, or a stop. */
  exitAt: number
  stopCode: string; stoppedReason: string
  boxes: Box[]; logs?: Promise<unknown>
}

/** The tag of an image reference, '' for digests and untagged images. */
function imageTag(image: string): string {
  if (image.includes('@')) return ''
  const name = last(image, '/')
  return name.includes(':') ? last(name, ':') : ''
}

/** Statements split at ';', '&&' and newlines outside quotes. */
function statements(text: string): string[] {
  const out: string[] = []
  let current = ''
  let quote = ''
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (quote) {
      if (ch === quote) quote = ''
      current += ch
    } else if (ch === '"' || ch === "'") {
      quote = ch
      current += ch
    } else if (ch === ';' || ch === '\n' || (ch === '&' && text[i + 1] === '&')) {
      if (ch === '&') i++
      out.push(current)
      current = ''
    } else current += ch
  }
  out.push(current)
  return out.map((s) => s.trim()).filter(Boolean)
}

/** The statements a command runs, as lines printed at offsets from the start, and its exit. */
export function script(command: string[] | undefined): Script {
  if (!command) return { lines: [], durationMs: Infinity, shell: false }
  const text = command[0] === 'sh' && command[1] === '-c' ? command.slice(2).join(' ') : command.join(' ')
  const lines: Line[] = []
  let at = 0
  let trap: Script | undefined
  for (const statement of statements(text)) {
    const [word, ...rest] = statement.split(/\s+/)
    const arg = rest.join(' ').replace(/^(['"])(.*)\1$/, '$2')
    if (word === 'echo') {
      at += LINE_MS
      lines.push({ at, text: arg })
    } else if (word === 'sleep') {
      at += Number(arg) * 1000
    } else if (word === 'exit') {
      return { lines, durationMs: at + LINE_MS, exitCode: Number(arg) || 0, exited: true, shell: true, trap }
    } else if (word === 'trap') {
      const body = /^(['"])(.*)\1\s+(?:SIG)?TERM$/.exec(rest.join(' '))
      if (body) trap = script(['sh', '-c', body[2]!])
    }
  }
  return { lines, durationMs: at + LINE_MS, exitCode: 0, shell: true, trap }
}

/** SIGTERM to a container still running at `at`: a server stops gracefully, a shell dies or runs its trap, SIGKILL after stopTimeout. */
function sigterm(b: Box, at: number) {
  b.lines = b.lines.filter((l) => l.at <= at)
  const trap = b.script.trap
  if (!b.script.shell || !trap) {
    Object.assign(b, { endAt: at, exitCode: b.script.shell ? 143 : 0 })
    return
  }
  const killAt = at + b.stopTimeoutMs
  b.lines.push(...trap.lines.map((l) => ({ at: at + l.at, text: l.text })).filter((l) => l.at <= killAt))
  b.endAt = Math.min(at + trap.durationMs, killAt)
  b.exitCode = at + trap.durationMs > killAt ? 137 : trap.exited ? trap.exitCode : 143
}

/** Ends the task from `at` on (StopTask, or ECS itself): every container still running gets SIGTERM. */
function stopAt(t: OneOff, at: number, stopCode: string, reason: string) {
  if (at >= t.exitAt) return
  Object.assign(t, { exitAt: at, stopCode, stoppedReason: reason })
  if (t.runningAt === undefined || at < t.runningAt) {
    // Stopped before it ran: no container started, none has an exit code.
    delete t.runningAt
    for (const b of t.boxes) Object.assign(b, { endAt: Math.min(b.endAt, at), exitCode: undefined, lines: [] })
  } else {
    for (const b of t.boxes) if (b.endAt > at) sigterm(b, at)
  }
  t.stoppedAt = Math.max(...t.boxes.map((b) => b.endAt)) + DEPROVISION_MS
}

/** Operations merged into the endpoint's table; `state` is the endpoint's shared, lazily advanced state. */
export interface TaskHooks {
  /** A stop by ECS itself (a Spot interruption): POST /_scripted/stop-task {task, stopCode, stoppedReason}. */
  stopFromEcs?: (input: Obj) => Obj
}

export function taskOperations(state: EcsState, base: Record<string, (input: Obj) => Obj> = {}, hooks: TaskHooks = {}): Record<string, (input: Obj) => Obj> {
  const tasks = new Map<string, OneOff>()
  const tokens = new Map<string, { fingerprint: string; output: Obj }>()
  const arn = (kind: string, rest: string) => state.arn(kind, rest)

  const render = (t: OneOff): Obj => {
    const now = state.clock
    const running = t.runningAt !== undefined && now >= t.runningAt
    const ended = (b: Box) => now >= b.endAt && b.flushed
    const allEnded = t.boxes.every(ended)
    const stopping = now >= t.exitAt
    const lastStatus = allEnded && now >= t.stoppedAt ? 'STOPPED' : stopping ? (allEnded ? 'DEPROVISIONING' : 'STOPPING') : running ? 'RUNNING' : now >= t.pendingAt ? 'PENDING' : 'PROVISIONING'
    const pulled = t.runningAt !== undefined && now >= t.pendingAt + PULL_MS
    const awsvpc = t.taskDef.networkMode === 'awsvpc'
    return {
      taskArn: t.arn, clusterArn: arn('cluster', t.cluster), taskDefinitionArn: t.taskDef.taskDefinitionArn,
      group: t.input.group ?? `family:${t.taskDef.family}`, startedBy: t.input.startedBy, version: 1,
      launchType: t.input.launchType, capacityProviderName: t.input.capacityProviderStrategy?.[0]?.capacityProvider,
      platformVersion: t.input.launchType === 'FARGATE' || t.input.capacityProviderStrategy ? (t.input.platformVersion === 'LATEST' || !t.input.platformVersion ? '1.4.0' : t.input.platformVersion) : undefined,
      cpu: t.taskDef.cpu, memory: t.taskDef.memory, lastStatus, desiredStatus: stopping ? 'STOPPED' : 'RUNNING',
      createdAt: secs(t.createdAt), pullStartedAt: now >= t.pendingAt ? secs(t.pendingAt) : undefined,
      pullStoppedAt: pulled ? secs(t.pendingAt + PULL_MS) : undefined, startedAt: running ? secs(t.runningAt) : undefined,
      executionStoppedAt: stopping && allEnded ? secs(Math.max(...t.boxes.map((b) => b.endAt))) : undefined, stoppingAt: stopping ? secs(t.exitAt) : undefined,
      stoppedAt: lastStatus === 'STOPPED' ? secs(t.stoppedAt) : undefined,
      stopCode: stopping ? t.stopCode : undefined, stoppedReason: stopping ? t.stoppedReason : undefined,
      overrides: { containerOverrides: t.input.overrides?.containerOverrides ?? [], inferenceAcceleratorOverrides: [] },
      attachments: awsvpc ? [{ id: t.id.slice(0, 8), type: 'ElasticNetworkInterface', status: lastStatus === 'STOPPED' ? 'DELETED' : 'ATTACHED', details: [{ name: 'subnetId', value: t.input.networkConfiguration?.awsvpcConfiguration?.subnets?.[0] }] }] : [],
      containers: t.boxes.map((b, i) => {
        const def: Obj = (t.taskDef.containerDefinitions ?? [])[i] ?? {}
        const container: Obj = {
          containerArn: arn('container', `${t.cluster}/${t.id}/${i}`), taskArn: t.arn, name: b.name, image: def.image,
          lastStatus: ended(b) ? 'STOPPED' : running ? 'RUNNING' : 'PENDING', networkInterfaces: [], cpu: String(def.cpu ?? 0)
        }
        if (running) container.runtimeId = `${t.id}-${i}`
        if (ended(b) && t.runningAt !== undefined && b.exitCode !== undefined) container.exitCode = b.exitCode
        if (ended(b) && b.reason) container.reason = b.reason
        return container
      })
    }
  }

  /**
   * Writes a container's lines to its awslogs endpoint (a moto_server) at the moments it prints them,
   * and what it prints on its way out when it exits; then marks it flushed.
   */
  const writeLogs = (t: OneOff, b: Box, def: Obj) => {
    const options = def.logConfiguration?.logDriver === 'awslogs' ? def.logConfiguration.options ?? {} : {}
    const endpoint = options['awslogs-endpoint']
    if (!endpoint || t.runningAt === undefined) return
    b.flushed = false
    const region = options['awslogs-region'] ?? state.region
    const call = (target: string, body: Obj) => fetch(endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `Logs_20140328.${target}`,
        authorization: `AWS4-HMAC-SHA256 Credential=scripted/20260101/${region}/logs/aws4_request, SignedHeaders=host, Signature=0`
      },
      body: JSON.stringify(body)
    })
    const where = { logGroupName: options['awslogs-group'], logStreamName: `${options['awslogs-stream-prefix']}/${def.name}/${t.id}` }
    const wait = (until: number) => new Promise((ok) => setTimeout(ok, Math.max(0, until - Date.now())).unref())
    t.logs = (async () => {
      await wait(t.runningAt!)
      // Stopped before it ran: the driver never started.
      if (t.runningAt === undefined) return
      await call('CreateLogStream', where)
      let written = 0
      for (;;) {
        const now = Date.now()
        // Nothing printed after the container's end reaches the log.
        const due = b.lines.filter((l) => l.at <= Math.min(now, b.endAt))
        for (; written < due.length; written++) {
          await call('PutLogEvents', { ...where, logEvents: [{ timestamp: Math.round(due[written]!.at), message: due[written]!.text }] })
        }
        if (now >= b.endAt) return
        await wait(Math.min(b.endAt, b.lines[written]?.at ?? Infinity, now + 50))
      }
    })().catch(() => undefined).finally(() => { b.flushed = true })
  }

  hooks.stopFromEcs = (input) => {
    const t = tasks.get(last(String(input.task ?? ''), '/'))
    if (!t) throw invalid('The referenced task was not found.')
    stopAt(t, state.clock, String(input.stopCode), String(input.stoppedReason))
    return render(t)
  }

  return {
    RunTask(input) {
      const cluster = state.cluster(input.cluster)
      const td = state.findTaskDef(input.taskDefinition)
      if (!td) throw clientError('TaskDefinition not found.')
      if (td.body.status !== 'ACTIVE') throw clientError('TaskDefinition is inactive')
      const count = input.count ?? 1
      if (!Number.isInteger(count) || count < 1 || count > 10) throw invalid('count must be between 1 and 10.')
      if (input.launchType && input.capacityProviderStrategy?.length) {
        throw invalid('Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.')
      }
      const awsvpc = td.body.networkMode === 'awsvpc'
      if (awsvpc && !input.networkConfiguration?.awsvpcConfiguration?.subnets?.length) {
        throw invalid("Network Configuration must be provided when networkMode 'awsvpc' is specified.")
      }
      if (!awsvpc && input.networkConfiguration) throw invalid('Network Configuration is not valid for the given networkMode of this task definition.')
      if (input.launchType === 'FARGATE' && !(td.body.compatibilities ?? []).includes('FARGATE')) throw clientError('Task definition does not support launch_type FARGATE.')
      if (input.platformVersion && input.launchType === 'EC2') throw invalid('The platform version must be null when specifying an EC2 launch type.')
      if (input.startedBy !== undefined && !/^[A-Za-z0-9_/-]{1,128}$/.test(input.startedBy)) {
        throw invalid('startedBy may contain up to 128 letters (uppercase and lowercase), numbers, hyphens, forward slashes and underscores.')
      }
      const overrides: Obj[] = input.overrides?.containerOverrides ?? []
      if (JSON.stringify(input.overrides ?? {}).length > 8192) throw invalid('Container Overrides length must be at most 8192')
      const defs: Obj[] = td.body.containerDefinitions
      for (const o of overrides) {
        if (!defs.some((c) => c.name === o.name)) throw invalid(`Override for container named ${o.name} is not a container in the TaskDefinition.`)
      }
      if (input.clientToken !== undefined) {
        const token = String(input.clientToken)
        if (token.length > 64) throw invalid('clientToken must be at most 64 characters.')
        const fingerprint = JSON.stringify({ ...input, clientToken: undefined })
        const earlier = tokens.get(token)
        if (earlier && earlier.fingerprint !== fingerprint) {
          throw new EcsError('ConflictException', 'The specified client token is already in use with a different request.')
        }
        if (earlier) return { tasks: earlier.output.tasks.map((t: Obj) => render(tasks.get(last(t.taskArn, '/'))!)), failures: [] }
      }
      const fargate = input.launchType === 'FARGATE' || (input.capacityProviderStrategy ?? []).some((s: Obj) => String(s.capacityProvider).startsWith('FARGATE'))
      if (defs.some((c) => imageTag(c.image).includes('nocapacity'))) {
        const reason = fargate ? CAPACITY : awsvpc ? 'RESOURCE:ENI' : 'RESOURCE:MEMORY'
        const where = fargate ? td.arn : arn('container-instance', `${cluster}/${randomBytes(16).toString('hex')}`)
        return { tasks: [], failures: [{ arn: where, reason }] }
      }
      const started = Array.from({ length: count }, () => {
        const id = randomBytes(16).toString('hex')
        const now = state.clock
        const override = overrides.find((o) => o.command) ?? overrides[0]
        const container = override?.name ?? defs[0]!.name
        const boxes: Box[] = defs.map((c) => ({
          name: c.name, essential: c.essential !== false, stopTimeoutMs: (c.stopTimeout ?? 30) * 1000,
          script: script(c.name === container && override?.command ? override.command : c.command),
          lines: [], endAt: Infinity, flushed: true
        }))
        const badImage = defs.find((c) => imageTag(c.image).includes('pullfail'))
        const t: OneOff = {
          id, arn: arn('task', `${cluster}/${id}`), cluster, taskDef: td.body, input, container, createdAt: now,
          pendingAt: now + PROVISION_MS, exitAt: Infinity, stoppedAt: Infinity, stopCode: '', stoppedReason: '', boxes
        }
        if (badImage) {
          const reason = `CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref ${badImage.image}: not found`
          Object.assign(t, { exitAt: t.pendingAt + 2 * PULL_MS, stopCode: 'TaskFailedToStart', stoppedReason: reason })
          for (const b of boxes) b.endAt = t.exitAt
          boxes.find((b) => b.name === badImage.name)!.reason = reason
        } else {
          const runningAt = t.pendingAt + PULL_MS
          t.runningAt = runningAt
          for (const b of boxes) {
            b.lines = b.script.lines.map((l) => ({ at: runningAt + l.at, text: l.text }))
            b.endAt = runningAt + b.script.durationMs
            b.exitCode = b.script.exitCode
          }
          // The first essential container to exit ends the task; the others get SIGTERM then. A
          // non-essential one that exits stops alone.
          const first = Math.min(...boxes.filter((b) => b.essential).map((b) => b.endAt))
          if (first < Infinity) {
            Object.assign(t, { exitAt: first, stopCode: 'EssentialContainerExited', stoppedReason: 'Essential container in task exited' })
            for (const b of boxes) if (b.endAt > first) sigterm(b, first)
          }
        }
        t.stoppedAt = t.exitAt === Infinity ? Infinity : Math.max(...boxes.map((b) => b.endAt)) + DEPROVISION_MS
        tasks.set(id, t)
        const i = defs.findIndex((c) => c.name === container)
        writeLogs(t, boxes[i]!, defs[i]!)
        return t
      })
      const output = { tasks: started.map(render), failures: [] }
      if (input.clientToken !== undefined) tokens.set(String(input.clientToken), { fingerprint: JSON.stringify({ ...input, clientToken: undefined }), output })
      return output
    },

    StopTask(input) {
      const cluster = state.cluster(input.cluster)
      if (typeof input.task !== 'string' || !input.task) throw invalid('Task must be specified.')
      const t = tasks.get(last(input.task, '/'))
      if (!t || t.cluster !== cluster) {
        if (base.StopTask) return base.StopTask(input)
        throw invalid('The referenced task was not found.')
      }
      // docker stop: SIGTERM to every container still running (a shell running `sleep` dies of it: 128 + 15).
      stopAt(t, state.clock, 'UserInitiated', typeof input.reason === 'string' && input.reason ? input.reason : 'Task stopped by user')
      return { task: render(t) }
    },

    DescribeTasks(input) {
      const cluster = state.cluster(input.cluster)
      const refs = input.tasks
      if (!Array.isArray(refs) || refs.length === 0) throw invalid('Tasks cannot be empty.')
      if (refs.length > 100) throw invalid('Too many tasks were provided. The maximum is 100.')
      const visible = (t: OneOff) => t.cluster === cluster && state.clock >= t.createdAt + state.oneOffVisibleAfterMs
      const mine = refs.map((r) => tasks.get(last(String(r), '/'))).map((t) => (t && visible(t) ? t : undefined))
      const others = refs.filter((_r, i) => !mine[i])
      const rest = others.length && base.DescribeTasks ? base.DescribeTasks({ ...input, tasks: others }) : { tasks: [], failures: others.map((r) => ({ arn: String(r), reason: 'MISSING' })) }
      return { tasks: [...mine.filter((t) => t !== undefined).map(render), ...rest.tasks], failures: rest.failures }
    },

    // A service's tasks run in its network and on its capacity: ECS describes both. The rollout
    // endpoint leaves them out, so an awsvpc service gets a network configuration here, and a Fargate
    // service its platform version, as ECS would show them.
    DescribeServices(input) {
      const output = base.DescribeServices ? base.DescribeServices(input) : { services: [], failures: [] }
      for (const service of output.services ?? []) {
        const td = state.findTaskDef(service.taskDefinition)?.body ?? {}
        if (td.networkMode === 'awsvpc' && !service.networkConfiguration) {
          service.networkConfiguration = { awsvpcConfiguration: { subnets: ['subnet-0a1b2c3d4e5f60001', 'subnet-0a1b2c3d4e5f60002'], securityGroups: ['sg-0a1b2c3d4e5f60001'], assignPublicIp: 'DISABLED' } }
        }
        if (service.launchType === 'FARGATE' && !service.platformVersion) Object.assign(service, { platformVersion: 'LATEST', platformFamily: 'Linux' })
      }
      return output
    }
  }
}
