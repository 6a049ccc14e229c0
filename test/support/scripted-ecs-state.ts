// The scripted ECS endpoint's model: services, deployments, tasks and task definitions, and the
// rules that advance them (see scripted-ecs.ts for what it plays and why). One state machine, kept in one
// file on purpose: its rules refer to each other throughout.
import { randomBytes, randomInt, randomUUID } from 'node:crypto'
import { ServiceDeployments, type ServiceDeploymentOptions } from './scripted-ecs-deployments.ts'
import { earlySuccessPlay } from './scripted-ecs-early.ts'
import { expressRecord, type ExpressRecord, type ExpressSeed } from './scripted-ecs-express.ts'

export interface ScriptedEcsOptions {
  port?: number
  region?: string
  settleMs?: number
  failAfterMs?: number
  circuitBreakerRollback?: boolean
  throttle?: { operations?: string[]; count: number }
  /** 5xx answers; `fromMs`: only to requests this long after the server started; `afterRunning`: the request is carried out first (a lost answer). */
  serverErrors?: { operations?: string[]; count: number; fromMs?: number; afterRunning?: boolean }
  /** Requests of these operations are refused with AccessDeniedException (an IAM policy without them). */
  deny?: { operations: string[] }
  /**
   * Task definitions registered before the server started, after the services' own: each its
   * RegisterTaskDefinition input (tags included) and how long ago it was registered (registeredAt).
   */
  taskDefinitions?: (Record<string, unknown> & { ageMs?: number })[]
  /** Requests of these operations are read and never answered (a black-holed call); recorded with status 0. */
  hang?: { operations: string[] }
  rolloutState?: boolean
  /** `dies`: how long each task runs before its essential container exits. */
  taskLifeMs?: number
  /**
   * DescribeTasks does not show a task RunTask started until this long after (ECS's eventual
   * consistency: MISSING meanwhile); StopTask knows it at once. Default 0.
   */
  oneOffVisibleAfterMs?: number
  /**
   * A healthy rolling update completes this long after its last new task started: the old tasks
   * draining behind a load balancer (its deregistration delay, 300 s by default). Default 0.
   */
  drainMs?: number
  services?: SeedService[]
  /** Service deployments and strategies (scripted-ecs-deployments.ts): time scale, late appearance, IAM denial. */
  serviceDeployments?: ServiceDeploymentOptions
  /**
   * Someone else at work: called after each request the action made was carried out (its answer
   * already made, not yet sent), with `send` to make calls of another client at that very moment (a
   * hotfix that lands while a migration runs or just before a timeout). Those calls are not recorded.
   */
  afterCall?: (call: { operation: string; input: Obj }, send: (operation: string, input: Obj) => Obj) => void
}
export interface SeedService {
  cluster?: string
  name: string
  desiredCount?: number
  status?: 'ACTIVE' | 'DRAINING' | 'INACTIVE'
  /** deploymentConfiguration.deploymentCircuitBreaker; by default on, rollback as the server options say. */
  circuitBreaker?: { enable: boolean; rollback: boolean }
  /** More of deploymentConfiguration: strategy, bakeTimeInMinutes, lifecycleHooks, alarms, linear/canary configuration. */
  deploymentConfiguration?: Record<string, unknown>
  taskDefinition: Record<string, unknown>
  /** An ECS Express service (resourceManagementType ECS): its endpoint and first configuration (scripted-ecs-express.ts). */
  express?: ExpressSeed
}
export interface RecordedCall { at: number; operation: string; input: unknown; status: number }
export interface ScriptedEcs {
  endpoint: string
  calls: RecordedCall[]
  settledAt(deploymentId: string): number | undefined
  close(): Promise<void>
}

export type Obj = Record<string, any>
export type Scenario = 'healthy' | 'crash' | 'pullfail' | 'unhealthy' | 'vanish' | 'never' | 'dies'
export type Tag = { key: string; value?: string }

