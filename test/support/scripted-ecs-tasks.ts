// One-off tasks for the scripted ECS endpoint (RunTask, a task followed to STOPPED, its exit code and
// stop reason), kept beside scripted-ecs.ts so that file stays about rollouts. Same rules: the ECS API
// reference for shapes, status names and error wording; Node builtins and erasable TypeScript only.
//
// What a task does is chosen by its command override and image, as a tiny shell would run it:
//   the command (argv, or `sh -c <script>`) is read as statements split by ';', '&&' or newlines:
//   `echo <text>` prints a line (100 ms each), `sleep <seconds>` waits, `exit <n>` ends with code n;
//   anything else succeeds silently. The end of the script is exit 0. No command override: the
//   image's own command, a server that never exits.
//   An image tag containing `pullfail`: the image cannot be pulled, the task stops before it runs
//   (TaskFailedToStart, CannotPullContainerError). `nocapacity`: RunTask places no task and says why
//   in failures[] (Fargate: "Capacity is unavailable ...", EC2: RESOURCE:MEMORY or RESOURCE:ENI).
// Lifecycle (ECS task lifecycle): PROVISIONING -> PENDING -> RUNNING -> DEPROVISIONING -> STOPPED,
// desiredStatus STOPPED from the moment the essential container exits or StopTask is called; stopCode
// EssentialContainerExited, TaskFailedToStart or UserInitiated (with StopTask's reason as stoppedReason).
// A non-essential container that exits stops alone (its exitCode shown); the task runs on while an
// essential one does (here: for ever, until StopTask). RunTask's clientToken is idempotent: the same
// request again returns the same tasks; another request with it is a ConflictException.
// Logs: a container whose logConfiguration is awslogs with an `awslogs-endpoint` option (the Docker
// driver's own option for a custom endpoint) has its lines written there (a moto_server) as it prints
// them, to the stream `prefix/container/taskId`, in real time: the log can be read while the task runs.
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
interface OneOff {
  id: string; arn: string; cluster: string; taskDef: Obj; input: Obj; container: string
  createdAt: number; pendingAt: number; runningAt?: number; stoppedAt: number
  /** When the command's container exits; the task ends with it (exitAt) only if that container is essential. */
  doneAt: number; exitAt: number
  exitCode?: number; stopCode: string; stoppedReason: string; containerReason?: string
  lines: Line[]; logs?: Promise<unknown>
}

/** The tag of an image reference, '' for digests and untagged images. */
function imageTag(image: string): string {
  if (image.includes('@')) return ''
  const name = last(image, '/')
  return name.includes(':') ? last(name, ':') : ''
}

