// The ECS pre-deploy step (a one-off task from the new revision) against the scripted ECS endpoint,
// through the real SDK, with its log written to a moto_server's CloudWatch Logs as the task prints it
// and read from there by the action: exit 0 (the deploy goes on), exit 1 (log tail in the reasons, the
// service untouched), never started (stop reason), no capacity (RunTask failures), timed out and
// cancelled (the task stopped), dry run (what would run, nothing run).
import { CloudWatchLogsClient, CreateLogGroupCommand } from '@aws-sdk/client-cloudwatch-logs'
import { DescribeServicesCommand, DescribeTasksCommand } from '@aws-sdk/client-ecs'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { parseInputs } from '../../src/inputs.js'
import { EcsApi } from '../../src/platforms/ecs/client.js'
import { createEcsPlatform } from '../../src/platforms/ecs/index.js'
import { runDeployment } from '../../src/rollout/engine.js'
import { Progress, workflowLog } from '../../src/rollout/progress.js'
import { freePort, startMoto, type MotoServer } from '../../test/support/moto.js'
import { defaultSeed, startScriptedEcs, type ScriptedEcs, type ScriptedEcsOptions, type SeedService } from '../../test/support/scripted-ecs.js'
import { CREDENTIALS, ecsClient, GITHUB_ENV, inputEnv, REGION, type EcsRun } from '../helpers/run.js'
import { commandsRun } from '../helpers/workflow-commands.js'

let moto: MotoServer
const GROUP = '/ecs/web'

beforeAll(async () => {
  moto = await startMoto()
  const logs = new CloudWatchLogsClient({ endpoint: moto.endpoint, region: REGION, credentials: CREDENTIALS })
  await logs.send(new CreateLogGroupCommand({ logGroupName: GROUP }))
})

afterAll(async () => {
  await moto.stop()
})

/** The default service, its app container logging with awslogs to moto (the scripted tasks write there). */
function seedWithLogs(): SeedService[] {
  const [seed] = defaultSeed()
  const definition = seed.taskDefinition as { containerDefinitions: Array<Record<string, unknown>> }
  const [web, router] = definition.containerDefinitions
  const logConfiguration = { logDriver: 'awslogs', options: { 'awslogs-group': GROUP, 'awslogs-region': REGION, 'awslogs-stream-prefix': 'ecs', 'awslogs-endpoint': moto.endpoint } }
  return [{ ...seed, taskDefinition: { ...definition, containerDefinitions: [{ ...web, logConfiguration }, router] } }]
}

interface Run extends EcsRun {
  ecs: ScriptedEcs
  /** What the runner read from the step's stdout, for workflow-command checks. */
  stdout: string
}

/** The whole pipeline in-process against a scripted endpoint; the logs client points at moto. */
async function deploy(inputs: Record<string, string>, options: { seed?: SeedService[]; during?: (ecs: ScriptedEcs, cancel: AbortController) => void; options?: ScriptedEcsOptions; logsEndpoint?: string } = {}): Promise<Run> {
  const ecs = await startScriptedEcs({ settleMs: 800, services: options.seed ?? seedWithLogs(), ...options.options })
  const log: string[] = []
  let stdout = ''
  const commands = { info: (line: string) => ((stdout += `${line}\n`), log.push(line)), warning: (line: string) => log.push(`warning: ${line}`), startGroup: () => undefined, endGroup: () => undefined }
  const progress = new Progress(workflowLog(commands))
  const cancel = new AbortController()
  options.during?.(ecs, cancel)
  try {
    const request = parseInputs({ ...GITHUB_ENV, ...inputEnv({ platform: 'ecs', service: 'web', 'image-tag': '2.0.0', timeout: '30s', ...inputs }) })
    const api = new EcsApi(request.ecs.cluster, ecsClient(ecs.endpoint))
    api.logsClientConfig = { endpoint: options.logsEndpoint ?? moto.endpoint, credentials: CREDENTIALS }
    // As main.ts does: the run's cancellation ends every ECS call the platform makes (StopTask aside).
    const result = await runDeployment(request, createEcsPlatform(request, api, cancel.signal), progress, cancel.signal)
    return { result, log, ecs, stdout }
  } catch (error) {
    return { error: error as Error, log, ecs, stdout }
  } finally {
    await ecs.close()
  }
}

