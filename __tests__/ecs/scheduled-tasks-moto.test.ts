// update-scheduled-tasks against moto_server's EventBridge (events) and EventBridge Scheduler backends,
// independent implementations of both APIs: rules with ECS targets (ListRuleNamesByTarget,
// ListTargetsByRule, PutTargets) and schedules (ListSchedules, GetSchedule, UpdateSchedule). The deploys
// themselves run on the scripted ECS endpoint, which plays the rollout.
//
// Where moto 5.2.1 differs from the API reference (recorded so a later moto can be checked against it):
// - UpdateSchedule ignores ActionAfterCompletion (its update() has no such argument): the value GetSchedule
//   gave stays as created, so "carried unchanged" and "dropped" look the same there for that one field.
// - ListSchedules' summaries carry Target.Arn only, as the API's TargetSummary does; moto sorts them
//   newest first (the API promises no order).
// - moto accepts any Target.Arn and RoleArn and never runs a task: nothing here proves ECS would start one.
import http from 'node:http'
import { DeleteScheduleCommand, type GetScheduleCommandOutput } from '@aws-sdk/client-scheduler'
import { CreateScheduleCommand, CreateScheduleGroupCommand, GetScheduleCommand, UpdateScheduleCommand } from '@aws-sdk/client-scheduler'
import { DeleteRuleCommand, ListTargetsByRuleCommand, PutRuleCommand, PutTargetsCommand, RemoveTargetsCommand, type Target } from '@aws-sdk/client-eventbridge'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals'
import { findScheduledTasks, moveScheduledTasks, ScheduledTasksApi } from '../../src/platforms/ecs/scheduled/index.js'
import { Progress } from '../../src/rollout/progress.js'
import { parseInputs } from '../../src/inputs.js'
import { summaryMarkdown } from '../../src/report/summary.js'
import { startMoto, type MotoServer } from '../../test/support/moto.js'
import { startScriptedEcs } from '../../test/support/scripted-ecs.js'
import { CREDENTIALS, REGION, runEcs } from '../helpers/run.js'

const ACCOUNT = '123456789012'
const CLUSTER = `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/default`
const OTHER_CLUSTER = `arn:aws:ecs:${REGION}:${ACCOUNT}:cluster/batch`
const td = (revision: string): string => `arn:aws:ecs:${REGION}:${ACCOUNT}:task-definition/${revision}`
const ROLE = `arn:aws:iam::${ACCOUNT}:role/ecsEventsRole`

let moto: MotoServer
let api: ScheduledTasksApi

beforeAll(async () => {
  moto = await startMoto()
  const config = { endpoint: moto.endpoint, region: REGION, credentials: CREDENTIALS }
  api = new ScheduledTasksApi({ events: config, scheduler: config })
})

afterAll(async () => {
  await moto?.stop()
})

beforeEach(async () => {
  await fetch(`${moto.endpoint}/moto-api/reset`, { method: 'POST' })
})

/** A rule on the default bus with one ECS target, every field EventBridge keeps for it set. */
async function rule(name: string, cluster: string, taskDefinition: string): Promise<Target> {
  await api.events.send(new PutRuleCommand({ Name: name, ScheduleExpression: 'cron(0 3 * * ? *)', State: 'ENABLED' }))
  const target: Target = {
    Id: `${name}-task`,
    Arn: cluster,
    RoleArn: ROLE,
    Input: '{"containerOverrides":[{"name":"web","command":["./nightly"]}]}',
    EcsParameters: {
      TaskDefinitionArn: taskDefinition,
      TaskCount: 2,
      LaunchType: 'FARGATE',
      PlatformVersion: 'LATEST',
      Group: 'nightly',
      NetworkConfiguration: { awsvpcConfiguration: { Subnets: ['subnet-0abc'], SecurityGroups: ['sg-0abc'], AssignPublicIp: 'DISABLED' } },
      PropagateTags: 'TASK_DEFINITION',
      Tags: [{ Key: 'team', Value: 'shop' }]
    },
    RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 600 },
    DeadLetterConfig: { Arn: `arn:aws:sqs:${REGION}:${ACCOUNT}:nightly-dlq` }
  }
  await api.events.send(new PutTargetsCommand({ Rule: name, Targets: [target] }))
  return target
}