export interface TaskDef { arn: string; family: string; revision: number; body: Obj }
export interface Deployment {
  id: string; taskDef: string; desiredCount: number; status: 'PRIMARY' | 'ACTIVE' | 'INACTIVE'
  rolloutState: 'IN_PROGRESS' | 'COMPLETED' | 'FAILED'; reason?: string; noReason?: boolean
  failedTasks: number; createdAt: number; updatedAt: number; scenario: Scenario
  /** A task of it reached RUNNING and stayed: failedTasks is no longer counted. */
  ran?: boolean
  /** COMPLETED by early success criteria: ECS goes on scaling it (and draining the old tasks) in the background. */
  background?: boolean
}
export interface Task {
  arn: string; id: string; service: Service; deploymentId: string; taskDef: string
  lastStatus: 'RUNNING' | 'STOPPED'; createdAt: number; startedAt?: number; stoppedAt?: number
  stoppedReason?: string; stopCode?: string; containers: Obj[]
}
export interface Service {
  name: string; cluster: string; arn: string; status: string; desiredCount: number; taskDef: string
  lastGood: string; lastGoodDeployment?: { id: string; createdAt: number }
  deployments: Deployment[]; events: Obj[]; tasks: Task[]; createdAt: number
  launchType: string; deploymentConfiguration: Obj
  /** Express services only: what scripted-ecs-express.ts keeps of them. */
  express?: ExpressRecord
}

export const PREFIX = 'AmazonEC2ContainerServiceV20141113.'
export const ACCOUNT = '123456789012'
export const FAILED_TO_START = 'ECS deployment circuit breaker: tasks failed to start.'

export class EcsError extends Error {
  code: string
  status: number
  constructor(code: string, message: string, status = 400) {
    super(message)
    this.code = code
    this.status = status
  }
}
export const invalid = (message: string) => new EcsError('InvalidParameterException', message)
export const clientError = (message: string) => new EcsError('ClientException', message)
export const secs = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000)
export const last = (s: string, sep: string) => s.slice(s.lastIndexOf(sep) + 1)
export const taskIdOf = (arn: string) => last(arn, '/')
export const taskList = (tasks: { id: string }[]) => tasks.map((t) => `(task ${t.id})`).join(' ')

/** The tag of an image reference (`repo/name:tag`), '' for digests and untagged images. */
export function imageTag(image: string): string {
  if (image.includes('@')) return ''
  const name = last(image, '/')
  return name.includes(':') ? last(name, ':') : ''
}

export function defaultSeed(): SeedService[] {
  return [{
    name: 'web',
    desiredCount: 2,
    taskDefinition: {
      family: 'web', networkMode: 'awsvpc', requiresCompatibilities: ['FARGATE'], cpu: '256', memory: '512',
      executionRoleArn: `arn:aws:iam::${ACCOUNT}:role/ecsTaskExecutionRole`,
      containerDefinitions: [
        { name: 'web', image: 'registry.example/web:1.0.0', essential: true, portMappings: [{ containerPort: 8080 }] },
        { name: 'log-router', image: 'registry.example/fluent-bit:2', essential: true, firelensConfiguration: { type: 'fluentbit' } }
      ]
    }
  }]
}

/** All state of one server: task definitions, clusters, services with their deployments and tasks. */
export class EcsState {
  region: string; settleMs: number; failAfterMs: number; rollback: boolean; rolloutState: boolean; taskLifeMs: number; drainMs: number; oneOffVisibleAfterMs: number
  clock = Date.now()
  clusters = new Set<string>()
  families = new Map<string, TaskDef[]>()
  services: Service[] = []
  tags = new Map<string, Tag[]>()
  settled = new Map<string, number>()
  /** The service deployments that UpdateService starts, and the strategies they play. */
  sd: ServiceDeployments
  private queue: { at: number; seq: number; run: () => void }[] = []
  private seq = 0

