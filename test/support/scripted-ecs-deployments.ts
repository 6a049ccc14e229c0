// Service deployments for the scripted ECS endpoint: ListServiceDeployments, DescribeServiceDeployments,
// DescribeServiceRevisions (a service revision's task definition), StopServiceDeployment, ContinueServiceDeployment, and the strategies ECS plays with them (ROLLING,
// BLUE_GREEN, LINEAR, CANARY), kept beside scripted-ecs.ts so that file stays about task rollouts.
//
// What it plays follows the ECS API reference (botocore's ecs service-2.json, 2014-11-13):
// - Every UpdateService that starts a deployment starts a service deployment
//   (`arn:aws:ecs:REGION:ACCOUNT:service-deployment/CLUSTER/SERVICE/ID`), shown as the service's
//   `currentServiceDeployment`; ECS's own rollback (circuit breaker, alarms, StopServiceDeployment
//   ROLLBACK, a PAUSE hook continued with ROLLBACK) happens inside it: ROLLBACK_IN_PROGRESS, then
//   ROLLBACK_SUCCESSFUL, with `rollback.reason`. A newer UpdateService stops the one in flight (STOPPED).
// - status: PENDING, IN_PROGRESS, SUCCESSFUL, STOPPED, STOP_REQUESTED, ROLLBACK_REQUESTED,
//   ROLLBACK_IN_PROGRESS, ROLLBACK_SUCCESSFUL, ROLLBACK_FAILED.
// - lifecycleStage (blue/green, linear, canary): PRE_SCALE_UP, SCALE_UP, POST_SCALE_UP, TEST_TRAFFIC_SHIFT,
//   POST_TEST_TRAFFIC_SHIFT, PRODUCTION_TRAFFIC_SHIFT (every step of linear and canary),
//   POST_PRODUCTION_TRAFFIC_SHIFT, BAKE_TIME (deploymentConfiguration.bakeTimeInMinutes), CLEAN_UP.
//   Linear shifts linearConfiguration.stepPercent (default 10) each step and waits stepBakeTimeInMinutes
//   (default 6) between steps, not after 100; canary shifts canaryConfiguration.canaryPercent (default 5),
//   waits canaryBakeTimeInMinutes (default 10), then shifts the rest. Weights are the revisions'
//   requestedProductionTrafficWeight / requestedTestTrafficWeight.
// - A PAUSE lifecycle hook (deploymentConfiguration.lifecycleHooks[].targetType PAUSE) at a stage stops
//   the deployment there with lifecycleHookDetails [{hookId, targetType PAUSE, status AWAITING_ACTION,
//   expiresAt, timeoutAction}] until ContinueServiceDeployment (action CONTINUE or ROLLBACK) or the hook's
//   timeout (timeoutConfiguration: timeoutInMinutes default 1440, action default ROLLBACK). A hook at
//   PRE_PRODUCTION_TRAFFIC_SHIFT (a hook stage, not a deployment stage) shows POST_TEST_TRAFFIC_SHIFT.
//   AWS_LAMBDA hooks are played as succeeding at once.
// - The circuit breaker (deploymentCircuitBreaker {status, failureCount, threshold}) and alarms
//   ({status, alarmNames, triggeredAlarmNames}) of the service deployment; their rollback reasons are
//   this endpoint's wording (the reference documents the field, not its text).
// Scenarios, like the rollouts': an image tag with `alarm` trips the first configured alarm (during
// BAKE_TIME, or once a rolling update's tasks are up); crash / pullfail / unhealthy fail the new tasks.
// Options: `minuteMs` (how long a "minute" of bake or hook timeout lasts), `stageMs` (one stage),
// `appearAfterMs` (the service deployment is invisible that long after UpdateService: a late one),
// `denied` (every service-deployment call answers AccessDeniedException, as an IAM policy without them).
import { randomBytes, randomUUID } from 'node:crypto'
import { EcsError, type EcsState, type Obj } from './scripted-ecs-state.ts'

export interface ServiceDeploymentOptions {
  /** How long one minute of bake time, step bake time or hook timeout lasts here (default 60000). */
  minuteMs?: number
  /** How long each lifecycle stage without a bake takes (default settleMs / 6). */
  stageMs?: number
  /** The service deployment appears (in List/Describe and currentServiceDeployment) only this long after UpdateService. */
  appearAfterMs?: number
  /** Every service-deployment call answers AccessDeniedException. */
  denied?: boolean
}