const calls = (run: Run, operation: string) => run.ecs.calls.filter(c => c.operation === operation && c.status === 200)
const input = (run: Run, operation: string) => calls(run, operation)[0]?.input as Record<string, any>

/** The task definition the service runs, as ECS says. */
async function serviceTaskDefinition(ecs: ScriptedEcs): Promise<string | undefined> {
  const out = await ecsClient(ecs.endpoint).send(new DescribeServicesCommand({ cluster: 'default', services: ['web'] }))
  return out.services?.[0]?.taskDefinition
}

describe('ECS pre-deploy task on the scripted endpoint', () => {
  it('runs the command from the new revision in the service network, streams its log, then deploys that revision', async () => {
    const run = await deploy({ 'pre-deploy-command': 'echo migrating 0001_users; echo migrating 0002_orders; exit 0' })
    expect(run.error).toBeUndefined()
    expect(run.result).toMatchObject({ status: 'succeeded', ok: true })
    const task = run.result!.outputs['pre-deploy-task']
    expect(task).toMatch(/^arn:aws:ecs:us-east-1:\d+:task\/default\/[0-9a-f]{32}$/)
    expect(run.result!.outputs['pre-deploy-exit-code']).toBe('0')

    // One registration: the task ran from the very revision UpdateService then deployed.
    expect(calls(run, 'RegisterTaskDefinition')).toHaveLength(1)
    const runTask = input(run, 'RunTask')
    expect(runTask.taskDefinition).toMatch(/task-definition\/web:2$/)
    expect(input(run, 'UpdateService').taskDefinition).toBe(runTask.taskDefinition)
    const order = run.ecs.calls.map(c => c.operation)
    expect(order.indexOf('RunTask')).toBeLessThan(order.indexOf('UpdateService'))
    // The service's own placement: its network, launch type and platform version.
    expect(runTask).toMatchObject({
      cluster: 'default',
      count: 1,
      launchType: 'FARGATE',
      platformVersion: 'LATEST',
      startedBy: 'deploy-service/web/4242',
      networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-0a1b2c3d4e5f60001', 'subnet-0a1b2c3d4e5f60002'], securityGroups: ['sg-0a1b2c3d4e5f60001'], assignPublicIp: 'DISABLED' } },
      overrides: { containerOverrides: [{ name: 'web', command: ['sh', '-c', 'echo migrating 0001_users; echo migrating 0002_orders; exit 0'] }] }
    })
    expect(runTask.clientToken).toMatch(/^[0-9a-f-]{36}$/)

    expect(run.log.filter(line => /web \| migrating/.test(line)).map(line => line.replace(/^\[\+[\d.]+s\] /, ''))).toEqual(['web | migrating 0001_users', 'web | migrating 0002_orders'])
    expect(run.log.some(line => /the pre-deploy step succeeded/.test(line))).toBe(true)
  })

  it('delivers log lines while the task runs, not only at the end', async () => {
    const run = await deploy({ 'pre-deploy-command': 'echo first; sleep 2.5; echo second; exit 0' })
    expect(run.result?.status).toBe('succeeded')
    const first = run.log.findIndex(line => /web \| first$/.test(line))
    const exited = run.log.findIndex(line => /task [0-9a-f]+: (DEPROVISIONING|STOPPED)/.test(line))
    expect(first).toBeGreaterThanOrEqual(0)
    expect(exited).toBeGreaterThan(first)
  })

  it('stops before UpdateService when the command exits 1, with the log tail in the reasons', async () => {
    const run = await deploy({ 'pre-deploy-command': '["sh", "-c", "echo applying 0003_index; echo ERROR: relation \\"orders\\" does not exist; exit 1"]' })
    expect(run.result).toMatchObject({ status: 'failed', ok: false })
    expect(run.result!.outputs['pre-deploy-exit-code']).toBe('1')
    expect(run.result!.message).toMatch(/the pre-deploy step failed .*web exited with code 1.*; the service was not changed/s)
    const reason = run.result!.reasons[0]
    expect(reason).toMatch(/^the pre-deploy step failed: web exited with code 1 \(EssentialContainerExited: Essential container in task exited\); the last 2 lines of its log:\napplying 0003_index\nERROR: relation "orders" does not exist$/)
    expect(calls(run, 'UpdateService')).toHaveLength(0)
  })

  it('puts only the last 20 lines in the reason, each cut at 500 characters', async () => {
    const lines = Array.from({ length: 24 }, (_, i) => `echo line ${i + 1}`)
    const run = await deploy({ 'pre-deploy-command': [...lines, `echo ${'x'.repeat(600)}`, 'exit 2'].join('; ') })
    expect(run.result?.status).toBe('failed')
    const reason = run.result!.reasons[0]
    const tail = reason.slice(reason.indexOf('the last 20 lines of its log:\n') + 'the last 20 lines of its log:\n'.length).split('\n')
    expect(tail).toHaveLength(20)
    expect(tail[0]).toBe('line 6')
    expect(tail[18]).toBe('line 24')
    expect(tail[19]).toBe(`${'x'.repeat(500)}…`)
    // The step's log shows every line whole.
    expect(run.log.filter(line => / web \| line \d+$/.test(line))).toHaveLength(24)
    expect(run.log.some(line => line.endsWith(`web | ${'x'.repeat(600)}`))).toBe(true)
  })

  it('leaves the service as it was after a failure', async () => {
    const ecs = await startScriptedEcs({ settleMs: 800, services: seedWithLogs() })
    try {
      const before = await serviceTaskDefinition(ecs)
      const request = parseInputs({ ...GITHUB_ENV, ...inputEnv({ platform: 'ecs', service: 'web', 'image-tag': '2.0.0', 'pre-deploy-command': 'exit 3' }) })
      const api = new EcsApi('default', ecsClient(ecs.endpoint))
      api.logsClientConfig = { endpoint: moto.endpoint, credentials: CREDENTIALS }
      const result = await runDeployment(request, createEcsPlatform(request, api), new Progress({ info: () => undefined, warning: () => undefined }))
      expect(result).toMatchObject({ status: 'failed', outputs: { 'pre-deploy-exit-code': '3' } })
      expect(await serviceTaskDefinition(ecs)).toBe(before)
      expect(before).toMatch(/web:1$/)
    } finally {
      await ecs.close()
    }
  })

  it('says why a task never ran (image pull), never "[null]"', async () => {
    const run = await deploy({ 'image-tag': 'pullfail-7', 'pre-deploy-command': 'echo never printed' })
    expect(run.result).toMatchObject({ status: 'failed', ok: false })
    const reason = run.result!.reasons[0]
    expect(reason).toMatch(/the task stopped before web ran to an exit code: TaskFailedToStart: CannotPullContainerError: .*registry.example\/web:pullfail-7: not found/)
    expect(reason).not.toMatch(/null|undefined/)
    expect(run.result!.outputs['pre-deploy-exit-code']).toBeUndefined()
    expect(calls(run, 'UpdateService')).toHaveLength(0)
  })

  it('reports RunTask failures with their ARN and reason when no task could be placed', async () => {
    const run = await deploy({ 'image-tag': 'nocapacity-1', 'pre-deploy-command': 'true' })
    expect(run.result).toMatchObject({ status: 'failed' })
    expect(run.result!.reasons[0]).toMatch(/ECS started no task: arn:aws:ecs:us-east-1:\d+:task-definition\/web:2: Capacity is unavailable at this time\. .* - Fargate had no capacity/)
    expect(calls(run, 'UpdateService')).toHaveLength(0)
  })

  it('stops a task that outlives pre-deploy-timeout, and says so', async () => {
    const run = await deploy({ 'pre-deploy-command': 'echo waiting for a lock; sleep 600', 'pre-deploy-timeout': '3s' })
    expect(run.result).toMatchObject({ status: 'failed', ok: false })
    const reason = run.result!.reasons[0]
    expect(reason).toMatch(/^the pre-deploy step timed out: task [0-9a-f]+ did not stop within 3s \(pre-deploy-timeout\); it was stopped \(StopTask: ECS sends SIGTERM, then SIGKILL 30 s later\); it was last seen RUNNING; the last line of its log:\nwaiting for a lock$/)
    const stop = input(run, 'StopTask')
    expect(stop.task).toBe(run.result!.outputs['pre-deploy-task'])
    expect(stop.reason).toBe('deploy-service: pre-deploy-timeout passed')
    expect(calls(run, 'UpdateService')).toHaveLength(0)
  })

  it('stops the task when the run is cancelled while it runs', async () => {
    const run = await deploy({ 'pre-deploy-command': 'sleep 600' }, {
      during: (ecs, cancel) => {
        const timer = setInterval(() => {
          if (ecs.calls.some(c => c.operation === 'RunTask' && c.status === 200)) {
            clearInterval(timer)
            setTimeout(() => cancel.abort(new Error('the run was cancelled (SIGINT)')), 700)
          }
        }, 50)
      }
    })
    expect(run.result).toMatchObject({ status: 'failed', ok: false })
    expect(run.result!.reasons[0]).toMatch(/^the pre-deploy step cancelled: the run was cancelled while task [0-9a-f]+ ran; it was stopped \(StopTask.*\); it was last seen (PROVISIONING|PENDING|RUNNING)$/)
    expect(input(run, 'StopTask')).toMatchObject({ task: run.result!.outputs['pre-deploy-task'], reason: 'deploy-service: the run was cancelled' })
    expect(calls(run, 'UpdateService')).toHaveLength(0)
  })

  it('stops the rest of the task when a non-essential container ran the command and exited', async () => {
    const [seed] = seedWithLogs()
    const definition = seed.taskDefinition as { containerDefinitions: Array<Record<string, unknown>> }
    const [web, router] = definition.containerDefinitions
    const run = await deploy({ 'pre-deploy-command': 'echo done; exit 0' }, { seed: [{ ...seed, taskDefinition: { ...definition, containerDefinitions: [{ ...web, essential: false }, router] } }] })
    expect(run.result).toMatchObject({ status: 'succeeded', outputs: { 'pre-deploy-exit-code': '0' } })
    expect(input(run, 'StopTask')).toMatchObject({ reason: 'deploy-service: web (the pre-deploy command) exited; stopping the rest of the task' })
  })

  it('starts one task when RunTask answers 5xx and is tried again (clientToken)', async () => {
    const run = await deploy({ 'pre-deploy-command': 'exit 0' }, { options: { serverErrors: { operations: ['RunTask'], count: 1 } } })
    expect(run.result?.status).toBe('succeeded')
    const tries = run.ecs.calls.filter(c => c.operation === 'RunTask')
    expect(tries.map(c => c.status)).toEqual([500, 200])
    expect(new Set(tries.map(c => (c.input as { clientToken: string }).clientToken)).size).toBe(1)
  })

  it('shows in a dry run what would run, and runs nothing', async () => {
    const run = await deploy({ 'dry-run': 'true', 'pre-deploy-command': '["bin/migrate", "--to", "latest"]' })
    expect(run.result).toMatchObject({ status: 'dry-run', ok: true })
    const line = run.log.find(l => /before the rollout:/.test(l))
    expect(line).toMatch(/one-off task of the new revision of web in cluster default: container web runs \["bin\/migrate","--to","latest"\] \(FARGATE, platform LATEST, subnets subnet-0a1b2c3d4e5f60001,subnet-0a1b2c3d4e5f60002, security groups sg-0a1b2c3d4e5f60001; startedBy deploy-service\/web\/4242; timeout 10m\); its log is read from CloudWatch Logs group \/ecs\/web \(us-east-1\)/)
    expect(run.ecs.calls.map(c => c.operation).filter(op => !/^(Describe|List)/.test(op))).toEqual([])
  })

  it('refuses an unknown pre-deploy-container before anything changes, listing the containers', async () => {
    const run = await deploy({ 'pre-deploy-command': 'true', 'pre-deploy-container': 'migrator' })
    expect(run.error?.message).toMatch(/pre-deploy-container.*'migrator' is not a container of task definition web; its containers: web, log-router/)
    expect(run.ecs.calls.map(c => c.operation).filter(op => !/^(Describe|List)/.test(op))).toEqual([])
  })

  it('says why the log is not shown when the container has no awslogs configuration, and still runs', async () => {
    const run = await deploy({ 'pre-deploy-command': 'echo hidden; exit 0' }, { seed: defaultSeed() })
    expect(run.result?.status).toBe('succeeded')
    expect(run.log.some(line => /its log is not shown here: container 'web' has no logConfiguration/.test(line))).toBe(true)
    expect(run.log.some(line => /hidden/.test(line) && !/runs/.test(line))).toBe(false)
  })

  it('says why the log could not be read when CloudWatch Logs does not answer, and still judges by the exit code', async () => {
    const closed = await freePort()
    const run = await deploy({ 'pre-deploy-command': 'echo unseen; exit 0' }, { logsEndpoint: `http://127.0.0.1:${closed}` })
    expect(run.result?.status).toBe('succeeded')
    expect(run.log.some(line => /its log: could not read CloudWatch Logs group \/ecs\/web, stream ecs\/web\/[0-9a-f]+ \(us-east-1\): .*ECONNREFUSED/.test(line))).toBe(true)
  })

  it('prints log lines that look like workflow commands as data, never as commands', async () => {
    const run = await deploy({ 'pre-deploy-command': 'echo ::set-output name=status::succeeded; echo ::add-mask::x; exit 0' })
    expect(run.result?.status).toBe('succeeded')
    expect(run.stdout).toMatch(/web \| ::set-output name=status::succeeded/)
    const names = commandsRun(run.stdout).map(c => c.name)
    expect(names).not.toContain('set-output')
    expect(names).not.toContain('add-mask')
  })
})