  constructor(o: ScriptedEcsOptions) {
    this.region = o.region ?? 'us-east-1'
    this.settleMs = o.settleMs ?? 3000
    this.failAfterMs = o.failAfterMs ?? 2000
    this.rolloutState = o.rolloutState ?? true
    this.rollback = o.circuitBreakerRollback ?? true
    this.taskLifeMs = o.taskLifeMs ?? 1000
    this.oneOffVisibleAfterMs = o.oneOffVisibleAfterMs ?? 0
    this.drainMs = o.drainMs ?? 0
    this.sd = new ServiceDeployments(this, o.serviceDeployments)
    for (const seed of o.services ?? defaultSeed()) this.seed(seed)
    for (const { ageMs, ...input } of o.taskDefinitions ?? []) this.register(input, this.clock - (ageMs ?? 0))
  }

  arn(kind: string, rest: string) { return `arn:aws:ecs:${this.region}:${ACCOUNT}:${kind}/${rest}` }

  // ---- time ----
  at(at: number, run: () => void) { this.queue.push({ at, seq: this.seq++, run }) }
  advance(to: number) {
    for (;;) {
      const due = this.queue.filter((a) => a.at <= to).sort((a, b) => a.at - b.at || a.seq - b.seq)[0]
      if (!due) break
      this.queue.splice(this.queue.indexOf(due), 1)
      this.clock = Math.max(this.clock, due.at)
      due.run()
    }
    this.clock = Math.max(this.clock, to)
  }

  // ---- seeding ----
  seed(s: SeedService) {
    const cluster = s.cluster ?? 'default'
    this.clusters.add(cluster)
    const t0 = this.clock - 86_400_000
    // Registered when the service was created, a day ago.
    const td = this.register(s.taskDefinition, t0).taskDefinition
    const status = s.status ?? 'ACTIVE'
    const desired = status === 'ACTIVE' ? s.desiredCount ?? 2 : 0
    const fargate = (td.requiresCompatibilities ?? []).includes('FARGATE')
    const svc: Service = {
      name: s.name, cluster, arn: this.arn('service', `${cluster}/${s.name}`), status, desiredCount: desired,
      taskDef: td.taskDefinitionArn, lastGood: td.taskDefinitionArn, deployments: [], events: [], tasks: [],
      createdAt: t0, launchType: fargate ? 'FARGATE' : 'EC2',
      deploymentConfiguration: {
        deploymentCircuitBreaker: s.circuitBreaker
          ? { ...s.circuitBreaker }
          : { enable: this.rolloutState, rollback: this.rolloutState && this.rollback },
        maximumPercent: 200, minimumHealthyPercent: 100, strategy: 'ROLLING', ...s.deploymentConfiguration
      }
    }
    if (s.express) svc.express = expressRecord(this, svc, s.express, td)
    this.services.push(svc)
    if (status === 'INACTIVE') return
    const d = this.newDeployment(svc, td.taskDefinitionArn, t0, 'healthy')
    d.rolloutState = 'COMPLETED'
    d.reason = `ECS deployment ${d.id} completed.`
    d.ran = true
    svc.lastGoodDeployment = { id: d.id, createdAt: d.createdAt }
    this.sd.seeded(svc, d)
    this.startTasks(svc, d, desired, t0, false)
    this.event(svc, `(service ${svc.name}) has reached a steady state.`, t0)
  }