type Status = 'PENDING' | 'IN_PROGRESS' | 'SUCCESSFUL' | 'STOPPED' | 'STOP_REQUESTED' | 'ROLLBACK_REQUESTED' | 'ROLLBACK_IN_PROGRESS' | 'ROLLBACK_SUCCESSFUL' | 'ROLLBACK_FAILED'
type Svc = EcsState['services'][number]
type Dep = Svc['deployments'][number]

interface Hook { hookId: string; targetType: 'PAUSE'; status: 'AWAITING_ACTION' | 'SUCCEEDED' | 'TIMED_OUT'; expiresAt: number; timeoutAction: 'CONTINUE' | 'ROLLBACK' }

export interface ServiceDeploymentRecord {
  arn: string; svc: Svc; deployment: Dep; strategy: string; config: Obj
  createdAt: number; startedAt: number; updatedAt: number; finishedAt?: number; stoppedAt?: number; visibleAt: number
  status: Status; statusReason?: string; stage?: string
  targetRevision: string; sourceRevisions: string[]; productionWeight?: number; testWeight?: number
  rollback?: { reason: string; startedAt: number; serviceRevisionArn: string }
  breaker: { status: string; failureCount: number; threshold: number }
  alarms: { status: string; alarmNames: string[]; triggeredAlarmNames: string[] }
  hooks: Hook[]
  /** What runs when a paused hook is continued. */
  resume?: () => void
}

const IN_FLIGHT: Status[] = ['PENDING', 'IN_PROGRESS', 'STOP_REQUESTED', 'ROLLBACK_REQUESTED', 'ROLLBACK_IN_PROGRESS']
const secs = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000)
const invalid = (message: string) => new EcsError('InvalidParameterException', message)

/** The service deployments of one endpoint: created by EcsState.deploy, advanced by its clock. */
export class ServiceDeployments {
  readonly records: ServiceDeploymentRecord[] = []
  /** Rollout deployment id -> its service deployment (the revived deployment of a rollback maps too). */
  private readonly byDeployment = new Map<string, ServiceDeploymentRecord>()
  private readonly state: EcsState
  private readonly options: ServiceDeploymentOptions
  private readonly revisions = new Map<string, string>()
  /** Service revision ARN -> when ECS made it (DescribeServiceRevisions' createdAt). */
  private readonly revisionCreatedAt = new Map<string, number>()

  constructor(state: EcsState, options: ServiceDeploymentOptions = {}) {
    this.state = state
    this.options = options
  }

  get minuteMs() { return this.options.minuteMs ?? 60_000 }
  get stageMs() { return this.options.stageMs ?? this.state.settleMs / 6 }

  /** The service revision of a task definition for a service (one per pair, as ECS keeps them). */
  revisionArn(svc: Svc, taskDef: string): string {
    const key = `${svc.arn} ${taskDef}`
    let arn = this.revisions.get(key)
    if (!arn) {
      arn = this.state.arn('service-revision', `${svc.cluster}/${svc.name}/${randomBytes(8).readBigUInt64BE() % 10n ** 19n}`)
      this.revisions.set(key, arn)
      this.revisionCreatedAt.set(arn, this.state.clock)
    }
    return arn
  }

  /** The deployment the service shows as current: the newest visible one. */
  current(svc: Svc): ServiceDeploymentRecord | undefined {
    return this.records.filter(r => r.svc === svc && r.visibleAt <= this.state.clock).at(-1)
  }

  /** A seeded service's first deployment: already SUCCESSFUL. */
  seeded(svc: Svc, d: Dep) {
    const r = this.record(svc, d, d.createdAt, [])
    Object.assign(r, { status: 'SUCCESSFUL', finishedAt: d.createdAt, visibleAt: d.createdAt, productionWeight: undefined })
    r.breaker.status = 'MONITORING_COMPLETE'
    if (r.alarms.status === 'MONITORING') r.alarms.status = 'MONITORING_COMPLETE'
  }

