// The scripted ECS endpoint, driven through the real AWS SDK over HTTP.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import {
  ECSClient,
  ClientException,
  ClusterNotFoundException,
  DeregisterTaskDefinitionCommand,
  DescribeClustersCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  InvalidParameterException,
  ListTaskDefinitionsCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  ServerException,
  ServiceNotActiveException,
  ServiceNotFoundException,
  TagResourceCommand,
  UpdateServiceCommand
} from '@aws-sdk/client-ecs'
import type { Deployment, RegisterTaskDefinitionCommandInput, Service } from '@aws-sdk/client-ecs'
import { defaultSeed, startScriptedEcs } from '../test/support/scripted-ecs.js'
import type { ScriptedEcs, ScriptedEcsOptions } from '../test/support/scripted-ecs.js'

const client = (server: ScriptedEcs, maxAttempts = 3) =>
  new ECSClient({
    region: 'us-east-1',
    endpoint: server.endpoint,
    credentials: { accessKeyId: 'AKIDSCRIPTED', secretAccessKey: 'scripted' },
    maxAttempts
  })

/** A copy of the seeded `web` task definition with a new tag on the `web` container. */
function webTaskDef(tag: string, extra: Partial<RegisterTaskDefinitionCommandInput> = {}): RegisterTaskDefinitionCommandInput {
  return {
    family: 'web',
    networkMode: 'awsvpc',
    requiresCompatibilities: ['FARGATE'],
    cpu: '256',
    memory: '512',
    containerDefinitions: [
      { name: 'web', image: `registry.example/web:${tag}`, essential: true, portMappings: [{ containerPort: 8080 }] },
      { name: 'log-router', image: 'registry.example/fluent-bit:2', essential: true }
    ],
    ...extra
  }
}

/** Starts a scripted endpoint and a client for one test, closes the endpoint afterwards. */
async function withServer<T>(options: ScriptedEcsOptions, body: (ecs: ECSClient, server: ScriptedEcs) => Promise<T>) {
  const server = await startScriptedEcs(options)
  const ecs = client(server)
  try {
    return await body(ecs, server)
  } finally {
    ecs.destroy()
    await server.close()
  }
}

async function describeWeb(ecs: ECSClient, name = 'web'): Promise<Service> {
  const out = await ecs.send(new DescribeServicesCommand({ cluster: 'default', services: [name] }))
  return out.services![0]!
}