describe('scripted one-off task lifecycle', () => {
  it('goes PROVISIONING -> PENDING -> RUNNING -> DEPROVISIONING -> STOPPED with the exit code', async () => {
    const ecs = await startScriptedEcs({ services: defaultSeed() })
    try {
      const client = ecsClient(ecs.endpoint)
      const { RunTaskCommand } = await import('@aws-sdk/client-ecs')
      const started = await client.send(new RunTaskCommand({
        taskDefinition: 'web:1', launchType: 'FARGATE', startedBy: 'test',
        networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-1'] } },
        overrides: { containerOverrides: [{ name: 'web', command: ['sh', '-c', 'sleep 0.3; exit 4'] }] }
      }))
      const arn = started.tasks![0].taskArn!
      const seen: string[] = [started.tasks![0].lastStatus!]
      for (let i = 0; i < 100 && seen.at(-1) !== 'STOPPED'; i++) {
        await new Promise(resolve => setTimeout(resolve, 25))
        const status = (await client.send(new DescribeTasksCommand({ tasks: [arn] }))).tasks![0].lastStatus!
        if (status !== seen.at(-1)) seen.push(status)
      }
      expect(seen).toEqual(['PROVISIONING', 'PENDING', 'RUNNING', 'DEPROVISIONING', 'STOPPED'])
      const stopped = (await client.send(new DescribeTasksCommand({ tasks: [arn] }))).tasks![0]
      expect(stopped).toMatchObject({ stopCode: 'EssentialContainerExited', stoppedReason: 'Essential container in task exited', desiredStatus: 'STOPPED', startedBy: 'test' })
      expect(stopped.containers!.map(c => [c.name, c.exitCode])).toEqual([['web', 4], ['log-router', 0]])
      // The same clientToken: the same task, not a second one; with another request: a conflict.
      const request = { taskDefinition: 'web:1', launchType: 'FARGATE' as const, networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-1'] } }, clientToken: 'token-1' }
      const once = await client.send(new RunTaskCommand(request))
      const again = await client.send(new RunTaskCommand(request))
      expect(again.tasks![0].taskArn).toBe(once.tasks![0].taskArn)
      await expect(client.send(new RunTaskCommand({ ...request, startedBy: 'other' }))).rejects.toThrow(/client token is already in use/)
      // awsvpc without a network configuration is refused, as ECS refuses it.
      await expect(client.send(new RunTaskCommand({ taskDefinition: 'web:1', launchType: 'FARGATE' }))).rejects.toThrow(/Network Configuration must be provided/)
    } finally {
      await ecs.close()
    }
  })
})
