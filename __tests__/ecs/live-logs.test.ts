// follow-logs on ECS: the container logs of the tasks OUR deployment started, shown while the rollout
// is waited on. The rollout plays on the project's scripted ECS endpoint (ListTasks by startedBy,
// DescribeTasks), the lines come from moto_server's CloudWatch Logs, both through the real SDK.
import { CloudWatchLogsClient, CreateLogGroupCommand, CreateLogStreamCommand, PutLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs'
import { ListTasksCommand } from '@aws-sdk/client-ecs'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { parseInputs } from '../../src/inputs.js'
import { EcsApi } from '../../src/platforms/ecs/client.js'
import { createEcsPlatform } from '../../src/platforms/ecs/index.js'
import { runDeployment, type RunResult } from '../../src/rollout/engine.js'
import { Progress, workflowLog } from '../../src/rollout/progress.js'
import { startMoto, type MotoServer } from '../../test/support/moto.js'
import { defaultSeed, startScriptedEcs, type ScriptedEcs, type SeedService } from '../../test/support/scripted-ecs.js'
import { CREDENTIALS, ecsClient, GITHUB_ENV, inputEnv, REGION } from '../helpers/run.js'
import { commandsRun } from '../helpers/workflow-commands.js'

const GROUP = '/ecs/web'
let moto: MotoServer
let logs: CloudWatchLogsClient

beforeAll(async () => {
  moto = await startMoto()
  logs = new CloudWatchLogsClient({ endpoint: moto.endpoint, region: REGION, credentials: CREDENTIALS })
  await logs.send(new CreateLogGroupCommand({ logGroupName: GROUP }))
}, 60_000)

afterAll(async () => {
  await moto?.stop()
})

/** The default service, its web container writing to CloudWatch Logs through awslogs (stream ecs/web/<task id>). */
function awslogsSeed(): SeedService[] {
  const [seed] = defaultSeed()
  const definition = seed.taskDefinition as { containerDefinitions: Array<Record<string, unknown>> }
  const containers = definition.containerDefinitions.map(c => c.name === 'web'
    ? { ...c, logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': GROUP, 'awslogs-region': REGION, 'awslogs-stream-prefix': 'ecs' } } }
    : c)
  return [{ ...seed, taskDefinition: { ...seed.taskDefinition, containerDefinitions: containers } }]
}

async function putLines(taskId: string, lines: string[]): Promise<void> {
  const logStreamName = `ecs/web/${taskId}`
  await logs.send(new CreateLogStreamCommand({ logGroupName: GROUP, logStreamName }))
  await logs.send(new PutLogEventsCommand({ logGroupName: GROUP, logStreamName, logEvents: lines.map(message => ({ message, timestamp: Date.now() })) }))
}

interface Run {
  result?: RunResult
  error?: Error
  /** The lines as Progress gave them. */
  lines: string[]
  /** What a runner would read (for the workflow commands it would run). */
  stdout: string
}

/** The whole pipeline in-process, its log through the real workflowLog; `onLine` sees each line as it is printed. */
async function deploy(ecs: ScriptedEcs, inputs: Record<string, string>, onLine: (line: string) => void = () => undefined): Promise<Run> {
  const run: Run = { lines: [], stdout: '' }
  const write = (line: string): void => {
    run.stdout += `${line}\n`
  }
  const runner = workflowLog({ info: write, warning: line => write(`::warning::${line}`), startGroup: write, endGroup: () => undefined })
  const progress = new Progress({
    ...runner,
    info: line => {
      run.lines.push(line)
      onLine(line)
      runner.info(line)
    }
  })
  try {
    const request = parseInputs({ ...GITHUB_ENV, ...inputEnv({ platform: 'ecs', service: 'web', timeout: '60s', 'image-tag': '1.1.0', ...inputs }) })
    const api = new EcsApi(request.ecs.cluster, ecsClient(ecs.endpoint))
    api.logsClientConfig = { endpoint: moto.endpoint, credentials: CREDENTIALS }
    run.result = await runDeployment(request, createEcsPlatform(request, api), progress)
  } catch (error) {
    run.error = error as Error
  }
  return run
}

const listTasks = (ecs: ScriptedEcs) => ecs.calls.filter(c => c.operation === 'ListTasks').map(c => c.input as { startedBy?: string; desiredStatus?: string })

describe('ECS live logs (follow-logs)', () => {
  it('shows the lines of our deployment\'s new task while waiting, as data, and never an old task\'s', async () => {
    const ecs = await startScriptedEcs({ services: awslogsSeed(), settleMs: 9000 })
    try {
      // The tasks running before the deploy (the old deployment's) write too: none of it may show.
      const old = await ecsClient(ecs.endpoint).send(new ListTasksCommand({ serviceName: 'web' }))
      const oldIds = (old.taskArns ?? []).map(arn => arn.split('/').at(-1)!)
      expect(oldIds.length).toBeGreaterThan(0)
      for (const id of oldIds) await putLines(id, ['OLD TASK LINE'])

      const written: Promise<void>[] = []
      const startedAt = Date.now()
      const run = await deploy(ecs, {}, line => {
        // The moment the action follows a task: that task's container writes its lines.
        const follows = /following the log of task ([0-9a-f]+), container web/.exec(line)
        if (follows) written.push(putLines(follows[1], ['hello from the new task', '::error::x']))
      })
      await Promise.all(written)
      const seconds = (Date.now() - startedAt) / 1000
      expect(run.error).toBeUndefined()
      expect(run.result).toMatchObject({ status: 'succeeded', ok: true })

      const followed = run.lines.filter(line => /following the log of task/.test(line))
      // `one` (the default): the first task of our revision to run, and no other while it runs.
      expect(followed).toHaveLength(1)
      const id = /task ([0-9a-f]+)/.exec(followed[0])![1]
      expect(oldIds).not.toContain(id)
      // Each line after the task id and the container (Progress puts the time before it).
      expect(run.lines.filter(line => line.endsWith(`${id}/web | hello from the new task`))).toHaveLength(1)
      expect(run.lines.filter(line => line.endsWith(`${id}/web | ::error::x`))).toHaveLength(1)
      // Shown as data: the runner would run no error command from it.
      expect(commandsRun(run.stdout).map(c => c.name)).not.toContain('error')
      expect(run.lines.some(line => line.includes('OLD TASK LINE'))).toBe(false)

      // Only our deployment's tasks, by startedBy, at a modest rhythm (one ListTasks per 5 s).
      const deployment = run.result!.outputs['deployment-id']
      const calls = listTasks(ecs).filter(c => c.desiredStatus === 'RUNNING')
      expect(calls.length).toBeGreaterThan(0)
      for (const call of calls) expect(call.startedBy).toBe(deployment)
      expect(calls.length).toBeLessThanOrEqual(Math.ceil(seconds / 5) + 1)
    } finally {
      await ecs.close()
    }
  }, 60_000)

  it('reads nothing with follow-logs: off', async () => {
    const ecs = await startScriptedEcs({ services: awslogsSeed(), settleMs: 1500 })
    try {
      const run = await deploy(ecs, { 'follow-logs': 'off' })
      expect(run.result).toMatchObject({ status: 'succeeded', ok: true })
      expect(listTasks(ecs)).toEqual([])
      expect(run.lines.some(line => /following the log|live logs/.test(line))).toBe(false)
    } finally {
      await ecs.close()
    }
  }, 30_000)

  it('says why a container without awslogs shows no live logs, and lists no task', async () => {
    const ecs = await startScriptedEcs({ settleMs: 1500 })
    try {
      const run = await deploy(ecs, { 'follow-logs': 'all' })
      expect(run.result).toMatchObject({ status: 'succeeded', ok: true })
      expect(run.lines.filter(line => line.includes("no live logs of the new tasks (follow-logs: all): container 'web' has no logConfiguration"))).toHaveLength(1)
      expect(listTasks(ecs)).toEqual([])
    } finally {
      await ecs.close()
    }
  }, 30_000)
})