/** Polls DescribeServices until `done` holds (or fails the test after timeoutMs); returns every state seen. */
async function pollUntil(ecs: ECSClient, done: (s: Service) => boolean, timeoutMs = 5000): Promise<Service[]> {
  const seen: Service[] = []
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const service = await describeWeb(ecs)
    seen.push(service)
    if (done(service)) return seen
    if (Date.now() > deadline) throw new Error(`not done after ${timeoutMs} ms: ${JSON.stringify(service.deployments)}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

const deployment = (s: Service, id: string): Deployment | undefined => s.deployments?.find((d) => d.id === id)

/** Registers the task definition and points the service at it; returns the new deployment and its ARN. */
async function roll(ecs: ECSClient, tag: string) {
  const registered = await ecs.send(new RegisterTaskDefinitionCommand(webTaskDef(tag)))
  const arn = registered.taskDefinition!.taskDefinitionArn!
  const updated = await ecs.send(new UpdateServiceCommand({ cluster: 'default', service: 'web', taskDefinition: arn }))
  const primary = updated.service!.deployments!.find((d) => d.status === 'PRIMARY')!
  expect(primary.taskDefinition).toBe(arn)
  return { arn, id: primary.id! }
}

/** The deployment `id` failed: FAILED, or already gone because ECS's circuit-breaker rollback replaced it. */
const failedOrRolledBack = (s: Service, id: string): boolean => deployment(s, id)?.rolloutState === 'FAILED' || deployment(s, id) === undefined

/** When the server received the UpdateService call that started a deployment: its t0. */
const updatedAt = (server: ScriptedEcs) => server.calls.filter((c) => c.operation === 'UpdateService').at(-1)!.at

const REV1 = 'arn:aws:ecs:us-east-1:123456789012:task-definition/web:1'

describe('scripted ECS endpoint: the seeded service', () => {
  let server: ScriptedEcs
  let ecs: ECSClient
  beforeAll(async () => {
    server = await startScriptedEcs()
    ecs = client(server)
  })
  afterAll(async () => {
    ecs.destroy()
    await server.close()
  })

  it('describes the default service with one completed PRIMARY deployment', async () => {
    const service = await describeWeb(ecs)
    expect(service).toMatchObject({
      serviceName: 'web',
      serviceArn: 'arn:aws:ecs:us-east-1:123456789012:service/default/web',
      clusterArn: 'arn:aws:ecs:us-east-1:123456789012:cluster/default',
      status: 'ACTIVE',
      desiredCount: 2,
      runningCount: 2,
      pendingCount: 0,
      taskDefinition: REV1,
      deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: true }, maximumPercent: 200, minimumHealthyPercent: 100 }
    })
    expect(service.deployments).toHaveLength(1)
    expect(service.deployments![0]).toMatchObject({ status: 'PRIMARY', rolloutState: 'COMPLETED', runningCount: 2, desiredCount: 2, taskDefinition: REV1 })
    expect(service.deployments![0]!.id).toMatch(/^ecs-svc\/\d{19}$/)
    expect(service.deployments![0]!.createdAt).toBeInstanceOf(Date)
    expect(service.events![0]!.message).toBe('(service web) has reached a steady state.')
  })

  it('describes its task definition by family, family:revision and ARN, with tags on request', async () => {
    for (const ref of ['web', 'web:1', REV1]) {
      const out = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: ref, include: ['TAGS'] }))
      expect(out.taskDefinition).toMatchObject({ family: 'web', revision: 1, status: 'ACTIVE', taskDefinitionArn: REV1 })
      expect(out.taskDefinition!.containerDefinitions!.map((c) => [c.name, c.image])).toEqual([
        ['web', 'registry.example/web:1.0.0'],
        ['log-router', 'registry.example/fluent-bit:2']
      ])
      expect(out.taskDefinition!.registeredAt).toBeInstanceOf(Date)
      expect(out.tags).toEqual([])
    }
  })

  it('lists the running tasks of the service and describes them', async () => {
    const listed = await ecs.send(new ListTasksCommand({ cluster: 'default', serviceName: 'web' }))
    expect(listed.taskArns).toHaveLength(2)
    const described = await ecs.send(new DescribeTasksCommand({ cluster: 'default', tasks: [...listed.taskArns!, 'nope'] }))
    expect(described.tasks!.map((t) => [t.lastStatus, t.desiredStatus, t.taskDefinitionArn])).toEqual([
      ['RUNNING', 'RUNNING', REV1],
      ['RUNNING', 'RUNNING', REV1]
    ])
    expect(described.tasks![0]!.containers!.map((c) => c.name)).toEqual(['web', 'log-router'])
    expect(described.failures).toEqual([{ arn: 'nope', reason: 'MISSING' }])
  })

  it('describes the default cluster, and reports unknown ones as MISSING', async () => {
    const out = await ecs.send(new DescribeClustersCommand({ clusters: ['default', 'elsewhere'] }))
    expect(out.clusters).toEqual([
      expect.objectContaining({ clusterName: 'default', status: 'ACTIVE', activeServicesCount: 1, runningTasksCount: 2 })
    ])
    expect(out.failures).toEqual([{ arn: 'arn:aws:ecs:us-east-1:123456789012:cluster/elsewhere', reason: 'MISSING' }])
  })
})

describe('scripted ECS endpoint: task definitions', () => {
  it('registers revisions per family with tags, lists, tags and deregisters them', async () => {
    await withServer({}, async (ecs) => {
      const two = await ecs.send(new RegisterTaskDefinitionCommand(webTaskDef('1.1.0', { tags: [{ key: 'commit', value: 'abc123' }] })))
      expect(two.taskDefinition).toMatchObject({
        family: 'web',
        revision: 2,
        status: 'ACTIVE',
        taskDefinitionArn: 'arn:aws:ecs:us-east-1:123456789012:task-definition/web:2',
        compatibilities: ['EC2', 'FARGATE']
      })
      expect(two.taskDefinition!.requiresAttributes!.length).toBeGreaterThan(0)
      expect(two.tags).toEqual([{ key: 'commit', value: 'abc123' }])
      const other = await ecs.send(new RegisterTaskDefinitionCommand({ ...webTaskDef('x'), family: 'worker' }))
      expect(other.taskDefinition!.revision).toBe(1)

      await ecs.send(new TagResourceCommand({ resourceArn: two.taskDefinition!.taskDefinitionArn, tags: [{ key: 'run', value: '42' }] }))
      const described = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'web', include: ['TAGS'] }))
      expect(described.taskDefinition!.revision).toBe(2)
      expect(described.tags).toEqual([{ key: 'commit', value: 'abc123' }, { key: 'run', value: '42' }])

      const desc = await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: 'web', sort: 'DESC' }))
      expect(desc.taskDefinitionArns!.map((a) => a.split('/')[1])).toEqual(['web:2', 'web:1'])

      const gone = await ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: 'web:2' }))
      expect(gone.taskDefinition).toMatchObject({ status: 'INACTIVE', revision: 2 })
      expect(gone.taskDefinition!.deregisteredAt).toBeInstanceOf(Date)
      const active = await ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: 'web' }))
      expect(active.taskDefinitionArns).toEqual([REV1])
      const inactive = await ecs.send(new ListTaskDefinitionsCommand({ status: 'INACTIVE' }))
      expect(inactive.taskDefinitionArns!.map((a) => a.split('/')[1])).toEqual(['web:2'])
      // The family now resolves to its latest ACTIVE revision again.
      const latest = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'web' }))
      expect(latest.taskDefinition!.revision).toBe(1)
    })
  })

  it('rejects what ECS rejects, as ClientException, and describes unknown ones as ECS does', async () => {
    await withServer({}, async (ecs, server) => {
      const noImage = webTaskDef('1')
      delete noImage.containerDefinitions![0]!.image
      const cases: [RegisterTaskDefinitionCommandInput, string][] = [
        [noImage, 'Container.image should not be null or empty.'],
        [{ ...webTaskDef('1'), containerDefinitions: [] }, 'Container list cannot be empty.'],
        [{ ...webTaskDef('1'), family: '' }, 'Family must not be null or empty.'],
        [{ ...webTaskDef('1'), containerDefinitions: [{ image: 'x:1' }] }, 'Container.name should not be null or empty.']
      ]
      for (const [input, message] of cases) {
        const err = await ecs.send(new RegisterTaskDefinitionCommand(input)).catch((e: unknown) => e)
        expect(err).toBeInstanceOf(ClientException)
        expect(err).toMatchObject({ name: 'ClientException', message, $metadata: { httpStatusCode: 400 } })
      }
      const unknown = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'nope:3' })).catch((e: unknown) => e)
      expect(unknown).toBeInstanceOf(ClientException)
      expect((unknown as Error).message).toBe('Unable to describe task definition.')
      // Nothing was registered by the rejected calls.
      const list = await ecs.send(new ListTaskDefinitionsCommand({}))
      expect(list.taskDefinitionArns).toEqual([REV1])
      expect(server.calls.filter((c) => c.operation === 'RegisterTaskDefinition').map((c) => c.status)).toEqual([400, 400, 400, 400])
    })
  })
})

describe('scripted ECS endpoint: rollouts', () => {
  it('plays a healthy rollout: tasks start progressively, COMPLETED after settleMs, old deployment gone', async () => {
    await withServer({ settleMs: 300 }, async (ecs, server) => {
      const { arn, id } = await roll(ecs, '1.1.0')
      const first = await describeWeb(ecs)
      expect(deployment(first, id)).toMatchObject({ status: 'PRIMARY', rolloutState: 'IN_PROGRESS', desiredCount: 2 })
      expect(first.deployments!.find((d) => d.id !== id)).toMatchObject({ status: 'ACTIVE', taskDefinition: REV1 })
      expect(server.settledAt(id)).toBeUndefined()

      const seen = await pollUntil(ecs, (s) => deployment(s, id)?.rolloutState === 'COMPLETED')
      // Progress was visible: some state with the new deployment part way up.
      expect(seen.some((s) => deployment(s, id)!.runningCount! > 0 && deployment(s, id)!.rolloutState === 'IN_PROGRESS')).toBe(true)
      const done = seen.at(-1)!
      expect(done.deployments).toHaveLength(1)
      expect(done).toMatchObject({ taskDefinition: arn, runningCount: 2, desiredCount: 2, pendingCount: 0 })
      expect(deployment(done, id)).toMatchObject({ runningCount: 2, pendingCount: 0, rolloutStateReason: `ECS deployment ${id} completed.` })
      const messages = done.events!.map((e) => e.message)
      expect(messages.slice(0, 2)).toEqual(['(service web) has reached a steady state.', `(service web) (deployment ${id}) deployment completed.`])
      expect(messages.filter((m) => /^\(service web\) has started 1 tasks: \(task [0-9a-f]{32}\)\.$/.test(m!))).toHaveLength(2)
      expect(messages.some((m) => m!.startsWith('(service web) has stopped 1 running tasks'))).toBe(true)
      // Events are newest first.
      const times = done.events!.map((e) => e.createdAt!.getTime())
      expect([...times].sort((a, b) => b - a)).toEqual(times)

      // Settled exactly settleMs after the UpdateService arrived.
      expect(server.settledAt(id)).toBe(updatedAt(server) + 300)
      const running = await ecs.send(new ListTasksCommand({ cluster: 'default', serviceName: 'web' }))
      const tasks = await ecs.send(new DescribeTasksCommand({ cluster: 'default', tasks: running.taskArns }))
      expect(tasks.tasks!.map((t) => t.taskDefinitionArn)).toEqual([arn, arn])
      expect(server.calls.find((c) => c.operation === 'UpdateService')).toMatchObject({
        input: { cluster: 'default', service: 'web', taskDefinition: arn },
        status: 200
      })
    })
  })

  it('forceNewDeployment with the same task definition starts a new deployment; a count change alone does not', async () => {
    await withServer({ settleMs: 200 }, async (ecs) => {
      const scaled = await ecs.send(new UpdateServiceCommand({ service: 'web', desiredCount: 3 }))
      expect(scaled.service!.deployments).toHaveLength(1)
      await pollUntil(ecs, (s) => s.runningCount === 3)
      const forced = await ecs.send(new UpdateServiceCommand({ service: 'web', forceNewDeployment: true }))
      const primary = forced.service!.deployments!.find((d) => d.status === 'PRIMARY')!
      expect(forced.service!.deployments).toHaveLength(2)
      expect(primary).toMatchObject({ taskDefinition: REV1, rolloutState: 'IN_PROGRESS', desiredCount: 3 })
      const done = (await pollUntil(ecs, (s) => deployment(s, primary.id!)?.rolloutState === 'COMPLETED')).at(-1)!
      expect(done.runningCount).toBe(3)
    })
  })

  it('plays a crash: stopped tasks with reasons, FAILED by the circuit breaker, then ECS rolls back', async () => {
    await withServer({ settleMs: 300, failAfterMs: 400 }, async (ecs, server) => {
      const seeded = (await describeWeb(ecs)).deployments![0]!
      const { arn, id } = await roll(ecs, '2.0.0-crash')
      const seen = await pollUntil(ecs, (s) => deployment(s, id)?.rolloutState === 'FAILED')
      const failed = seen.at(-1)!
      expect(deployment(failed, id)).toMatchObject({
        rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.',
        runningCount: 0,
        failedTasks: 4
      })
      expect(server.settledAt(id)).toBe(updatedAt(server) + 400)
      // ECS puts the last COMPLETED deployment back under its own id, and says so in its reason.
      const rollback = failed.deployments!.find((d) => d.status === 'PRIMARY')!
      expect(rollback).toMatchObject({
        id: seeded.id,
        createdAt: seeded.createdAt,
        taskDefinition: REV1,
        rolloutState: 'IN_PROGRESS',
        rolloutStateReason: `ECS deployment circuit breaker: rolling back to deploymentId ${seeded.id}.`
      })
      expect(deployment(failed, id)!.status).toBe('ACTIVE')
      expect(failed.deployments).toHaveLength(2)
      expect(failed.taskDefinition).toBe(REV1)
      const messages = failed.events!.map((e) => e.message)
      expect(messages).toContain(`(service web) (deployment ${id}) deployment failed: tasks failed to start.`)
      expect(messages).toContain(`(service web) (deployment ${id}) rolling back to deployment ${seeded.id} (taskDefinition ${REV1}).`)

      const stopped = await ecs.send(new ListTasksCommand({ cluster: 'default', serviceName: 'web', desiredStatus: 'STOPPED', family: 'web' }))
      expect(stopped.taskArns).toHaveLength(4)
      const tasks = (await ecs.send(new DescribeTasksCommand({ cluster: 'default', tasks: stopped.taskArns }))).tasks!
      for (const task of tasks) {
        expect(task).toMatchObject({
          taskDefinitionArn: arn,
          lastStatus: 'STOPPED',
          desiredStatus: 'STOPPED',
          stoppedReason: 'Essential container in task exited',
          stopCode: 'EssentialContainerExited',
          startedBy: id
        })
        expect(task.stoppedAt).toBeInstanceOf(Date)
        expect(task.containers!.find((c) => c.name === 'web')).toMatchObject({ lastStatus: 'STOPPED', exitCode: 1, reason: 'Container exited with code 1' })
      }

      const back = await pollUntil(ecs, (s) => deployment(s, rollback.id!)?.rolloutState === 'COMPLETED')
      const final = back.at(-1)!
      expect(final.deployments!.map((d) => d.id)).toEqual([rollback.id])
      expect(final).toMatchObject({ taskDefinition: REV1, runningCount: 2 })
      expect(server.settledAt(rollback.id!)).toBe(updatedAt(server) + 400 + 300)
    })
  })

  it('plays a failed image pull without rollback: FAILED stays PRIMARY; the caller can roll back itself', async () => {
    await withServer({ settleMs: 200, failAfterMs: 300, circuitBreakerRollback: false }, async (ecs, server) => {
      const { id } = await roll(ecs, '2.0.0-pullfail')
      const failed = (await pollUntil(ecs, (s) => deployment(s, id)?.rolloutState === 'FAILED')).at(-1)!
      expect(failed.deploymentConfiguration!.deploymentCircuitBreaker).toEqual({ enable: true, rollback: false })
      expect(deployment(failed, id)!.status).toBe('PRIMARY')
      expect(failed.deployments!.find((d) => d.id !== id)).toMatchObject({ status: 'ACTIVE', taskDefinition: REV1, runningCount: 2 })
      expect(failed.events!.some((e) => e.message!.includes('rolling back'))).toBe(false)

      const stopped = await ecs.send(new ListTasksCommand({ serviceName: 'web', desiredStatus: 'STOPPED' }))
      const [task] = (await ecs.send(new DescribeTasksCommand({ tasks: stopped.taskArns!.slice(0, 1) }))).tasks!
      const reason = 'CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref registry.example/web:2.0.0-pullfail: not found'
      expect(task).toMatchObject({ stopCode: 'TaskFailedToStart', stoppedReason: reason })
      expect(task!.startedAt).toBeUndefined()
      const web = task!.containers!.find((c) => c.name === 'web')!
      expect(web.reason).toBe(reason)
      expect(web.exitCode).toBeUndefined()

      // The action's own rollback: back to revision 1, which completes normally.
      const undo = await ecs.send(new UpdateServiceCommand({ service: 'web', taskDefinition: 'web:1' }))
      const undoId = undo.service!.deployments!.find((d) => d.status === 'PRIMARY')!.id!
      const final = (await pollUntil(ecs, (s) => deployment(s, undoId)?.rolloutState === 'COMPLETED')).at(-1)!
      expect(final.deployments!.map((d) => d.taskDefinition)).toEqual([REV1])
      expect(server.settledAt(undoId)).toBeDefined()
    })
  })

  it('plays unhealthy tasks: stopped for failed ELB or container health checks', async () => {
    await withServer({ settleMs: 200, failAfterMs: 300 }, async (ecs) => {
      const { id } = await roll(ecs, 'unhealthy')
      // FAILED shows for settleMs only: ECS's own rollback then takes its place. A busy machine's poll may
      // first look after that, so either is the end of the failed deployment this case is about.
      await pollUntil(ecs, (s) => failedOrRolledBack(s, id))
      const stopped = await ecs.send(new ListTasksCommand({ desiredStatus: 'STOPPED', startedBy: id }))
      const tasks = (await ecs.send(new DescribeTasksCommand({ tasks: stopped.taskArns }))).tasks!
      expect(tasks.length).toBeGreaterThan(0)
      for (const t of tasks) expect(t.stoppedReason).toMatch(/^Task failed ELB health checks in \(target-group arn:aws:elasticloadbalancing:/)

      const withCheck = webTaskDef('unhealthy-2')
      withCheck.containerDefinitions![0]!.healthCheck = { command: ['CMD-SHELL', 'curl -f localhost:8080/health'] }
      const registered = await ecs.send(new RegisterTaskDefinitionCommand(withCheck))
      const upd = await ecs.send(new UpdateServiceCommand({ service: 'web', taskDefinition: registered.taskDefinition!.taskDefinitionArn }))
      const id2 = upd.service!.deployments![0]!.id!
      await pollUntil(ecs, (s) => failedOrRolledBack(s, id2))
      const stopped2 = await ecs.send(new ListTasksCommand({ desiredStatus: 'STOPPED', startedBy: id2 }))
      const [t2] = (await ecs.send(new DescribeTasksCommand({ tasks: stopped2.taskArns }))).tasks!
      expect(t2!.stoppedReason).toBe('Task failed container health checks')
      expect(t2!.containers!.find((c) => c.name === 'web')!.healthStatus).toBe('UNHEALTHY')
    })
  })

  it('plays a vanishing deployment: gone after failAfterMs, a reasonless PRIMARY on the previous task definition', async () => {
    await withServer({ settleMs: 300, failAfterMs: 300 }, async (ecs, server) => {
      const { id } = await roll(ecs, 'vanish')
      const seen = await pollUntil(ecs, (s) => deployment(s, id) === undefined)
      expect(seen.slice(0, -1).every((s) => deployment(s, id)!.rolloutState === 'IN_PROGRESS')).toBe(true)
      const after = seen.at(-1)!
      const primary = after.deployments!.find((d) => d.status === 'PRIMARY')!
      expect(primary).toMatchObject({ taskDefinition: REV1, rolloutState: 'IN_PROGRESS' })
      expect(primary.rolloutStateReason).toBeUndefined()
      expect(after.events!.some((e) => e.message!.includes('deployment failed'))).toBe(false)
      expect(server.settledAt(id)).toBe(updatedAt(server) + 300)
      expect(server.settledAt(primary.id!)).toBeUndefined()
    })
  })

  it('plays a rollout that never finishes: IN_PROGRESS with nothing running', async () => {
    await withServer({ settleMs: 100, failAfterMs: 100 }, async (ecs, server) => {
      const { id } = await roll(ecs, 'never')
      await new Promise((r) => setTimeout(r, 400))
      const service = await describeWeb(ecs)
      expect(deployment(service, id)).toMatchObject({ status: 'PRIMARY', rolloutState: 'IN_PROGRESS', runningCount: 0, pendingCount: 2 })
      expect(service.deployments).toHaveLength(2)
      expect(service.events![0]!.message).toContain('was unable to place a task')
      expect(server.settledAt(id)).toBeUndefined()
    })
  })

  it('without rolloutState: no rolloutState fields; success is the only deployment with running == desired', async () => {
    await withServer({ settleMs: 300, rolloutState: false }, async (ecs) => {
      const before = await describeWeb(ecs)
      expect(before.deployments![0]!.rolloutState).toBeUndefined()
      expect(before.deploymentConfiguration!.deploymentCircuitBreaker).toEqual({ enable: false, rollback: false })
      const { id } = await roll(ecs, '1.2.0')
      const seen = await pollUntil(ecs, (s) => s.deployments!.length === 1 && s.deployments![0]!.id === id)
      for (const s of seen) for (const d of s.deployments!) {
        expect(d.rolloutState).toBeUndefined()
        expect(d.rolloutStateReason).toBeUndefined()
      }
      expect(seen.at(-1)!.deployments![0]).toMatchObject({ runningCount: 2, desiredCount: 2 })
    })
  })

  it('without rolloutState a crashing deployment never fails, it keeps failing tasks', async () => {
    await withServer({ settleMs: 100, failAfterMs: 150, rolloutState: false }, async (ecs) => {
      const { id } = await roll(ecs, 'crash')
      await new Promise((r) => setTimeout(r, 400))
      const service = await describeWeb(ecs)
      expect(deployment(service, id)).toMatchObject({ status: 'PRIMARY', runningCount: 0 })
      expect(deployment(service, id)!.failedTasks).toBeGreaterThan(4)
    })
  })
})

describe('scripted ECS endpoint: concurrent deploys, circuit breaker off, tasks that die later, paging', () => {
  it('a second UpdateService mid-rollout makes a new PRIMARY; the one it replaced turns ACTIVE and is drained', async () => {
    await withServer({ settleMs: 400 }, async (ecs, server) => {
      const ours = await roll(ecs, '2.0.0')
      const theirs = await roll(ecs, '3.0.0')
      const both = await describeWeb(ecs)
      expect(both.deployments!.map((d) => [d.id, d.status])).toEqual([[theirs.id, 'PRIMARY'], [ours.id, 'ACTIVE'], [both.deployments![2]!.id, 'ACTIVE']])
      // Replaced, not failed: ECS leaves its rolloutState as it was.
      expect(deployment(both, ours.id)).toMatchObject({ taskDefinition: ours.arn, rolloutState: 'IN_PROGRESS' })
      expect(deployment(both, theirs.id)!.createdAt!.getTime()).toBeGreaterThanOrEqual(deployment(both, ours.id)!.createdAt!.getTime())
      expect(both.taskDefinition).toBe(theirs.arn)
      const done = (await pollUntil(ecs, (s) => deployment(s, theirs.id)?.rolloutState === 'COMPLETED')).at(-1)!
      expect(done.deployments!.map((d) => d.id)).toEqual([theirs.id])
      const running = await ecs.send(new ListTasksCommand({ serviceName: 'web' }))
      const tasks = (await ecs.send(new DescribeTasksCommand({ tasks: running.taskArns }))).tasks!
      expect(tasks.map((t) => [t.taskDefinitionArn, t.startedBy])).toEqual([[theirs.arn, theirs.id], [theirs.arn, theirs.id]])
      // Ours never settled on its own: it was taken out when theirs completed.
      expect(server.settledAt(ours.id)).toBe(server.settledAt(theirs.id))
    })
  })

  it('the same revision with forceNewDeployment mid-rollout makes a new PRIMARY of that revision', async () => {
    await withServer({ settleMs: 400 }, async (ecs) => {
      const ours = await roll(ecs, '2.0.0')
      const forced = await ecs.send(new UpdateServiceCommand({ service: 'web', taskDefinition: ours.arn, forceNewDeployment: true }))
      const [primary, replaced] = forced.service!.deployments!
      expect(primary).toMatchObject({ status: 'PRIMARY', taskDefinition: ours.arn, rolloutState: 'IN_PROGRESS' })
      expect(primary!.id).not.toBe(ours.id)
      expect(replaced).toMatchObject({ id: ours.id, status: 'ACTIVE', taskDefinition: ours.arn })
      const done = (await pollUntil(ecs, (s) => deployment(s, primary!.id!)?.rolloutState === 'COMPLETED')).at(-1)!
      expect(done.deployments!.map((d) => d.id)).toEqual([primary!.id])
    })
  })

  it('with the circuit breaker off, crashing tasks are replaced for ever and the deployment stays IN_PROGRESS', async () => {
    const services = defaultSeed().map((seed) => ({ ...seed, circuitBreaker: { enable: false, rollback: false } }))
    await withServer({ settleMs: 100, failAfterMs: 150, services }, async (ecs) => {
      const { id } = await roll(ecs, 'crash')
      await new Promise((r) => setTimeout(r, 500))
      const service = await describeWeb(ecs)
      expect(service.deploymentConfiguration!.deploymentCircuitBreaker).toEqual({ enable: false, rollback: false })
      expect(deployment(service, id)).toMatchObject({ status: 'PRIMARY', rolloutState: 'IN_PROGRESS', runningCount: 0 })
      expect(deployment(service, id)!.failedTasks).toBeGreaterThan(4)
      expect(service.events!.some((e) => /deployment failed|rolling back/.test(e.message!))).toBe(false)
      const stopped = await ecs.send(new ListTasksCommand({ startedBy: id, desiredStatus: 'STOPPED' }))
      expect(stopped.taskArns!.length).toBe(deployment(service, id)!.failedTasks)
    })
  })

  it('plays tasks that run a while, then die: failedTasks stays 0, the breaker never fires, replacements follow', async () => {
    await withServer({ settleMs: 150, taskLifeMs: 200 }, async (ecs) => {
      const { id } = await roll(ecs, '4.0.0-dies')
      const seen = await pollUntil(ecs, (s) => s.events!.filter((e) => e.message!.startsWith('(service web) has started 2 tasks')).length >= 3, 5000)
      for (const s of seen) expect(deployment(s, id)).toMatchObject({ rolloutState: 'IN_PROGRESS', failedTasks: 0 })
      expect(seen.some((s) => deployment(s, id)!.runningCount === 2)).toBe(true)
      const stopped = await ecs.send(new ListTasksCommand({ startedBy: id, desiredStatus: 'STOPPED' }))
      const tasks = (await ecs.send(new DescribeTasksCommand({ tasks: stopped.taskArns }))).tasks!
      expect(tasks.length).toBeGreaterThanOrEqual(4)
      for (const t of tasks) {
        expect(t).toMatchObject({ startedBy: id, stopCode: 'EssentialContainerExited', stoppedReason: 'Essential container in task exited' })
        expect(t.stoppedAt!.getTime() - t.startedAt!.getTime()).toBeGreaterThanOrEqual(200)
        expect(t.containers!.find((c) => c.name === 'web')).toMatchObject({ exitCode: 1, reason: 'Container exited with code 1' })
      }
    })
  })

  it('pages ListTasks by maxResults (default 100) and nextToken; startedBy takes no other filter', async () => {
    const services = defaultSeed().map((seed) => ({ ...seed, desiredCount: 130, circuitBreaker: { enable: false, rollback: false } }))
    await withServer({ settleMs: 100, failAfterMs: 150, services }, async (ecs) => {
      const { id } = await roll(ecs, 'crash')
      await pollUntil(ecs, (s) => deployment(s, id)!.failedTasks! >= 260)
      const first = await ecs.send(new ListTasksCommand({ startedBy: id, desiredStatus: 'STOPPED' }))
      expect(first.taskArns).toHaveLength(100)
      expect(first.nextToken).toBeDefined()
      const all = [...first.taskArns!]
      for (let token = first.nextToken; token; ) {
        const page = await ecs.send(new ListTasksCommand({ startedBy: id, desiredStatus: 'STOPPED', nextToken: token, maxResults: 70 }))
        expect(page.taskArns!.length).toBeLessThanOrEqual(70)
        all.push(...page.taskArns!)
        token = page.nextToken
      }
      expect(all.length).toBeGreaterThanOrEqual(260)
      expect(new Set(all).size).toBe(all.length)
      await expect(ecs.send(new ListTasksCommand({ startedBy: id, serviceName: 'web' }))).rejects.toThrow(InvalidParameterException)
      await expect(ecs.send(new ListTasksCommand({ startedBy: id, maxResults: 101 }))).rejects.toThrow(/maxResults must be between 1 and 100/)
    })
  })
})

describe('scripted ECS endpoint: errors', () => {
  it('answers throttling as ThrottlingException (HTTP 400), and the SDK retries through a short storm', async () => {
    await withServer({ throttle: { operations: ['DescribeServices'], count: 3 } }, async (ecs, server) => {
      const once = client(server, 1)
      const err = await once.send(new DescribeServicesCommand({ services: ['web'] })).catch((e: unknown) => e)
      once.destroy()
      expect(err).toMatchObject({ name: 'ThrottlingException', message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } })
      // Other operations are not throttled.
      await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: 'web' }))
      // Two throttled answers left: the SDK's third attempt gets through.
      const service = await describeWeb(ecs)
      expect(service.serviceName).toBe('web')
      expect(server.calls.map((c) => `${c.operation}:${c.status}`)).toEqual([
        'DescribeServices:400',
        'DescribeTaskDefinition:200',
        'DescribeServices:400',
        'DescribeServices:400',
        'DescribeServices:200'
      ])
    })
  })

  it('answers injected server errors as ServerException with 500, then 503', async () => {
    await withServer({ serverErrors: { count: 2 } }, async (_ecs, server) => {
      const once = client(server, 1)
      const first = await once.send(new DescribeServicesCommand({ services: ['web'] })).catch((e: unknown) => e)
      const second = await once.send(new ListTasksCommand({})).catch((e: unknown) => e)
      const third = await once.send(new ListTasksCommand({}))
      once.destroy()
      expect(first).toBeInstanceOf(ServerException)
      expect(first).toMatchObject({ $fault: 'server', $metadata: { httpStatusCode: 500 } })
      expect(second).toBeInstanceOf(ServerException)
      expect(second).toMatchObject({ $metadata: { httpStatusCode: 503 } })
      expect(third.taskArns).toHaveLength(2)
    })
  })

  it('answers unknown clusters, services, task definitions and inactive services as ECS does', async () => {
    const seeds = [
      { name: 'web', taskDefinition: { ...webTaskDef('1.0.0') } },
      { name: 'old', status: 'DRAINING' as const, taskDefinition: { ...webTaskDef('0.9.0') } }
    ]
    await withServer({ services: seeds }, async (ecs) => {
      const noCluster = await ecs.send(new DescribeServicesCommand({ cluster: 'nope', services: ['web'] })).catch((e: unknown) => e)
      expect(noCluster).toBeInstanceOf(ClusterNotFoundException)
      expect(noCluster).toMatchObject({ name: 'ClusterNotFoundException', message: 'Cluster not found.' })

      const missing = await ecs.send(new DescribeServicesCommand({ services: ['web', 'ghost'] }))
      expect(missing.services!.map((s) => s.serviceName)).toEqual(['web'])
      expect(missing.failures).toEqual([{ arn: 'arn:aws:ecs:us-east-1:123456789012:service/default/ghost', reason: 'MISSING' }])

      const noService = await ecs.send(new UpdateServiceCommand({ service: 'ghost', forceNewDeployment: true })).catch((e: unknown) => e)
      expect(noService).toBeInstanceOf(ServiceNotFoundException)
      const draining = await ecs.send(new UpdateServiceCommand({ service: 'old', taskDefinition: 'web:1' })).catch((e: unknown) => e)
      expect(draining).toBeInstanceOf(ServiceNotActiveException)
      expect((await describeWeb(ecs, 'old')).status).toBe('DRAINING')
      const noTaskDef = await ecs.send(new UpdateServiceCommand({ service: 'web', taskDefinition: 'web:9' })).catch((e: unknown) => e)
      expect(noTaskDef).toBeInstanceOf(InvalidParameterException)
      expect((noTaskDef as Error).message).toBe('TaskDefinition not found.')
      const noTasks = await ecs.send(new ListTasksCommand({ serviceName: 'ghost' })).catch((e: unknown) => e)
      expect(noTasks).toBeInstanceOf(ServiceNotFoundException)

      // Nothing changed: web still on its first deployment.
      const web = await describeWeb(ecs)
      expect(web.deployments).toHaveLength(1)
      expect(web.taskDefinition).toBe(REV1)
    })
  })

  it('never answers the operations named in hang, and records them with status 0', async () => {
    await withServer({ hang: { operations: ['ListTasks'] } }, async (ecs, server) => {
      const hung = ecs.send(new ListTasksCommand({ serviceName: 'web' }), { abortSignal: AbortSignal.timeout(300) })
      await expect(hung).rejects.toThrow(/abort/i)
      expect((await describeWeb(ecs)).serviceName).toBe('web')
      expect(server.calls.map((c) => [c.operation, c.status])).toEqual([['ListTasks', 0], ['DescribeServices', 200]])
    })
  })

  it('answers an operation it does not speak with UnknownOperationException', async () => {
    await withServer({}, async (_ecs, server) => {
      const res = await fetch(server.endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'AmazonEC2ContainerServiceV20141113.CreateService' },
        body: '{}'
      })
      expect(res.status).toBe(400)
      expect(await res.json()).toMatchObject({ __type: 'UnknownOperationException' })
      expect(server.calls).toEqual([expect.objectContaining({ operation: 'CreateService', status: 400 })])
    })
  })
})

describe('scripted ECS endpoint: for other processes', () => {
  it('serves the recorded calls and settle times over HTTP', async () => {
    await withServer({ settleMs: 100 }, async (ecs, server) => {
      const { id } = await roll(ecs, '1.3.0')
      await pollUntil(ecs, (s) => deployment(s, id)?.rolloutState === 'COMPLETED')
      const calls = (await (await fetch(`${server.endpoint}/_scripted/calls`)).json()) as { operation: string }[]
      expect(calls.map((c) => c.operation).slice(0, 2)).toEqual(['RegisterTaskDefinition', 'UpdateService'])
      expect(calls).toHaveLength(server.calls.length)
      const settled = (await (await fetch(`${server.endpoint}/_scripted/settled`)).json()) as Record<string, number>
      expect(settled[id]).toBe(server.settledAt(id))
    })
  })

  it('runs as a CLI under Node 24, prints ECS_ENDPOINT and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, ['test/support/scripted-ecs.ts', '--port', '0', '--settle-ms', '100', '--throttle', '1'], {
      stdio: ['ignore', 'pipe', 'inherit']
    })
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)))
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once('line', resolve)
        child.once('exit', () => reject(new Error('the CLI exited before printing its endpoint')))
      })
      expect(line).toMatch(/^ECS_ENDPOINT=http:\/\/127\.0\.0\.1:\d+$/)
      const endpoint = line.slice('ECS_ENDPOINT='.length)
      const ecs = client({ endpoint, calls: [], settledAt: () => undefined, close: async () => {} }, 1)
      const throttled = await ecs.send(new DescribeServicesCommand({ services: ['web'] })).catch((e: unknown) => e)
      expect(throttled).toMatchObject({ name: 'ThrottlingException' })
      expect((await describeWeb(ecs)).serviceName).toBe('web')
      ecs.destroy()
    } finally {
      child.kill('SIGTERM')
    }
    expect(await exited).toBe(0)
  })
})