  // ---- task definitions ----
  register(input: Obj, at = this.clock) {
    const family = input.family
    if (typeof family !== 'string' || !family) throw clientError('Family must not be null or empty.')
    if (!/^[A-Za-z0-9_-]{1,255}$/.test(family)) {
      throw clientError(`Invalid family name: ${family}. Up to 255 letters, numbers, hyphens and underscores are allowed.`)
    }
    const defs = input.containerDefinitions
    if (!Array.isArray(defs) || defs.length === 0) throw clientError('Container list cannot be empty.')
    const names = new Set<string>()
    for (const c of defs) {
      if (typeof c?.name !== 'string' || !c.name) throw clientError('Container.name should not be null or empty.')
      if (typeof c.image !== 'string' || !c.image) throw clientError('Container.image should not be null or empty.')
      if (names.has(c.name)) throw clientError(`Duplicate container name: ${c.name}.`)
      names.add(c.name)
    }
    const tags = this.checkTags(input.tags ?? [])
    const revisions = this.families.get(family) ?? []
    const revision = revisions.length + 1
    const arn = this.arn('task-definition', `${family}:${revision}`)
    const { tags: _ignored, ...rest } = input
    const awsvpc = input.networkMode === 'awsvpc'
    const body: Obj = {
      ...rest, taskDefinitionArn: arn, revision, status: 'ACTIVE', volumes: input.volumes ?? [],
      placementConstraints: input.placementConstraints ?? [],
      containerDefinitions: defs.map((c: Obj) => ({
        cpu: 0, essential: true, environment: [], mountPoints: [], volumesFrom: [], ...c,
        portMappings: (c.portMappings ?? []).map((p: Obj) => ({ hostPort: awsvpc ? p.containerPort : 0, protocol: 'tcp', ...p }))
      })),
      requiresAttributes: [
        { name: 'com.amazonaws.ecs.capability.docker-remote-api.1.18' },
        ...(awsvpc ? [{ name: 'ecs.capability.task-eni' }] : [])
      ],
      compatibilities: awsvpc && input.cpu && input.memory ? ['EC2', 'FARGATE'] : ['EC2'],
      registeredAt: secs(at), registeredBy: `arn:aws:iam::${ACCOUNT}:user/scripted-ecs`
    }
    revisions.push({ arn, family, revision, body })
    this.families.set(family, revisions)
    if (tags.length) this.tags.set(arn, tags)
    return { taskDefinition: body, tags }
  }

  /** An ARN, `family:revision` or `family` (its latest ACTIVE revision); undefined when unknown. */
  findTaskDef(ref: unknown): TaskDef | undefined {
    if (typeof ref !== 'string' || !ref) return undefined
    if (ref.startsWith('arn:') && !ref.includes(':task-definition/')) return undefined
    const name = ref.startsWith('arn:') ? last(ref, '/') : ref
    const [family, rev] = name.split(':')
    const revisions = this.families.get(family ?? '') ?? []
    if (rev === undefined) return revisions.filter((t) => t.body.status === 'ACTIVE').at(-1)
    return revisions.find((t) => String(t.revision) === rev)
  }

  scenarioOf(taskDefArn: string): Scenario {
    const tags = (this.findTaskDef(taskDefArn)?.body.containerDefinitions ?? []).map((c: Obj) => imageTag(c.image))
    const found = (['crash', 'pullfail', 'unhealthy', 'vanish', 'never', 'dies'] as const).find((s) => tags.some((t: string) => t.includes(s)))
    return found ?? 'healthy'
  }

  checkTags(tags: unknown): Tag[] {
    if (!Array.isArray(tags)) throw invalid('Tags must be a list.')
    for (const t of tags) if (typeof t?.key !== 'string' || !t.key) throw invalid('Tag keys must not be empty.')
    return tags as Tag[]
  }

  // ---- clusters and services ----
  cluster(ref: unknown): string {
    const name = typeof ref === 'string' && ref ? last(ref, '/') : 'default'
    if (!this.clusters.has(name)) throw new EcsError('ClusterNotFoundException', 'Cluster not found.')
    return name
  }
  findService(cluster: string, ref: unknown): Service | undefined {
    const name = typeof ref === 'string' ? last(ref, '/') : ''
    return this.services.find((s) => s.cluster === cluster && s.name === name)
  }

