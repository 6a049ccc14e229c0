// A scripted CodeDeploy endpoint: an HTTP server that speaks CodeDeploy's JSON protocol (awsJson1_1,
// target prefix CodeDeploy_20141006) to the real AWS SDK and plays ECS blue/green deployments that
// moto cannot: statuses that advance, lifecycle events, task sets whose traffic shifts, hooks that
// fail with CodeDeploy's diagnostics, deployments that never finish, StopDeployment with rollback.
//
// What it plays follows the CodeDeploy API reference (botocore codedeploy 2014-10-06 service model):
// - DeploymentStatus Created -> InProgress -> (Ready when the group's deploymentReadyOption is
//   STOP_DEPLOYMENT, until ContinueDeployment; not a rollback deployment) -> Baking (the original task set's termination wait,
//   when bakeMs > 0) -> Succeeded; or Failed / Stopped. Deployment ids are `d-` and 9 characters.
// - An ECS deployment has one target, id `<cluster>:<service>`, of type ECSTarget, with the ECS
//   lifecycle events BeforeInstall, Install, AfterInstall, AllowTestTraffic, AfterAllowTestTraffic,
//   BeforeAllowTraffic, AllowTraffic, AfterAllowTraffic (each Pending -> InProgress -> Succeeded |
//   Failed | Skipped), and its task sets labelled Blue (original) and Green (replacement) with
//   trafficWeight. ListDeploymentTargets before the deployment started: DeploymentNotStartedException.
// - A failed hook: that lifecycle event Failed with diagnostics (errorCode ScriptFailed, message),
//   the deployment Failed with errorInformation HOOK_EXECUTION_FAILURE. With the group's
//   autoRollbackConfiguration on DEPLOYMENT_FAILURE, CodeDeploy creates a rollback deployment
//   (creator codeDeployRollback) and names it in rollbackInfo of the failed one.
// - StopDeployment of an ended deployment: DeploymentAlreadyCompletedException; else the deployment
//   is Stopped (errorInformation MANUAL_STOP) and, with autoRollbackEnabled, rolled back as above.
// - One active deployment per deployment group: CreateDeployment otherwise answers
//   DeploymentLimitExceededException.
// - Discovery: ListApplications, BatchGetApplications (computePlatform ECS or Server, at most 100
//   names), ListDeploymentGroups, BatchGetDeploymentGroups (ecsServices, autoRollbackConfiguration,
//   blueGreenDeploymentConfiguration); ListDeployments by group, status and createTimeRange.
// - Faults: ThrottlingException, and answers lost after the request ran (500 InternalFailure).
//
// Time is lazy: each deployment's changes are actions due at moments after it was created; every
// request first applies what is due. Node builtins and erasable TypeScript only.
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { randomBytes } from 'node:crypto'

const PREFIX = 'CodeDeploy_20141006.'
export const ECS_EVENTS = ['BeforeInstall', 'Install', 'AfterInstall', 'AllowTestTraffic', 'AfterAllowTestTraffic', 'BeforeAllowTraffic', 'AllowTraffic', 'AfterAllowTraffic']

export type Obj = Record<string, any>

/** How the next deployment goes: succeed, fail at a hook, or hang in a lifecycle event for ever. */
export type Script = { kind: 'succeed' } | { kind: 'fail'; event: string; message: string } | { kind: 'hang'; event: string }

export interface SeedGroup {
  application: string
  name: string
  cluster: string
  service: string
  autoRollbackOnFailure?: boolean
  /** deploymentReadyOption STOP_DEPLOYMENT: wait in Ready for ContinueDeployment. */
  waitForContinue?: boolean
  deploymentConfigName?: string
}

export interface ScriptedCodeDeployOptions {
  groups?: SeedGroup[]
  /** Time per lifecycle event. */
  stepMs?: number
  /** Baking: the original task set's termination wait after traffic moved. */
  bakeMs?: number
  /** ECS applications with no groups, to make discovery search more than one. */
  extraApplications?: string[]
  /** Applications of the Server (EC2/on-premises) compute platform: never hold an ECS deployment group. */
  serverApplications?: string[]
  throttle?: { operations?: string[]; count: number }
  /** The first `count` requests of these operations run, then are answered 500 (the answer was lost). */
  lostAnswers?: { operations: string[]; count: number }
}

export interface RecordedCall { at: number; operation: string; input: Obj; status: number }

export interface ScriptedCodeDeploy {
  endpoint: string
  calls: RecordedCall[]
  /** Scripts for the next deployments users create, in order; an empty queue succeeds. */
  scripts: Script[]
  deployment(id: string): Obj | undefined
  close(): Promise<void>
}