  private record(svc: Svc, d: Dep, t0: number, sources: string[]): ServiceDeploymentRecord {
    const config = structuredClone(svc.deploymentConfiguration)
    const alarms = config.alarms?.enable ? (config.alarms.alarmNames ?? []) : []
    const id = randomBytes(12).toString('base64url').replace(/[^A-Za-z0-9]/g, 'x')
    const r: ServiceDeploymentRecord = {
      arn: this.state.arn('service-deployment', `${svc.cluster}/${svc.name}/${id}`), svc, deployment: d,
      strategy: config.strategy ?? 'ROLLING', config, createdAt: t0, startedAt: t0, updatedAt: t0,
      visibleAt: t0 + (this.options.appearAfterMs ?? 0), status: 'PENDING',
      targetRevision: this.revisionArn(svc, d.taskDef), sourceRevisions: sources,
      breaker: { status: config.deploymentCircuitBreaker?.enable ? 'MONITORING' : 'DISABLED', failureCount: 0, threshold: Math.min(200, Math.max(3, Math.ceil(d.desiredCount / 2))) },
      alarms: { status: alarms.length ? 'MONITORING' : 'DISABLED', alarmNames: alarms, triggeredAlarmNames: [] },
      hooks: []
    }
    this.records.push(r)
    this.byDeployment.set(d.id, r)
    return r
  }

  /**
   * UpdateService started deployment `d`. The one in flight is stopped (a newer deployment replaces
   * it). Returns true when this module plays the rollout (blue/green, linear, canary).
   */
  started(svc: Svc, d: Dep, t0: number): boolean {
    for (const r of this.records) {
      if (r.svc === svc && IN_FLIGHT.includes(r.status)) this.finish(r, 'STOPPED', `Service deployment was superseded by a newer service deployment.`)
    }
    const running = new Set(svc.tasks.filter(t => t.lastStatus === 'RUNNING').map(t => t.taskDef))
    const r = this.record(svc, d, t0, [...running].map(td => this.revisionArn(svc, td)))
    r.status = 'IN_PROGRESS'
    if (r.strategy === 'ROLLING') {
      if (d.scenario === 'healthy' && this.tagged(d, 'alarm')) this.state.at(t0 + this.state.settleMs * 0.8, () => this.tripAlarm(r))
      return false
    }
    this.play(r)
    return true
  }

  /** The rolling rollout of `d` completed (EcsState.complete): its service deployment, or the rollback it made, succeeded. */
  completed(d: Dep) {
    const r = this.byDeployment.get(d.id)
    if (!r) return
    if (r.deployment === d && r.status === 'IN_PROGRESS') this.finish(r, 'SUCCESSFUL', 'Service deployment completed successfully.')
    else if (r.status === 'ROLLBACK_IN_PROGRESS') this.finish(r, 'ROLLBACK_SUCCESSFUL', r.rollback?.reason)
  }

  /** ECS's early success criteria were met for the rolling rollout of `d` (scripted-ecs-early.ts): SUCCESSFUL now. */
  completedEarly(d: Dep, reason: string) {
    const r = this.byDeployment.get(d.id)
    if (r && r.deployment === d && r.status === 'IN_PROGRESS') this.finish(r, 'SUCCESSFUL', reason)
  }

  /** The circuit breaker failed the rolling rollout of `d`; `revived` is the deployment ECS rolls back to, if any. */
  breakerFailed(d: Dep, revived: Dep | undefined) {
    const r = this.byDeployment.get(d.id)
    if (!r || r.deployment !== d) return
    r.breaker = { ...r.breaker, status: 'TRIGGERED', failureCount: Math.max(r.breaker.threshold, d.failedTasks) }
    const reason = 'Service deployment rolled back because the circuit breaker threshold was exceeded.'
    if (!revived) return this.finish(r, 'STOPPED', 'Service deployment failed: the circuit breaker threshold was exceeded.')
    this.rollingBackTo(r, revived, reason)
  }

  private rollingBackTo(r: ServiceDeploymentRecord, revived: Dep, reason: string) {
    r.status = 'ROLLBACK_IN_PROGRESS'
    r.statusReason = reason
    r.rollback = { reason, startedAt: this.state.clock, serviceRevisionArn: this.revisionArn(r.svc, revived.taskDef) }
    r.updatedAt = this.state.clock
    if (r.productionWeight !== undefined) r.productionWeight = 0
    if (r.testWeight !== undefined) r.testWeight = 0
    this.byDeployment.set(revived.id, r)
  }