/** A schedule with one ECS target, every field UpdateSchedule takes set to something other than its default. */
async function schedule(name: string, cluster: string, taskDefinition: string, group = 'default'): Promise<void> {
  await api.scheduler.send(new CreateScheduleCommand({
    Name: name,
    GroupName: group,
    ScheduleExpression: 'cron(30 4 * * ? *)',
    ScheduleExpressionTimezone: 'Europe/Berlin',
    Description: `report for ${name}`,
    State: 'DISABLED',
    EndDate: new Date('2031-01-01T00:00:00Z'),
    KmsKeyArn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
    FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 15 },
    ActionAfterCompletion: 'NONE',
    Target: {
      Arn: cluster,
      RoleArn: ROLE,
      Input: '{"containerOverrides":[]}',
      RetryPolicy: { MaximumRetryAttempts: 5, MaximumEventAgeInSeconds: 3600 },
      DeadLetterConfig: { Arn: `arn:aws:sqs:${REGION}:${ACCOUNT}:report-dlq` },
      EcsParameters: {
        TaskDefinitionArn: taskDefinition,
        TaskCount: 1,
        LaunchType: 'FARGATE',
        NetworkConfiguration: { awsvpcConfiguration: { Subnets: ['subnet-0abc'], AssignPublicIp: 'DISABLED' } },
        EnableECSManagedTags: true,
        Tags: [{ team: 'shop' }]
      }
    }
  }))
}

async function ruleTaskDefinition(name: string): Promise<string | undefined> {
  const { Targets } = await api.events.send(new ListTargetsByRuleCommand({ Rule: name }))
  return Targets?.[0]?.EcsParameters?.TaskDefinitionArn
}

async function readSchedule(name: string, group = 'default'): Promise<GetScheduleCommandOutput> {
  return api.scheduler.send(new GetScheduleCommand({ Name: name, GroupName: group }))
}

function recordingProgress(): { progress: Progress; log: string[] } {
  const log: string[] = []
  return { log, progress: new Progress({ info: line => log.push(line), warning: line => log.push(`warning: ${line}`) }) }
}