class CodeDeployError extends Error {
  code: string
  status: number
  constructor(code: string, message: string, status = 400) {
    super(message)
    this.code = code
    this.status = status
  }
}

interface Deployment {
  info: Obj
  group: SeedGroup
  target: Obj
  actions: Array<{ at: number; run: () => void }>
  /** Set while the deployment waits in Ready: ContinueDeployment calls it. */
  resume?: (now: number) => void
  /** StopDeployment's autoRollbackEnabled. */
  rollbackOnStop?: boolean
}

const secs = (ms: number): number => ms / 1000
const newId = (): string => `d-${randomBytes(9).toString('hex').toUpperCase().replace(/[^A-Z0-9]/g, '').slice(0, 9).padEnd(9, '0')}`

export async function startScriptedCodeDeploy(options: ScriptedCodeDeployOptions = {}): Promise<ScriptedCodeDeploy> {
  const stepMs = options.stepMs ?? 100
  const bakeMs = options.bakeMs ?? 0
  const groups = options.groups ?? []
  const deployments = new Map<string, Deployment>()
  const calls: RecordedCall[] = []
  const scripts: Script[] = []
  let throttled = 0
  let lost = 0

  const ecsApplications = [...new Set([...(options.extraApplications ?? []), ...groups.map(g => g.application)])]
  const applications = [...(options.serverApplications ?? []), ...ecsApplications]

  /** The moment the action being applied was due: what its timestamps say, however late it is applied. */
  let clock = Date.now()

  function advance(now: number): void {
    for (const d of deployments.values()) {
      while (d.actions.length && d.actions[0].at <= now) {
        const action = d.actions.shift()!
        clock = action.at
        action.run()
      }
    }
    clock = now
  }

  function active(group: SeedGroup): Deployment | undefined {
    return [...deployments.values()].find(d => d.group === group && !['Succeeded', 'Failed', 'Stopped'].includes(d.info.status))
  }

  function groupInfo(g: SeedGroup): Obj {
    return {
      applicationName: g.application, deploymentGroupName: g.name, deploymentGroupId: `${g.application}-${g.name}`,
      deploymentConfigName: g.deploymentConfigName ?? 'CodeDeployDefault.ECSAllAtOnce', computePlatform: 'ECS',
      serviceRoleArn: 'arn:aws:iam::123456789012:role/codedeploy',
      ecsServices: [{ clusterName: g.cluster, serviceName: g.service }],
      deploymentStyle: { deploymentType: 'BLUE_GREEN', deploymentOption: 'WITH_TRAFFIC_CONTROL' },
      autoRollbackConfiguration: g.autoRollbackOnFailure ? { enabled: true, events: ['DEPLOYMENT_FAILURE'] } : { enabled: false, events: [] },
      blueGreenDeploymentConfiguration: {
        deploymentReadyOption: g.waitForContinue ? { actionOnTimeout: 'STOP_DEPLOYMENT', waitTimeInMinutes: 60 } : { actionOnTimeout: 'CONTINUE_DEPLOYMENT', waitTimeInMinutes: 0 },
        terminateBlueInstancesOnDeploymentSuccess: { action: 'TERMINATE', terminationWaitTimeInMinutes: Math.ceil(bakeMs / 60000) }
      }
    }
  }

  function findGroup(application: string, name: string): SeedGroup {
    if (!applications.includes(application)) throw new CodeDeployError('ApplicationDoesNotExistException', `No application found for name: ${application}`)
    const group = groups.find(g => g.application === application && g.name === name)
    if (!group) throw new CodeDeployError('DeploymentGroupDoesNotExistException', `No Deployment Group found for name: ${name}`)
    return group
  }

  function get(id: unknown): Deployment {
    if (typeof id !== 'string' || !id) throw new CodeDeployError('DeploymentIdRequiredException', 'Deployment ID is required')
    const d = deployments.get(id)
    if (!d) throw new CodeDeployError('DeploymentDoesNotExistException', `Deployment ${id} does not exist`)
    return d
  }

  function event(d: Deployment, name: string): Obj {
    return d.target.lifecycleEvents.find((e: Obj) => e.lifecycleEventName === name)
  }

  /**
   * The actions of one deployment from `startAt`: its start (from the first event), each lifecycle
   * event from `fromIndex` on, traffic, the bake and the end. A group that waits for ContinueDeployment
   * stops after AllowTestTraffic in Ready; ContinueDeployment schedules the rest from then.
   */
  function schedule(d: Deployment, script: Script, startAt: number, fromIndex = 0): void {
    const at = (ms: number, run: () => void): void => void d.actions.push({ at: startAt + ms, run })
    const set = (label: string): Obj => d.target.taskSetsInfo.find((t: Obj) => t.taskSetLabel === label)
    let t = 0
    if (fromIndex === 0) {
      t = stepMs
      at(t, () => {
        d.info.status = 'InProgress'
        d.info.startTime = secs(clock)
        d.target.status = 'InProgress'
        d.info.deploymentOverview = { Pending: 0, InProgress: 1, Succeeded: 0, Failed: 0, Skipped: 0, Ready: 0 }
      })
    }
    for (const [index, name] of ECS_EVENTS.entries()) {
      if (index < fromIndex) continue
      at(t, () => Object.assign(event(d, name), { status: 'InProgress', startTime: secs(clock) }))
      if (script.kind !== 'succeed' && script.event === name) {
        if (script.kind === 'hang') return
        at(t + stepMs, () => {
          Object.assign(event(d, name), { status: 'Failed', endTime: secs(clock), diagnostics: { errorCode: 'ScriptFailed', scriptName: '', message: script.message, logTail: '' } })
          fail(d, 'HOOK_EXECUTION_FAILURE', `The deployment failed because a specified lifecycle event hook (${name}) failed.`)
        })
        return
      }
      t += stepMs
      at(t, () => {
        Object.assign(event(d, name), { status: 'Succeeded', endTime: secs(clock), diagnostics: { errorCode: 'Success', message: 'Succeeded' } })
        if (name === 'Install') d.target.taskSetsInfo.push({ identifer: `ecs-svc/${Date.now()}`, desiredCount: 2, pendingCount: 0, runningCount: 2, status: 'ACTIVE', trafficWeight: 0, targetGroup: { name: 'tg-green' }, taskSetLabel: 'Green' })
        if (name === 'AllowTraffic') {
          Object.assign(set('Green'), { trafficWeight: 100, status: 'PRIMARY' })
          Object.assign(set('Blue'), { trafficWeight: 0, status: 'ACTIVE' })
        }
      })
      // A rollback puts the original back at once: only a user's deployment waits to be rerouted.
      if (name === 'AllowTestTraffic' && d.group.waitForContinue && d.info.creator === 'user') {
        at(t, () => {
          d.info.status = 'Ready'
          d.target.status = 'Ready'
          d.info.deploymentOverview = { ...d.info.deploymentOverview, InProgress: 0, Ready: 1 }
          d.resume = (now: number) => {
            d.resume = undefined
            d.info.status = 'InProgress'
            d.target.status = 'InProgress'
            schedule(d, script, now, index + 1)
          }
        })
        return
      }
    }
    if (bakeMs > 0) at(t, () => { d.info.status = 'Baking' })
    at(t + bakeMs, () => {
      d.info.status = 'Succeeded'
      d.info.completeTime = secs(clock)
      d.target.status = 'Succeeded'
      d.info.deploymentOverview = { Pending: 0, InProgress: 0, Succeeded: 1, Failed: 0, Skipped: 0, Ready: 0 }
      d.target.taskSetsInfo = d.target.taskSetsInfo.filter((s: Obj) => s.taskSetLabel === 'Green')
    })
  }

  function fail(d: Deployment, code: string, message: string, status = 'Failed'): void {
    d.actions = []
    d.info.status = status
    d.info.completeTime = secs(clock)
    d.info.errorInformation = { code, message }
    d.target.status = status === 'Failed' ? 'Failed' : 'Unknown'
    d.info.deploymentOverview = { Pending: 0, InProgress: 0, Succeeded: 0, Failed: 1, Skipped: 0, Ready: 0 }
    const rollsBack = status === 'Stopped' ? d.rollbackOnStop : d.group.autoRollbackOnFailure
    if (rollsBack && d.info.creator !== 'codeDeployRollback') {
      const previous = d.info.previousRevision
      const rollback = create(d.group, previous ?? d.info.revision, { kind: 'succeed' }, 'codeDeployRollback')
      rollback.info.rollbackInfo = { rollbackTriggeringDeploymentId: d.info.deploymentId }
      d.info.rollbackInfo = { rollbackDeploymentId: rollback.info.deploymentId, rollbackMessage: `Deployment ${d.info.deploymentId} rolled back by deployment ${rollback.info.deploymentId}` }
    }
  }

  function create(group: SeedGroup, revision: Obj, script: Script, creator = 'user', description = ''): Deployment {
    const id = newId()
    const now = Date.now()
    const previous = [...deployments.values()].filter(d => d.group === group && d.info.status === 'Succeeded').pop()
    const d: Deployment = {
      group,
      actions: [],
      info: {
        applicationName: group.application, deploymentGroupName: group.name, deploymentConfigName: group.deploymentConfigName ?? 'CodeDeployDefault.ECSAllAtOnce',
        deploymentId: id, revision, previousRevision: previous?.info.revision, status: 'Created', createTime: secs(now), creator, description,
        computePlatform: 'ECS', deploymentStyle: { deploymentType: 'BLUE_GREEN', deploymentOption: 'WITH_TRAFFIC_CONTROL' },
        autoRollbackConfiguration: groupInfo(group).autoRollbackConfiguration,
        deploymentOverview: { Pending: 1, InProgress: 0, Succeeded: 0, Failed: 0, Skipped: 0, Ready: 0 }, deploymentStatusMessages: []
      },
      target: {
        deploymentId: id, targetId: `${group.cluster}:${group.service}`, targetArn: `arn:aws:ecs:us-east-1:123456789012:service/${group.cluster}/${group.service}`,
        status: 'Pending', lastUpdatedAt: secs(now),
        lifecycleEvents: ECS_EVENTS.map(name => ({ lifecycleEventName: name, status: 'Pending' })),
        taskSetsInfo: [{ identifer: 'ecs-svc/original', desiredCount: 2, pendingCount: 0, runningCount: 2, status: 'PRIMARY', trafficWeight: 100, targetGroup: { name: 'tg-blue' }, taskSetLabel: 'Blue' }]
      }
    }
    deployments.set(id, d)
    schedule(d, script, now)
    return d
  }

  /** The ECS AppSpec as CodeDeploy reads it; a malformed one is refused as an invalid revision. */
  function checkRevision(revision: Obj | undefined): void {
    if (revision?.revisionType !== 'AppSpecContent' || typeof revision.appSpecContent?.content !== 'string') {
      throw new CodeDeployError('InvalidRevisionException', 'ECS deployments take an AppSpecContent revision')
    }
    let appSpec: Obj
    try {
      appSpec = JSON.parse(revision.appSpecContent.content)
    } catch {
      throw new CodeDeployError('InvalidRevisionException', 'The AppSpec content is not valid JSON or YAML')
    }
    const props = appSpec?.Resources?.[0]?.TargetService?.Properties
    if (appSpec?.Resources?.[0]?.TargetService?.Type !== 'AWS::ECS::Service' || !props?.TaskDefinition || !props.LoadBalancerInfo?.ContainerName || !props.LoadBalancerInfo?.ContainerPort) {
      throw new CodeDeployError('InvalidRevisionException', 'The AppSpec must name one AWS::ECS::Service TargetService with TaskDefinition and LoadBalancerInfo (ContainerName, ContainerPort)')
    }
  }

  const operations: Record<string, (input: Obj) => Obj> = {
    ListApplications: () => ({ applications }),
    BatchGetApplications: input => {
      const names: string[] = input.applicationNames ?? []
      if (names.length > 100) throw new CodeDeployError('BatchLimitExceededException', 'The maximum number of names or IDs allowed for this request (100) was exceeded.')
      for (const name of names) if (!applications.includes(name)) throw new CodeDeployError('ApplicationDoesNotExistException', `No application found for name: ${name}`)
      return { applicationsInfo: names.map(name => ({ applicationId: `id-${name}`, applicationName: name, createTime: 1700000000, linkedToGitHub: false, computePlatform: ecsApplications.includes(name) ? 'ECS' : 'Server' })) }
    },
    ListDeployments: input => {
      const group = findGroup(input.applicationName, input.deploymentGroupName)
      const statuses: string[] | undefined = input.includeOnlyStatuses
      // createTimeRange: start and end (epoch seconds) of createTime, each open-ended when left out.
      const { start, end } = (input.createTimeRange ?? {}) as { start?: number; end?: number }
      const inRange = (d: Deployment) => (start === undefined || d.info.createTime >= start) && (end === undefined || d.info.createTime <= end)
      return { deployments: [...deployments.values()].filter(d => d.group === group && (!statuses || statuses.includes(d.info.status)) && inRange(d)).map(d => d.info.deploymentId) }
    },
    ListDeploymentGroups: input => {
      if (!applications.includes(input.applicationName)) throw new CodeDeployError('ApplicationDoesNotExistException', `No application found for name: ${input.applicationName}`)
      return { applicationName: input.applicationName, deploymentGroups: groups.filter(g => g.application === input.applicationName).map(g => g.name) }
    },
    BatchGetDeploymentGroups: input => {
      const names: string[] = input.deploymentGroupNames ?? []
      if (names.length > 100) throw new CodeDeployError('BatchLimitExceededException', 'The maximum number of names or IDs allowed for this request (100) was exceeded.')
      return { deploymentGroupsInfo: names.map(name => groupInfo(findGroup(input.applicationName, name))) }
    },
    CreateDeployment: input => {
      const group = findGroup(input.applicationName, input.deploymentGroupName)
      checkRevision(input.revision)
      const running = active(group)
      if (running) throw new CodeDeployError('DeploymentLimitExceededException', `The Deployment Group '${group.name}' already has an active Deployment '${running.info.deploymentId}'`)
      const d = create(group, input.revision, scripts.shift() ?? { kind: 'succeed' }, 'user', input.description ?? '')
      return { deploymentId: d.info.deploymentId }
    },
    GetDeployment: input => ({ deploymentInfo: get(input.deploymentId).info }),
    ListDeploymentTargets: input => {
      const d = get(input.deploymentId)
      if (d.info.status === 'Created' || d.info.status === 'Queued') throw new CodeDeployError('DeploymentNotStartedException', 'The specified deployment has not started.')
      return { targetIds: [d.target.targetId] }
    },
    BatchGetDeploymentTargets: input => {
      const d = get(input.deploymentId)
      const ids: string[] = input.targetIds ?? []
      if (ids.length > 25) throw new CodeDeployError('DeploymentTargetListSizeExceededException', 'The maximum number of targets that can be associated with an Amazon ECS deployment is 25.')
      for (const id of ids) if (id !== d.target.targetId) throw new CodeDeployError('DeploymentTargetDoesNotExistException', `The provided target ID does not exist: ${id}`)
      return { deploymentTargets: ids.map(() => ({ deploymentTargetType: 'ECSTarget', ecsTarget: d.target })) }
    },
    StopDeployment: input => {
      const d = get(input.deploymentId)
      if (['Succeeded', 'Failed', 'Stopped'].includes(d.info.status)) throw new CodeDeployError('DeploymentAlreadyCompletedException', `The deployment ${d.info.deploymentId} is already complete.`)
      d.rollbackOnStop = Boolean(input.autoRollbackEnabled)
      fail(d, 'MANUAL_STOP', 'The deployment was stopped by a user.', 'Stopped')
      return { status: 'Pending', statusMessage: 'Stopping Pending. Stopping to schedule commands in the deployment instances' }
    },
    ContinueDeployment: input => {
      const d = get(input.deploymentId)
      if (['Succeeded', 'Failed', 'Stopped'].includes(d.info.status)) throw new CodeDeployError('DeploymentAlreadyCompletedException', `The deployment ${d.info.deploymentId} is already complete.`)
      if (!d.resume) throw new CodeDeployError('DeploymentIsNotInReadyStateException', "The deployment does not have a status of Ready and can't continue yet.")
      d.resume(Date.now())
      return {}
    }
  }

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    let body = ''
    request.on('data', chunk => (body += chunk))
    request.on('end', () => {
      const operation = String(request.headers['x-amz-target'] ?? '').replace(PREFIX, '')
      let input: Obj = {}
      const answer = (status: number, payload: Obj): void => {
        calls.push({ at: Date.now(), operation, input, status })
        response.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' })
        response.end(JSON.stringify(payload))
      }
      try {
        input = body ? JSON.parse(body) : {}
        const handler = operations[operation]
        if (!handler) throw new CodeDeployError('UnknownOperationException', `Unknown operation ${operation}`)
        const throttle = options.throttle
        if (throttle && throttled < throttle.count && (!throttle.operations || throttle.operations.includes(operation))) {
          throttled++
          throw new CodeDeployError('ThrottlingException', 'Rate exceeded')
        }
        advance(Date.now())
        const output = handler(input)
        const lose = options.lostAnswers
        if (lose && lost < lose.count && lose.operations.includes(operation)) {
          lost++
          throw new CodeDeployError('InternalFailure', 'We encountered an internal error. Please try again.', 500)
        }
        answer(200, output)
      } catch (error) {
        const e = error instanceof CodeDeployError ? error : new CodeDeployError('InternalFailure', String(error), 500)
        answer(e.status, { __type: e.code, message: e.message })
      }
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    scripts,
    deployment: id => deployments.get(id)?.info,
    close: () => new Promise(resolve => { server.closeAllConnections(); server.close(() => resolve()) })
  }
}