  private finish(r: ServiceDeploymentRecord, status: Status, reason?: string) {
    r.status = status
    r.statusReason = reason
    r.updatedAt = this.state.clock
    r.resume = undefined
    if (status === 'STOPPED') r.stoppedAt = this.state.clock
    else r.finishedAt = this.state.clock
    if (r.breaker.status === 'MONITORING') r.breaker.status = 'MONITORING_COMPLETE'
    if (r.alarms.status === 'MONITORING') r.alarms.status = 'MONITORING_COMPLETE'
    if (status === 'SUCCESSFUL' && r.productionWeight !== undefined) r.stage = 'CLEAN_UP'
  }

  /** ECS's rollback: the deployment that ran before comes back (its tasks topped up), ours stops. */
  private rollBack(r: ServiceDeploymentRecord, reason: string) {
    if (!IN_FLIGHT.includes(r.status) || r.status.startsWith('ROLLBACK')) return
    const s = this.state
    const { svc, deployment: d } = r
    const back = svc.lastGoodDeployment
    d.rolloutState = 'FAILED'
    d.reason = reason
    d.updatedAt = s.clock
    s.settled.set(d.id, s.clock)
    r.resume = undefined
    for (const hook of r.hooks) if (hook.status === 'AWAITING_ACTION') hook.status = 'SUCCEEDED'
    if (!back) return this.finish(r, 'ROLLBACK_FAILED', `${reason} There is no earlier service revision to roll back to.`)
    s.event(svc, `(service ${svc.name}) (deployment ${d.id}) rolling back to deployment ${back.id} (taskDefinition ${svc.lastGood}).`)
    const revived = s.deploy(svc, svc.lastGood, s.clock, 'healthy', { revive: back, reason: `ECS deployment rolling back to deploymentId ${back.id}.` })
    this.rollingBackTo(r, revived, reason)
  }

  private tripAlarm(r: ServiceDeploymentRecord) {
    if (r.status !== 'IN_PROGRESS' || !r.alarms.alarmNames.length) return
    const alarm = r.alarms.alarmNames[0]!
    r.alarms = { ...r.alarms, status: 'TRIGGERED', triggeredAlarmNames: [alarm] }
    if (!r.config.alarms?.rollback) return this.finish(r, 'STOPPED', `Service deployment failed: the CloudWatch alarm ${alarm} went into ALARM.`)
    this.rollBack(r, `Service deployment rolled back because the CloudWatch alarm ${alarm} went into ALARM.`)
  }

  private tagged(d: Dep, word: string): boolean {
    const defs = this.state.findTaskDef(d.taskDef)?.body.containerDefinitions ?? []
    return defs.some((c: Obj) => String(c.image ?? '').split('/').pop()!.split(':')[1]?.includes(word))
  }