  event(svc: Service, message: string, at = this.clock) {
    svc.events.unshift({ id: randomUUID(), createdAt: at, message })
    svc.events.length = Math.min(svc.events.length, 100)
  }

  // ---- rollouts ----
  /** A new PRIMARY deployment; `revive` puts an earlier one back under its own id (the breaker's rollback). */
  newDeployment(svc: Service, taskDef: string, t0: number, scenario: Scenario, revive?: { id: string; createdAt: number }): Deployment {
    for (const d of svc.deployments) if (d.status === 'PRIMARY') d.status = 'ACTIVE'
    const id = revive?.id ?? `ecs-svc/${randomInt(1, 10)}${Array.from({ length: 18 }, () => randomInt(10)).join('')}`
    const d: Deployment = {
      id, taskDef, desiredCount: svc.desiredCount, status: 'PRIMARY', rolloutState: 'IN_PROGRESS',
      failedTasks: 0, createdAt: revive?.createdAt ?? t0, updatedAt: t0, scenario: svc.desiredCount === 0 ? 'healthy' : scenario
    }
    svc.deployments = svc.deployments.filter((x) => x.id !== id)
    svc.deployments.unshift(d)
    svc.taskDef = taskDef
    return d
  }

  /** Starts a deployment at t0 and schedules what it will do. */
  deploy(svc: Service, taskDef: string, t0: number, scenario: Scenario, options: { noReason?: boolean; revive?: { id: string; createdAt: number }; reason?: string; ecsRollback?: boolean } = {}): Deployment {
    const d = this.newDeployment(svc, taskDef, t0, scenario, options.revive)
    d.noReason = options.noReason ?? false
    d.reason = options.reason
    // ECS's own rollbacks happen inside the service deployment that failed; blue/green, linear and canary play there.
    if (!options.revive && !options.ecsRollback && this.sd.started(svc, d, t0)) return d
    const live = () => d.status === 'PRIMARY' && d.rolloutState === 'IN_PROGRESS'
    const running = () => svc.tasks.filter((t) => t.lastStatus === 'RUNNING' && t.deploymentId === d.id).length
    const n = d.desiredCount
    const { settleMs: S, failAfterMs: F } = this
    const breaker = svc.deploymentConfiguration.deploymentCircuitBreaker?.enable === true || d.scenario === 'vanish'
    if (d.scenario === 'healthy') {
      // Early success criteria (scripted-ecs-early.ts): COMPLETED before the rollout's end, which goes on in the background.
      const early = options.revive ? undefined : earlySuccessPlay(this, svc, d)
      const rolling = () => live() || (d.background === true && d.status === 'PRIMARY')
      const deferred = svc.deploymentConfiguration.earlySuccessCriteria?.sourceServiceRevisionCleanup === 'DEFERRED'
      if (early) this.at(t0, () => early(running()))
      for (let i = 1; i <= n; i++) {
        this.at(t0 + (S * i) / (n + 1), () => {
          if (!rolling()) return
          // A revived deployment may still run its tasks: it only tops them up.
          if (running() < n) this.startTasks(svc, d, 1, this.clock)
          d.ran = true
          d.updatedAt = this.clock
          const old = svc.tasks.find((t) => t.lastStatus === 'RUNNING' && t.deploymentId !== d.id)
          // DEFERRED: the old revision's tasks stay until the background work ends.
          if (old && !(early && deferred)) this.stopTasks(svc, [old], d)
          early?.(running())
        })
      }
      this.at(t0 + S + this.drainMs, () => rolling() && this.complete(svc, d))
    } else if (d.scenario === 'never') {
      const message = `(service ${svc.name}) was unable to place a task because no container instance met all of its requirements.`
      this.at(t0 + F, () => live() && this.event(svc, message))
    } else if (d.scenario === 'dies') {
      // Tasks that run a while and then exit: they reached RUNNING, so failedTasks stays 0 and the
      // breaker (which counts failures to start) never fires; ECS replaces them for ever.
      const generation = () => {
        if (!live()) return
        const tasks = Array.from({ length: n }, () => this.newTask(svc, d, this.clock))
        this.event(svc, `(service ${svc.name}) has started ${tasks.length} tasks: ${taskList(tasks)}.`)
        d.ran = true
        d.failedTasks = 0
        d.updatedAt = this.clock
        this.at(this.clock + this.taskLifeMs, () => {
          if (!live()) return
          for (const t of tasks) if (t.lastStatus === 'RUNNING') this.crash(t)
          generation()
        })
      }
      this.at(t0 + S / (n + 1), generation)
    } else {
      const attempt = (k: number) => () => {
        if (!live()) return
        this.failTasks(svc, d)
        if (!breaker || (k + 1) * (F / 3) < F) this.at(t0 + (k + 1) * (F / 3), attempt(k + 1))
      }
      this.at(t0 + F / 3, attempt(1))
      if (breaker) this.at(t0 + F, () => live() && (d.scenario === 'vanish' ? this.vanish(svc, d) : this.fail(svc, d)))
    }
    return d
  }