describe('scheduled tasks on moto', () => {
  it('moves the rules and schedules of the family in this cluster, and leaves other families, clusters and pinned revisions alone', async () => {
    await rule('nightly', CLUSTER, td('web:1'))
    await rule('worker-nightly', CLUSTER, td('worker:1'))
    await rule('batch-nightly', OTHER_CLUSTER, td('web:1'))
    await rule('pinned', CLUSTER, td('web:0'))
    await schedule('report', CLUSTER, td('web:1'))
    await api.scheduler.send(new CreateScheduleGroupCommand({ Name: 'jobs' }))
    await schedule('cleanup', CLUSTER, td('web:1'), 'jobs')
    await schedule('worker-report', CLUSTER, td('worker:1'))
    await schedule('batch-report', OTHER_CLUSTER, td('web:1'))
    await schedule('latest', CLUSTER, td('web'))
    const { progress, log } = recordingProgress()

    const rows = await moveScheduledTasks(api, { clusterArn: CLUSTER, from: td('web:1'), to: td('web:2') }, progress)

    expect(rows).toEqual(expect.arrayContaining([
      { ref: 'rule/nightly (target nightly-task)', state: 'moved from web:1 to web:2' },
      { ref: 'schedule/default/report', state: 'moved from web:1 to web:2' },
      { ref: 'schedule/jobs/cleanup', state: 'moved from web:1 to web:2' },
      { ref: 'rule/pinned (target pinned-task)', state: expect.stringMatching(/^left alone: rule\/pinned \(target pinned-task\) runs web:0 \(another revision\), not web:1 that this run replaced/) },
      { ref: 'schedule/default/latest', state: expect.stringMatching(/^left alone: names the family web without a revision/) }
    ]))
    // Other families and other clusters are not the service's: not even listed.
    expect(rows).toHaveLength(5)
    expect(await ruleTaskDefinition('nightly')).toBe(td('web:2'))
    expect((await readSchedule('report')).Target?.EcsParameters?.TaskDefinitionArn).toBe(td('web:2'))
    expect((await readSchedule('cleanup', 'jobs')).Target?.EcsParameters?.TaskDefinitionArn).toBe(td('web:2'))
    expect(await ruleTaskDefinition('worker-nightly')).toBe(td('worker:1'))
    expect(await ruleTaskDefinition('batch-nightly')).toBe(td('web:1'))
    expect(await ruleTaskDefinition('pinned')).toBe(td('web:0'))
    expect((await readSchedule('worker-report')).Target?.EcsParameters?.TaskDefinitionArn).toBe(td('worker:1'))
    expect((await readSchedule('batch-report')).Target?.EcsParameters?.TaskDefinitionArn).toBe(td('web:1'))
    expect((await readSchedule('latest')).Target?.EcsParameters?.TaskDefinitionArn).toBe(td('web'))
    expect(log.filter(line => /scheduled task .* moved from web:1 to web:2/.test(line))).toHaveLength(3)
  })

  it('PutTargets keeps every field of the rule target but the task definition', async () => {
    const before = await rule('nightly', CLUSTER, td('web:1'))
    await moveScheduledTasks(api, { clusterArn: CLUSTER, from: td('web:1'), to: td('web:2') }, recordingProgress().progress)
    const { Targets } = await api.events.send(new ListTargetsByRuleCommand({ Rule: 'nightly' }))
    expect(Targets).toEqual([{ ...before, EcsParameters: { ...before.EcsParameters, TaskDefinitionArn: td('web:2') } }])
  })

  it('UpdateSchedule carries every field of GetSchedule unchanged but the task definition', async () => {
    await schedule('report', CLUSTER, td('web:1'))
    const { $metadata: _b, LastModificationDate: _lb, ...before } = await readSchedule('report')
    await moveScheduledTasks(api, { clusterArn: CLUSTER, from: td('web:1'), to: td('web:2') }, recordingProgress().progress)
    const { $metadata: _a, LastModificationDate: _la, ...after } = await readSchedule('report')
    expect(after).toEqual({ ...before, Target: { ...before.Target, EcsParameters: { ...before.Target!.EcsParameters, TaskDefinitionArn: td('web:2') } } })
    // The fields a partial update would reset (UpdateSchedule takes the schedule whole).
    expect(after).toMatchObject({ State: 'DISABLED', ScheduleExpressionTimezone: 'Europe/Berlin', Description: 'report for report', FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 15 } })
    expect(after.EndDate).toEqual(new Date('2031-01-01T00:00:00Z'))
  })

  it('leaves alone, and names, a rule or schedule someone moved between finding it and the move (the fresh read of ifOurs)', async () => {
    await rule('nightly', CLUSTER, td('web:1'))
    await schedule('report', CLUSTER, td('web:1'))
    await schedule('gone', CLUSTER, td('web:1'))
    await rule('deleted', CLUSTER, td('web:1'))
    const found = await findScheduledTasks(api, CLUSTER, 'web')
    expect(found.map(f => f.ref).sort()).toEqual(['rule/deleted (target deleted-task)', 'rule/nightly (target nightly-task)', 'schedule/default/gone', 'schedule/default/report'])
    // Someone else's hotfix: the rule now runs web:7, the schedule another family; one schedule is deleted.
    const [target] = (await api.events.send(new ListTargetsByRuleCommand({ Rule: 'nightly' }))).Targets!
    await api.events.send(new PutTargetsCommand({ Rule: 'nightly', Targets: [{ ...target, EcsParameters: { ...target.EcsParameters!, TaskDefinitionArn: td('web:7') } }] }))
    const report = await readSchedule('report')
    await api.scheduler.send(new UpdateScheduleCommand({ ...report, Target: { ...report.Target!, EcsParameters: { ...report.Target!.EcsParameters!, TaskDefinitionArn: td('reports:3') } } } as never))
    await api.scheduler.send(new DeleteScheduleCommand({ Name: 'gone', GroupName: 'default' }))
    await api.events.send(new RemoveTargetsCommand({ Rule: 'deleted', Ids: ['deleted-task'] }))
    await api.events.send(new DeleteRuleCommand({ Name: 'deleted' }))
    const { progress, log } = recordingProgress()

    const rows = await moveScheduledTasks(api, { clusterArn: CLUSTER, from: td('web:1'), to: td('web:2') }, progress, found)

    expect(rows).toEqual(expect.arrayContaining([
      { ref: 'rule/nightly (target nightly-task)', state: expect.stringMatching(/^left alone: .* runs web:7 \(another revision\), not web:1 that this run replaced: someone else set it/) },
      { ref: 'schedule/default/report', state: expect.stringMatching(/^left alone: .* runs reports:3 \(another family\), not web:1/) },
      { ref: 'schedule/default/gone', state: 'left alone: schedule/default/gone is gone' },
      { ref: 'rule/deleted (target deleted-task)', state: 'left alone: rule/deleted (target deleted-task) is gone' }
    ]))
    expect(await ruleTaskDefinition('nightly')).toBe(td('web:7'))
    expect((await readSchedule('report')).Target?.EcsParameters?.TaskDefinitionArn).toBe(td('reports:3'))
    expect(log.some(line => /scheduled task rule\/nightly .* left alone: .*web:7/.test(line))).toBe(true)
    // Left alone is a decision, not a problem: no warning.
    expect(log.some(line => line.startsWith('warning:'))).toBe(false)
  })
})