  // ---- blue/green, linear, canary ----
  private play(r: ServiceDeploymentRecord) {
    const s = this.state
    const { svc, deployment: d, config } = r
    const live = () => r.status === 'IN_PROGRESS'
    const minute = this.minuteMs
    const steps: { stage: string; ms: number; run?: () => boolean | void; hookStage?: string }[] = [
      { stage: 'PRE_SCALE_UP', ms: this.stageMs },
      { stage: 'SCALE_UP', ms: this.stageMs, run: () => this.scaleUp(r) },
      { stage: 'POST_SCALE_UP', ms: this.stageMs },
      { stage: 'TEST_TRAFFIC_SHIFT', ms: this.stageMs, run: () => void (r.testWeight = 100) },
      { stage: 'POST_TEST_TRAFFIC_SHIFT', ms: this.stageMs },
      { stage: 'POST_TEST_TRAFFIC_SHIFT', hookStage: 'PRE_PRODUCTION_TRAFFIC_SHIFT', ms: 0 }
    ]
    const shifts: { to: number; bakeMinutes: number }[] = []
    if (r.strategy === 'LINEAR') {
      const step = config.linearConfiguration?.stepPercent ?? 10
      const bake = config.linearConfiguration?.stepBakeTimeInMinutes ?? 6
      for (let to = step; to < 100; to += step) shifts.push({ to: Math.round(to * 10) / 10, bakeMinutes: bake })
    } else if (r.strategy === 'CANARY') {
      shifts.push({ to: config.canaryConfiguration?.canaryPercent ?? 5, bakeMinutes: config.canaryConfiguration?.canaryBakeTimeInMinutes ?? 10 })
    }
    shifts.push({ to: 100, bakeMinutes: 0 })
    for (const shift of shifts) {
      steps.push({ stage: 'PRODUCTION_TRAFFIC_SHIFT', ms: this.stageMs + shift.bakeMinutes * minute, run: () => void (r.productionWeight = shift.to) })
    }
    steps.push(
      { stage: 'POST_PRODUCTION_TRAFFIC_SHIFT', ms: this.stageMs },
      { stage: 'BAKE_TIME', ms: (config.bakeTimeInMinutes ?? 0) * minute, run: () => void (this.tagged(d, 'alarm') && s.at(s.clock + Math.max(this.stageMs, (config.bakeTimeInMinutes ?? 0) * minute / 2), () => this.tripAlarm(r))) },
      { stage: 'CLEAN_UP', ms: this.stageMs, run: () => void this.cleanUp(r) }
    )
    r.productionWeight = 0
    r.testWeight = 0
    const enter = (i: number) => {
      if (!live()) return
      const step = steps[i]
      if (!step) {
        this.finish(r, 'SUCCESSFUL', 'Service deployment completed successfully.')
        s.complete(svc, d)
        return
      }
      r.stage = step.stage
      r.updatedAt = s.clock
      // A step that cannot finish (new tasks that never start) holds the rollout where it is.
      if (step.run?.() === false || !live()) return
      const next = () => s.at(s.clock + step.ms, () => enter(i + 1))
      // Each production shift of linear and canary passes its stage again: a PAUSE hook there holds each time.
      const hook = (config.lifecycleHooks ?? []).find((h: Obj) => h.targetType === 'PAUSE' && (h.lifecycleStages ?? []).includes(step.hookStage ?? step.stage))
      if (!hook) return next()
      this.pause(r, hook, next)
    }
    s.at(r.startedAt, () => enter(0))
  }

  private pause(r: ServiceDeploymentRecord, hook: Obj, next: () => void) {
    const s = this.state
    const timeout = hook.timeoutConfiguration ?? {}
    const detail: Hook = {
      hookId: randomUUID(), targetType: 'PAUSE', status: 'AWAITING_ACTION',
      expiresAt: s.clock + (timeout.timeoutInMinutes ?? 1440) * this.minuteMs, timeoutAction: timeout.action ?? 'ROLLBACK'
    }
    r.hooks.push(detail)
    r.resume = next
    s.at(detail.expiresAt, () => {
      if (detail.status !== 'AWAITING_ACTION') return
      detail.status = 'TIMED_OUT'
      if (detail.timeoutAction === 'CONTINUE') this.resume(r)
      else this.rollBack(r, `Service deployment rolled back because the lifecycle hook ${detail.hookId} timed out.`)
    })
  }

  private resume(r: ServiceDeploymentRecord) {
    const next = r.resume
    r.resume = undefined
    next?.()
  }

  private scaleUp(r: ServiceDeploymentRecord): boolean {
    const s = this.state
    const { svc, deployment: d } = r
    if (d.scenario === 'healthy') {
      s.startTasks(svc, d, d.desiredCount, s.clock)
      d.ran = true
      return true
    }
    // Tasks that fail to start: the breaker counts them and rolls back at its threshold.
    const attempt = () => {
      if (r.status !== 'IN_PROGRESS') return
      s.failTasks(svc, d)
      r.breaker.failureCount += d.desiredCount
      if (r.breaker.status !== 'DISABLED' && r.breaker.failureCount >= r.breaker.threshold) {
        r.breaker.status = 'TRIGGERED'
        if (r.config.deploymentCircuitBreaker?.rollback) return this.rollBack(r, 'Service deployment rolled back because the circuit breaker threshold was exceeded.')
        return this.finish(r, 'STOPPED', 'Service deployment failed: the circuit breaker threshold was exceeded.')
      }
      s.at(s.clock + s.failAfterMs / 3, attempt)
    }
    attempt()
    // The rollout waits in SCALE_UP until the new tasks run, which they never do.
    return false
  }

  private cleanUp(r: ServiceDeploymentRecord) {
    const s = this.state
    const old = r.svc.tasks.filter(t => t.lastStatus === 'RUNNING' && t.deploymentId !== r.deployment.id)
    if (old.length) s.stopTasks(r.svc, old, r.deployment)
  }