  /** Makes d run exactly its desiredCount tasks, and nothing else run. */
  reconcile(svc: Service, d: Deployment) {
    const running = () => svc.tasks.filter((t) => t.lastStatus === 'RUNNING' && t.deploymentId === d.id)
    if (running().length < d.desiredCount) this.startTasks(svc, d, d.desiredCount - running().length, this.clock)
    const extra = running().slice(d.desiredCount)
    const others = svc.tasks.filter((t) => t.lastStatus === 'RUNNING' && t.deploymentId !== d.id)
    if (extra.length + others.length) this.stopTasks(svc, [...others, ...extra], d)
  }

  complete(svc: Service, d: Deployment) {
    this.reconcile(svc, d)
    for (const old of svc.deployments) if (old !== d) this.retire(old)
    svc.deployments = [d]
    d.rolloutState = 'COMPLETED'
    d.reason = `ECS deployment ${d.id} completed.`
    d.updatedAt = this.clock
    svc.lastGood = d.taskDef
    svc.lastGoodDeployment = { id: d.id, createdAt: d.createdAt }
    // After an early success the verdict came before: this is only the background work's end.
    if (!d.background) {
      this.settled.set(d.id, this.clock)
      this.event(svc, `(service ${svc.name}) (deployment ${d.id}) deployment completed.`)
    }
    d.background = false
    this.event(svc, `(service ${svc.name}) has reached a steady state.`)
    this.sd.completed(d)
  }

  fail(svc: Service, d: Deployment) {
    d.rolloutState = 'FAILED'
    d.reason = FAILED_TO_START
    d.updatedAt = this.clock
    this.settled.set(d.id, this.clock)
    this.event(svc, `(service ${svc.name}) (deployment ${d.id}) deployment failed: tasks failed to start.`)
    const back = svc.lastGoodDeployment
    // ECS rolls back to the last COMPLETED deployment; without one the deployment just stalls.
    if (!svc.deploymentConfiguration.deploymentCircuitBreaker?.rollback || !back) return this.sd.breakerFailed(d, undefined)
    this.event(svc, `(service ${svc.name}) (deployment ${d.id}) rolling back to deployment ${back.id} (taskDefinition ${svc.lastGood}).`)
    const revived = this.deploy(svc, svc.lastGood, this.clock, 'healthy', {
      revive: back,
      reason: `ECS deployment circuit breaker: rolling back to deploymentId ${back.id}.`
    })
    this.sd.breakerFailed(d, revived)
  }

  vanish(svc: Service, d: Deployment) {
    this.retire(d)
    svc.deployments = svc.deployments.filter((x) => x !== d)
    this.sd.breakerFailed(d, this.deploy(svc, svc.lastGood, this.clock, 'healthy', { noReason: true, ecsRollback: true }))
  }