/** An endpoint that denies every call as AWS does for a role without the permission (a 400 AccessDeniedException). */
async function denyingEndpoint(): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((request, response) => {
    request.resume()
    request.on('end', () => {
      response.writeHead(400, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': 'AccessDeniedException' })
      response.end(JSON.stringify({ __type: 'AccessDeniedException', message: `User: arn:aws:sts::${ACCOUNT}:assumed-role/deployer/run is not authorized to perform: events:ListRuleNamesByTarget` }))
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise(resolve => server.close(() => resolve())) }
}

describe('update-scheduled-tasks in a deploy (scripted ECS, moto for EventBridge and Scheduler)', () => {
  const saved = { ...process.env }
  beforeEach(() => {
    // The action builds both clients from the standard AWS chain: here it points at moto.
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_EVENTBRIDGE: moto.endpoint,
      AWS_ENDPOINT_URL_SCHEDULER: moto.endpoint,
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey
    })
  })
  afterAll(() => {
    process.env = saved
  })

  it('moves them after a successful deploy, lists them in the result, and moves them back with mode rollback', async () => {
    await rule('nightly', CLUSTER, td('web:1'))
    await schedule('report', CLUSTER, td('web:1'))
    const ecs = await startScriptedEcs({ settleMs: 300 })
    try {
      const deployed = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': '1.1.0', timeout: '30s', 'update-scheduled-tasks': 'true' })
      expect(deployed.error).toBeUndefined()
      expect(deployed.result).toMatchObject({ status: 'succeeded', ok: true })
      expect(deployed.result!.revision).toBe(td('web:2'))
      expect(deployed.result!.objects).toEqual([
        { ref: 'rule/nightly (target nightly-task)', state: 'moved from web:1 to web:2' },
        { ref: 'schedule/default/report', state: 'moved from web:1 to web:2' }
      ])
      expect(await ruleTaskDefinition('nightly')).toBe(td('web:2'))
      expect((await readSchedule('report')).Target?.EcsParameters?.TaskDefinitionArn).toBe(td('web:2'))
      expect(deployed.log.some(line => /scheduled task schedule\/default\/report moved from web:1 to web:2/.test(line))).toBe(true)
      const summary = summaryMarkdown(deployed.result!, parseInputs({ INPUT_SERVICE: 'web', 'INPUT_IMAGE-TAG': '1.1.0' }), 'ecs')
      expect(summary).toContain('| `schedule/default/report` | moved from web:1 to web:2 |')

      const rolledBack = await runEcs(ecs.endpoint, { service: 'web', mode: 'rollback', timeout: '30s', 'update-scheduled-tasks': 'true' })
      expect(rolledBack.result).toMatchObject({ status: 'succeeded', ok: true, revision: td('web:1') })
      expect(rolledBack.result!.objects).toEqual([
        { ref: 'rule/nightly (target nightly-task)', state: 'moved from web:2 to web:1' },
        { ref: 'schedule/default/report', state: 'moved from web:2 to web:1' }
      ])
      expect(await ruleTaskDefinition('nightly')).toBe(td('web:1'))
      expect((await readSchedule('report')).Target?.EcsParameters?.TaskDefinitionArn).toBe(td('web:1'))
    } finally {
      await ecs.close()
    }
  })

  it('without the input, a deploy touches no rule or schedule', async () => {
    await rule('nightly', CLUSTER, td('web:1'))
    const ecs = await startScriptedEcs({ settleMs: 300 })
    try {
      const deployed = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': '1.1.0', timeout: '30s' })
      expect(deployed.result).toMatchObject({ status: 'succeeded', ok: true })
      expect(deployed.result!.objects).toBeUndefined()
      expect(await ruleTaskDefinition('nightly')).toBe(td('web:1'))
    } finally {
      await ecs.close()
    }
  })

  it('a denied EventBridge call is a warning on a deploy that stays succeeded; the schedules are still moved', async () => {
    await schedule('report', CLUSTER, td('web:1'))
    const denied = await denyingEndpoint()
    process.env.AWS_ENDPOINT_URL_EVENTBRIDGE = denied.url
    const ecs = await startScriptedEcs({ settleMs: 300 })
    try {
      const deployed = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': '1.1.0', timeout: '30s', 'update-scheduled-tasks': 'true' })
      expect(deployed.result).toMatchObject({ status: 'succeeded', ok: true })
      expect(deployed.result!.reasons.join('\n')).toMatch(/update-scheduled-tasks: the EventBridge rules of web could not be found, so none was moved \(the deploy itself succeeded; move them by hand\): could not list the EventBridge rules that target cluster .*cluster\/default: .*not authorized to perform: events:ListRuleNamesByTarget/)
      expect(deployed.log.some(line => line.startsWith('warning: update-scheduled-tasks'))).toBe(true)
      expect(deployed.result!.objects).toEqual([{ ref: 'schedule/default/report', state: 'moved from web:1 to web:2' }])
      expect((await readSchedule('report')).Target?.EcsParameters?.TaskDefinitionArn).toBe(td('web:2'))
    } finally {
      await ecs.close()
      await denied.close()
    }
  })
})