/** The statements a command runs, as lines printed at offsets from the start, and its exit. */
export function script(command: string[] | undefined): { lines: Line[]; durationMs: number; exitCode?: number } {
  if (!command) return { lines: [], durationMs: Infinity }
  const text = command[0] === 'sh' && command[1] === '-c' ? command.slice(2).join(' ') : command.join(' ')
  const lines: Line[] = []
  let at = 0
  for (const statement of text.split(/;|&&|\n/).map((s) => s.trim()).filter(Boolean)) {
    const [word, ...rest] = statement.split(/\s+/)
    const arg = rest.join(' ').replace(/^(['"])(.*)\1$/, '$2')
    if (word === 'echo') {
      at += LINE_MS
      lines.push({ at, text: arg })
    } else if (word === 'sleep') {
      at += Number(arg) * 1000
    } else if (word === 'exit') {
      return { lines, durationMs: at + LINE_MS, exitCode: Number(arg) || 0 }
    }
  }
  return { lines, durationMs: at + LINE_MS, exitCode: 0 }
}

/** Operations merged into the endpoint's table; `state` is the endpoint's shared, lazily advanced state. */
export function taskOperations(state: EcsState, base: Record<string, (input: Obj) => Obj> = {}): Record<string, (input: Obj) => Obj> {
  const tasks = new Map<string, OneOff>()
  const tokens = new Map<string, { fingerprint: string; output: Obj }>()
  const arn = (kind: string, rest: string) => state.arn(kind, rest)

  const render = (t: OneOff): Obj => {
    const now = state.clock
    const running = t.runningAt !== undefined && now >= t.runningAt
    const exited = now >= t.exitAt
    const lastStatus = now >= t.stoppedAt ? 'STOPPED' : exited ? 'DEPROVISIONING' : running ? 'RUNNING' : now >= t.pendingAt ? 'PENDING' : 'PROVISIONING'
    const defs: Obj[] = t.taskDef.containerDefinitions ?? []
    const pulled = t.runningAt !== undefined && now >= t.pendingAt + PULL_MS
    const awsvpc = t.taskDef.networkMode === 'awsvpc'
    return {
      taskArn: t.arn, clusterArn: arn('cluster', t.cluster), taskDefinitionArn: t.taskDef.taskDefinitionArn,
      group: t.input.group ?? `family:${t.taskDef.family}`, startedBy: t.input.startedBy, version: 1,
      launchType: t.input.launchType, capacityProviderName: t.input.capacityProviderStrategy?.[0]?.capacityProvider,
      platformVersion: t.input.launchType === 'FARGATE' || t.input.capacityProviderStrategy ? (t.input.platformVersion === 'LATEST' || !t.input.platformVersion ? '1.4.0' : t.input.platformVersion) : undefined,
      cpu: t.taskDef.cpu, memory: t.taskDef.memory, lastStatus, desiredStatus: exited ? 'STOPPED' : 'RUNNING',
      createdAt: secs(t.createdAt), pullStartedAt: now >= t.pendingAt ? secs(t.pendingAt) : undefined,
      pullStoppedAt: pulled ? secs(t.pendingAt + PULL_MS) : undefined, startedAt: running ? secs(t.runningAt) : undefined,
      executionStoppedAt: exited ? secs(t.exitAt) : undefined, stoppingAt: exited ? secs(t.exitAt) : undefined,
      stoppedAt: lastStatus === 'STOPPED' ? secs(t.stoppedAt) : undefined,
      stopCode: exited ? t.stopCode : undefined, stoppedReason: exited ? t.stoppedReason : undefined,
      overrides: { containerOverrides: t.input.overrides?.containerOverrides ?? [], inferenceAcceleratorOverrides: [] },
      attachments: awsvpc ? [{ id: t.id.slice(0, 8), type: 'ElasticNetworkInterface', status: lastStatus === 'STOPPED' ? 'DELETED' : 'ATTACHED', details: [{ name: 'subnetId', value: t.input.networkConfiguration?.awsvpcConfiguration?.subnets?.[0] }] }] : [],
      containers: defs.map((c, i) => {
        const container: Obj = {
          containerArn: arn('container', `${t.cluster}/${t.id}/${i}`), taskArn: t.arn, name: c.name, image: c.image,
          lastStatus: exited ? 'STOPPED' : running ? 'RUNNING' : 'PENDING', networkInterfaces: [], cpu: String(c.cpu ?? 0)
        }
        if (running) container.runtimeId = `${t.id}-${i}`
        const done = c.name === t.container ? now >= Math.min(t.doneAt, t.exitAt) : exited
        if (done) container.lastStatus = 'STOPPED'
        if (done && t.runningAt !== undefined) container.exitCode = c.name === t.container ? t.exitCode : 0
        if (done && c.name === t.container && t.containerReason) container.reason = t.containerReason
        return container
      })
    }
  }

  /** Writes the task's lines to its awslogs endpoint (a moto_server) at the moments it prints them. */
  const writeLogs = (t: OneOff, def: Obj) => {
    const options = def.logConfiguration?.logDriver === 'awslogs' ? def.logConfiguration.options ?? {} : {}
    const endpoint = options['awslogs-endpoint']
    if (!endpoint || t.runningAt === undefined) return
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
      await call('CreateLogStream', where)
      for (const line of t.lines) {
        await wait(line.at)
        // A task stopped early (StopTask) prints nothing after its stop.
        if (line.at > Math.min(t.doneAt, t.exitAt)) return
        await call('PutLogEvents', { ...where, logEvents: [{ timestamp: line.at, message: line.text }] })
      }
    })().catch(() => undefined)
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
        const run = script(override?.command)
        const badImage = defs.find((c) => imageTag(c.image).includes('pullfail'))
        const t: OneOff = {
          id, arn: arn('task', `${cluster}/${id}`), cluster, taskDef: td.body, input, container, createdAt: now,
          pendingAt: now + PROVISION_MS, doneAt: Infinity, exitAt: Infinity, stoppedAt: Infinity, stopCode: '', stoppedReason: '', lines: []
        }
        if (badImage) {
          const reason = `CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref ${badImage.image}: not found`
          Object.assign(t, { doneAt: t.pendingAt + 2 * PULL_MS, exitAt: t.pendingAt + 2 * PULL_MS, stopCode: 'TaskFailedToStart', stoppedReason: reason })
          if (badImage.name === container) t.containerReason = reason
        } else {
          t.runningAt = t.pendingAt + PULL_MS
          t.lines = run.lines.map((l) => ({ at: t.runningAt! + l.at, text: l.text }))
          t.doneAt = t.runningAt + run.durationMs
          // A non-essential container that exits leaves the task running while an essential one runs on.
          const essential = (c: Obj | undefined) => c?.essential !== false
          const others = defs.filter((c) => c.name !== container)
          t.exitAt = essential(defs.find((c) => c.name === container)) || !others.some(essential) ? t.doneAt : Infinity
          t.exitCode = run.exitCode
          Object.assign(t, { stopCode: 'EssentialContainerExited', stoppedReason: 'Essential container in task exited' })
        }
        t.stoppedAt = t.exitAt + DEPROVISION_MS
        tasks.set(id, t)
        writeLogs(t, defs.find((c) => c.name === container) ?? {})
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
      const now = state.clock
      if (now < t.exitAt) {
        // docker stop: SIGTERM, which a shell running `sleep` dies of (128 + 15).
        t.exitAt = now
        t.stoppedAt = now + DEPROVISION_MS
        t.stopCode = 'UserInitiated'
        t.stoppedReason = typeof input.reason === 'string' && input.reason ? input.reason : 'Task stopped by user'
        if (now < t.doneAt) {
          t.doneAt = now
          if (t.runningAt !== undefined && now >= t.runningAt) t.exitCode = 143
          else delete t.runningAt
        }
      }
      return { task: render(t) }
    },

    DescribeTasks(input) {
      const cluster = state.cluster(input.cluster)
      const refs = input.tasks
      if (!Array.isArray(refs) || refs.length === 0) throw invalid('Tasks cannot be empty.')
      if (refs.length > 100) throw invalid('Too many tasks were provided. The maximum is 100.')
      const mine = refs.map((r) => tasks.get(last(String(r), '/'))).map((t) => (t && t.cluster === cluster ? t : undefined))
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