  /** Takes a deployment out of the service: it settles now, unless it already had (COMPLETED or FAILED). */
  retire(d: Deployment) {
    d.status = 'INACTIVE'
    if (!this.settled.has(d.id)) this.settled.set(d.id, this.clock)
  }

  newTask(svc: Service, d: Deployment, at: number): Task {
    const id = randomBytes(16).toString('hex')
    const arn = this.arn('task', `${svc.cluster}/${id}`)
    const defs = this.findTaskDef(d.taskDef)?.body.containerDefinitions ?? []
    const task: Task = {
      arn, id, service: svc, deploymentId: d.id, taskDef: d.taskDef, lastStatus: 'RUNNING', createdAt: at, startedAt: at,
      containers: defs.map((c: Obj) => ({
        containerArn: this.arn('container', `${svc.cluster}/${id}/${randomUUID()}`), taskArn: arn,
        name: c.name, image: c.image, lastStatus: 'RUNNING'
      }))
    }
    svc.tasks.push(task)
    return task
  }

  startTasks(svc: Service, d: Deployment, count: number, at: number, announce = true) {
    const started = Array.from({ length: count }, () => this.newTask(svc, d, at))
    if (announce && started.length) this.event(svc, `(service ${svc.name}) has started ${count} tasks: ${taskList(started)}.`)
  }

  stopTasks(svc: Service, tasks: Task[], by: Deployment) {
    for (const t of tasks) {
      this.stop(t, 'ServiceSchedulerInitiated', `Scaling activity initiated by (deployment ${by.id})`)
      for (const c of t.containers) c.exitCode = 0
    }
    this.event(svc, `(service ${svc.name}) has stopped ${tasks.length} running tasks: ${taskList(tasks)}.`)
  }

  stop(t: Task, stopCode: string, reason: string) {
    Object.assign(t, { lastStatus: 'STOPPED', stopCode, stoppedReason: reason, stoppedAt: this.clock })
    for (const c of t.containers) c.lastStatus = 'STOPPED'
    const stopped = t.service.tasks.filter((x) => x.lastStatus === 'STOPPED')
    if (stopped.length > 1000) t.service.tasks.splice(t.service.tasks.indexOf(stopped[0]!), 1)
  }

  /** The essential container exits with code 1; the others stop with it. */
  crash(t: Task, bad = t.containers[0]!) {
    this.stop(t, 'EssentialContainerExited', 'Essential container in task exited')
    for (const c of t.containers) c.exitCode = 0
    Object.assign(bad, { exitCode: 1, reason: 'Container exited with code 1' })
  }

  /** One attempt of a failing deployment: desiredCount tasks that start (or not) and stop. */
  failTasks(svc: Service, d: Deployment) {
    const tasks = Array.from({ length: d.desiredCount }, () => this.newTask(svc, d, this.clock))
    this.event(svc, `(service ${svc.name}) has started ${tasks.length} tasks: ${taskList(tasks)}.`)
    const td = this.findTaskDef(d.taskDef)?.body ?? {}
    const kind = d.scenario === 'vanish' ? 'crash' : d.scenario
    const culprit = (c: Obj) => imageTag(c.image).includes(kind)
    for (const t of tasks) {
      const bad = t.containers.find(culprit) ?? t.containers[0]!
      if (kind === 'pullfail') {
        const reason = 'CannotPullContainerError: pull image manifest has been retried 5 time(s): ' +
          `failed to resolve ref ${bad.image}: not found`
        delete t.startedAt
        this.stop(t, 'TaskFailedToStart', reason)
        bad.reason = reason
      } else if (kind === 'unhealthy') {
        const def = (td.containerDefinitions ?? []).find((c: Obj) => c.name === bad.name)
        if (def?.healthCheck) {
          this.stop(t, 'ServiceSchedulerInitiated', 'Task failed container health checks')
          bad.healthStatus = 'UNHEALTHY'
          this.event(svc, `(service ${svc.name}) (task ${t.id}) failed container health checks.`)
        } else {
          const tg = `arn:aws:elasticloadbalancing:${this.region}:${ACCOUNT}:targetgroup/${svc.name}/0123456789abcdef`
          this.stop(t, 'ServiceSchedulerInitiated', `Task failed ELB health checks in (target-group ${tg})`)
          const port = def?.portMappings?.[0]?.containerPort ?? 80
          this.event(svc, `(service ${svc.name}) (port ${port}) is unhealthy in (target-group ${tg}) due to (reason Health checks failed).`)
        }
        for (const c of t.containers) c.exitCode = 143
      } else {
        this.crash(t, bad)
      }
    }
    if (!d.ran) d.failedTasks += tasks.length
    d.updatedAt = this.clock
  }