  // ---- rendering and operations ----
  render(r: ServiceDeploymentRecord): Obj {
    const s = this.state
    const count = (taskDef: string | undefined) => r.svc.tasks.filter(t => t.lastStatus === 'RUNNING' && (taskDef === undefined || t.taskDef === taskDef))
    const target = r.deployment.taskDef
    const weighted = r.productionWeight !== undefined
    const sources = r.sourceRevisions.map(arn => {
      const taskDef = [...this.revisions.entries()].find(([, v]) => v === arn)?.[0].split(' ')[1]
      return {
        arn, requestedTaskCount: r.status === 'SUCCESSFUL' ? 0 : r.deployment.desiredCount, runningTaskCount: count(taskDef).length, pendingTaskCount: 0,
        ...(weighted ? { requestedProductionTrafficWeight: 100 - r.productionWeight!, requestedTestTrafficWeight: 100 - (r.testWeight ?? 0) } : {})
      }
    })
    const running = count(target).filter(t => t.deploymentId === r.deployment.id).length
    const out: Obj = {
      serviceDeploymentArn: r.arn, serviceArn: r.svc.arn, clusterArn: s.arn('cluster', r.svc.cluster),
      createdAt: secs(r.createdAt), startedAt: secs(r.startedAt), updatedAt: secs(r.updatedAt), finishedAt: secs(r.finishedAt), stoppedAt: secs(r.stoppedAt),
      sourceServiceRevisions: sources,
      targetServiceRevision: {
        arn: r.targetRevision, requestedTaskCount: r.deployment.desiredCount, runningTaskCount: running,
        pendingTaskCount: r.status === 'IN_PROGRESS' ? Math.max(0, r.deployment.desiredCount - running) : 0,
        ...(weighted ? { requestedProductionTrafficWeight: r.productionWeight, requestedTestTrafficWeight: r.testWeight } : {})
      },
      status: r.status, statusReason: r.statusReason, deploymentConfiguration: r.config,
      deploymentCircuitBreaker: r.breaker, alarms: r.alarms
    }
    if (r.stage) out.lifecycleStage = r.stage
    if (r.rollback) out.rollback = { ...r.rollback, startedAt: secs(r.rollback.startedAt) }
    if (r.hooks.length) out.lifecycleHookDetails = r.hooks.map(h => ({ ...h, expiresAt: secs(h.expiresAt) }))
    return out
  }