  // ---- rendering ----
  renderDeployment(svc: Service, d: Deployment): Obj {
    const running = svc.tasks.filter((t) => t.deploymentId === d.id && t.lastStatus === 'RUNNING').length
    const desired = d.status === 'PRIMARY' ? d.desiredCount : running
    const inProgress = d.status === 'PRIMARY' && d.rolloutState === 'IN_PROGRESS'
    const out: Obj = {
      id: d.id, status: d.status, taskDefinition: d.taskDef, desiredCount: desired,
      pendingCount: inProgress ? Math.max(0, desired - running) : 0, runningCount: running, failedTasks: d.failedTasks,
      createdAt: secs(d.createdAt), updatedAt: secs(d.updatedAt), launchType: svc.launchType
    }
    if (svc.launchType === 'FARGATE') out.platformVersion = '1.4.0'
    if (this.rolloutState) {
      out.rolloutState = d.rolloutState
      if (!d.noReason) out.rolloutStateReason = d.reason ?? `ECS deployment ${d.id} in progress.`
    }
    return out
  }

  renderService(svc: Service): Obj {
    const deployments = svc.deployments.map((d) => this.renderDeployment(svc, d))
    return {
      serviceArn: svc.arn, serviceName: svc.name, clusterArn: this.arn('cluster', svc.cluster), loadBalancers: [],
      serviceRegistries: [], status: svc.status, desiredCount: svc.desiredCount,
      runningCount: deployments.reduce((n, d) => n + d.runningCount, 0),
      pendingCount: deployments.reduce((n, d) => n + d.pendingCount, 0),
      launchType: svc.launchType, taskDefinition: svc.taskDef, deploymentConfiguration: svc.deploymentConfiguration,
      deployments, events: svc.events.map((e) => ({ ...e, createdAt: secs(e.createdAt) })),
      createdAt: secs(svc.createdAt), placementConstraints: [], placementStrategy: [], schedulingStrategy: 'REPLICA',
      deploymentController: { type: 'ECS' }, currentServiceDeployment: this.sd.current(svc)?.arn, createdBy: `arn:aws:iam::${ACCOUNT}:role/deployer`,
      enableECSManagedTags: false, propagateTags: 'NONE', enableExecuteCommand: false,
      ...(svc.express ? { resourceManagementType: 'ECS' } : {})
    }
  }

  renderTask(t: Task): Obj {
    return {
      taskArn: t.arn, clusterArn: this.arn('cluster', t.service.cluster), taskDefinitionArn: t.taskDef,
      group: `service:${t.service.name}`, startedBy: t.deploymentId, launchType: t.service.launchType,
      lastStatus: t.lastStatus, desiredStatus: t.lastStatus, createdAt: secs(t.createdAt), startedAt: secs(t.startedAt),
      stoppedAt: secs(t.stoppedAt), stoppingAt: secs(t.stoppedAt), stoppedReason: t.stoppedReason, stopCode: t.stopCode,
      containers: t.containers, tags: this.tags.get(t.arn) ?? []
    }
  }
}