  operations(cluster: (ref: unknown) => string): Record<string, (input: Obj) => Obj> {
    const s = this.state
    const deny = (op: string, resource: string) => {
      if (!this.options.denied) return
      throw new EcsError('AccessDeniedException', `User: arn:aws:sts::123456789012:assumed-role/deployer/ci is not authorized to perform: ecs:${op} on resource: ${resource} because no identity-based policy allows the ecs:${op} action`)
    }
    const visible = (r: ServiceDeploymentRecord) => r.visibleAt <= s.clock
    const find = (arn: unknown) => {
      const r = this.records.find(x => x.arn === arn && visible(x))
      if (!r) throw new EcsError('ServiceDeploymentNotFoundException', `The service deployment ${String(arn)} does not exist.`)
      return r
    }
    return {
      ListServiceDeployments: input => {
        const c = cluster(input.cluster)
        if (typeof input.service !== 'string' || !input.service) throw invalid('service must be specified.')
        const svc = s.findService(c, input.service)
        if (!svc) throw new EcsError('ServiceNotFoundException', 'Service not found.')
        deny('ListServiceDeployments', svc.arn)
        const statuses: string[] | undefined = input.status
        const after = input.createdAt?.after, before = input.createdAt?.before
        const max = input.maxResults ?? 20
        if (typeof max !== 'number' || max < 1 || max > 100) throw invalid('maxResults must be between 1 and 100.')
        // Newest first.
        const all = this.records.filter(r => r.svc === svc && visible(r) && (!statuses || statuses.includes(r.status)) &&
          (after === undefined || r.createdAt >= after * 1000) && (before === undefined || r.createdAt <= before * 1000)).reverse()
        const from = input.nextToken ? Number(Buffer.from(String(input.nextToken), 'base64').toString()) : 0
        if (!Number.isInteger(from)) throw invalid('Invalid nextToken.')
        return {
          serviceDeployments: all.slice(from, from + max).map(r => ({
            serviceDeploymentArn: r.arn, serviceArn: svc.arn, clusterArn: s.arn('cluster', svc.cluster), startedAt: secs(r.startedAt),
            createdAt: secs(r.createdAt), finishedAt: secs(r.finishedAt), targetServiceRevisionArn: r.targetRevision, status: r.status, statusReason: r.statusReason
          })),
          nextToken: from + max < all.length ? Buffer.from(String(from + max)).toString('base64') : undefined
        }
      },
      DescribeServiceDeployments: input => {
        const arns = input.serviceDeploymentArns
        if (!Array.isArray(arns) || arns.length === 0) throw invalid('serviceDeploymentArns cannot be empty.')
        if (arns.length > 20) throw invalid('Too many service deployments were provided. The maximum is 20.')
        deny('DescribeServiceDeployments', String(arns[0]))
        const found = arns.map(arn => this.records.find(r => r.arn === arn && visible(r)))
        return {
          serviceDeployments: found.filter(r => r !== undefined).map(r => this.render(r)),
          failures: arns.filter((_a, i) => !found[i]).map(arn => ({ arn: String(arn), reason: 'MISSING' }))
        }
      },
      // DescribeServiceRevisions: 1-20 ARNs; the ones it does not know are failures (reason MISSING).
      DescribeServiceRevisions: input => {
        const arns = input.serviceRevisionArns
        if (!Array.isArray(arns) || arns.length === 0) throw invalid('serviceRevisionArns cannot be empty.')
        if (arns.length > 20) throw invalid('Too many service revisions were provided. The maximum is 20.')
        deny('DescribeServiceRevisions', String(arns[0]))
        const known = arns.map(arn => [...this.revisions.entries()].find(([, v]) => v === arn))
        return {
          serviceRevisions: known.flatMap((entry, i) => {
            if (!entry) return []
            const [key] = entry
            const svc = s.services.find(x => x.arn === key.split(' ')[0])!
            const taskDefinition = key.split(' ')[1]
            return [{
              serviceRevisionArn: arns[i], serviceArn: svc.arn, clusterArn: s.arn('cluster', svc.cluster), taskDefinition,
              launchType: svc.launchType, ...(svc.launchType === 'FARGATE' ? { platformVersion: '1.4.0' } : {}),
              loadBalancers: [], serviceRegistries: [], createdAt: secs(this.revisionCreatedAt.get(String(arns[i])))
            }]
          }),
          failures: arns.filter((_a, i) => !known[i]).map(arn => ({ arn: String(arn), reason: 'MISSING' }))
        }
      },
      StopServiceDeployment: input => {
        deny('StopServiceDeployment', String(input.serviceDeploymentArn))
        const r = find(input.serviceDeploymentArn)
        if (!['PENDING', 'IN_PROGRESS'].includes(r.status)) throw new EcsError('ConflictException', `The service deployment is ${r.status} and cannot be stopped.`)
        const type = input.stopType ?? 'ABORT'
        if (type !== 'ROLLBACK' && type !== 'ABORT') throw invalid(`stopType must be ABORT or ROLLBACK.`)
        if (type === 'ROLLBACK') this.rollBack(r, 'Service deployment rolled back by a StopServiceDeployment request.')
        else this.finish(r, 'STOPPED', 'Service deployment stopped by a StopServiceDeployment request.')
        return { serviceDeploymentArn: r.arn }
      },
      ContinueServiceDeployment: input => {
        deny('ContinueServiceDeployment', String(input.serviceDeploymentArn))
        const r = find(input.serviceDeploymentArn)
        const hook = r.hooks.find(h => h.hookId === input.hookId)
        if (!hook) throw invalid(`The lifecycle hook ${String(input.hookId)} does not exist in the service deployment.`)
        if (hook.status !== 'AWAITING_ACTION') throw new EcsError('ClientException', `The lifecycle hook ${hook.hookId} is ${hook.status}, not AWAITING_ACTION.`)
        const action = input.action ?? 'CONTINUE'
        if (action !== 'CONTINUE' && action !== 'ROLLBACK') throw invalid('action must be CONTINUE or ROLLBACK.')
        hook.status = 'SUCCEEDED'
        if (action === 'ROLLBACK') this.rollBack(r, `Service deployment rolled back by a ContinueServiceDeployment request (ROLLBACK at hook ${hook.hookId}).`)
        else this.resume(r)
        return { serviceDeploymentArn: r.arn }
      }
    }
  }
}
