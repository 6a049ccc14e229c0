// Handing a long bake to a later job (`hand-off-at`) and following it there (`mode: follow`), on the
// scripted endpoint. The bake lasts 10 scaled hours; the endpoint skips time (`/_scripted/skip`) between
// the two jobs, as a scheduled workflow would come back later: nothing here waits on a race.
import { describe, expect, it } from '@jest/globals'
import { callsOf, seedWith } from '../helpers/ecs-strategies.js'
import { ecsClient, GITHUB_ENV, inputEnv, runEcs } from '../helpers/run.js'
import { startScriptedEcs, type ScriptedEcs } from '../../test/support/scripted-ecs.js'
import { parseInputs } from '../../src/inputs.js'
import { createEcsPlatform } from '../../src/platforms/ecs/index.js'
import { EcsApi } from '../../src/platforms/ecs/client.js'
import { Deadline } from '../../src/rollout/deadline.js'
import { isNotOurs } from '../../src/rollout/ownership.js'
import { Progress } from '../../src/rollout/progress.js'

const ALARMS = { enable: true, rollback: true, alarmNames: ['web-5xx'] }
// 600 scaled minutes of bake (minuteMs 1000): the first job never sees its end.
const LONG_BAKE = { strategy: 'BLUE_GREEN', bakeTimeInMinutes: 600, alarms: ALARMS }

async function withEndpoint(fn: (ecs: ScriptedEcs) => Promise<void>): Promise<void> {
  const ecs = await startScriptedEcs({ settleMs: 1200, failAfterMs: 900, services: seedWith(LONG_BAKE), serviceDeployments: { minuteMs: 1000, stageMs: 100 } })
  try {
    await fn(ecs)
  } finally {
    await ecs.close()
  }
}

/** The later job comes back after the bake: the endpoint's clock jumps ahead by `ms`. */
async function skip(ecs: ScriptedEcs, ms: number): Promise<void> {
  const answer = await fetch(`${ecs.endpoint}/_scripted/skip`, { method: 'POST', body: JSON.stringify({ ms }) })
  expect(answer.status).toBe(200)
}

async function handOff(ecs: ScriptedEcs, tag: string): Promise<string> {
  const first = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': tag, 'hand-off-at': 'BAKE_TIME', timeout: '30s' })
  expect(first.error).toBeUndefined()
  expect(first.result).toMatchObject({ status: 'in-progress', ok: true })
  expect(first.result!.outputs['lifecycle-stage']).toBe('BAKE_TIME')
  expect(first.result!.message).toMatch(/handed to a later job: service deployment \w+ reached stage BAKE_TIME \(hand-off-at: BAKE_TIME\); a later job gives the verdict with mode 'follow'/)
  // Nothing was stopped or continued: ECS goes on baking.
  expect(callsOf(ecs, 'StopServiceDeployment')).toEqual([])
  return first.result!.outputs['service-deployment-arn']!
}

const follow = (ecs: ScriptedEcs, arn: string, inputs: Record<string, string> = {}) =>
  runEcs(ecs.endpoint, { service: 'web', mode: 'follow', 'service-deployment-arn': arn, timeout: '30s', ...inputs })

describe('hand-off-at and mode follow', () => {
  it('hands off at the bake with status in-progress; a later follow gives the verdict succeeded', () => withEndpoint(async ecs => {
    const arn = await handOff(ecs, '2.0.0')
    expect(arn).toMatch(/:service-deployment\/default\/web\//)
    const client = ecsClient(ecs.endpoint)
    const { DescribeServiceDeploymentsCommand } = await import('@aws-sdk/client-ecs')
    const [baking] = (await client.send(new DescribeServiceDeploymentsCommand({ serviceDeploymentArns: [arn] }))).serviceDeployments!
    expect(baking).toMatchObject({ status: 'IN_PROGRESS', lifecycleStage: 'BAKE_TIME' })
    client.destroy()

    await skip(ecs, 601_000)
    const later = await follow(ecs, arn)
    expect(later.error).toBeUndefined()
    expect(later.result).toMatchObject({ status: 'succeeded', ok: true, revision: expect.stringMatching(/web:2$/) })
    expect(later.log.some(line => /still the current one of service web .*rolls out web:2, which deploy-service registered/.test(line))).toBe(true)
    expect(callsOf(ecs, 'UpdateService')).toHaveLength(1)
  }))

  it('a scheduled follow without service-deployment-arn judges the service\'s current one', () => withEndpoint(async ecs => {
    const arn = await handOff(ecs, '2.0.0')
    await skip(ecs, 601_000)
    const later = await runEcs(ecs.endpoint, { service: 'web', mode: 'follow', timeout: '30s' })
    expect(later.error).toBeUndefined()
    expect(later.result).toMatchObject({ status: 'succeeded', ok: true })
    expect(later.result!.outputs['service-deployment-arn']).toBe(arn)
    expect(later.log.some(line => /\(the current one when this run read the service\) is still the current one/.test(line))).toBe(true)
  }))

  it('a later follow where ECS rolled the deployment back (its alarm, during the bake) ends rolled-back by the platform', () => withEndpoint(async ecs => {
    const arn = await handOff(ecs, 'alarm-2')
    await skip(ecs, 601_000)
    const later = await follow(ecs, arn)
    expect(later.error).toBeUndefined()
    expect(later.result).toMatchObject({ status: 'rolled-back', ok: false, rollback: { by: 'platform', healthy: true } })
    expect(later.result!.reasons.join('\n')).toMatch(/CloudWatch alarm web-5xx went into ALARM/)
    // ECS rolled back by itself: this action stopped nothing and updated nothing.
    expect(callsOf(ecs, 'StopServiceDeployment')).toEqual([])
    expect(callsOf(ecs, 'UpdateService')).toHaveLength(1)
  }))

  it('a later follow where another deploy replaced it is superseded, and nothing is rolled back', () => withEndpoint(async ecs => {
    const arn = await handOff(ecs, '2.0.0')
    const other = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': '3.0.0', wait: 'false' })
    expect(other.result).toMatchObject({ status: 'applied' })
    const later = await follow(ecs, arn)
    expect(later.error).toBeUndefined()
    expect(later.result).toMatchObject({ status: 'superseded', ok: false })
    expect(later.result!.message).toMatch(/its current service deployment is no longer \w+ \(named by service-deployment-arn\).*nothing was changed/)
    expect(callsOf(ecs, 'StopServiceDeployment')).toEqual([])
    expect(callsOf(ecs, 'UpdateService')).toHaveLength(2)
  }))

  it('a later follow that times out rolls its own service deployment back through ECS', () => withEndpoint(async ecs => {
    const arn = await handOff(ecs, '2.0.0')
    // The bake is far from over: the follow's timeout ends it, and rollback-on-failure asks ECS to roll back.
    const later = await follow(ecs, arn, { timeout: '3s' })
    expect(later.error).toBeUndefined()
    expect(later.result).toMatchObject({ status: 'rolled-back' })
    expect(callsOf(ecs, 'StopServiceDeployment').map(c => c.input)).toEqual([{ serviceDeploymentArn: arn, stopType: 'ROLLBACK' }])
  }))

  it('the rollback of a followed deployment that someone else replaced since is refused (NotOurs), and nothing is stopped', () => withEndpoint(async ecs => {
    const arn = await handOff(ecs, '2.0.0')
    const request = parseInputs({ ...GITHUB_ENV, ...inputEnv({ platform: 'ecs', service: 'web', mode: 'follow', 'service-deployment-arn': arn }) })
    const client = ecsClient(ecs.endpoint)
    const platform = createEcsPlatform(request, new EcsApi('default', client))
    const progress = new Progress({ info: () => {}, warning: () => {} })
    const rollout = await (await platform.prepareFollow!()).apply(progress, new AbortController().signal)
    // Someone deploys after the follow proved it ours, before its rollback.
    expect((await runEcs(ecs.endpoint, { service: 'web', 'image-tag': '3.0.0', wait: 'false' })).result).toMatchObject({ status: 'applied' })
    const deadline = new Deadline(10_000)
    const undone = await rollout.undo({ deadline, progress, cancel: new AbortController().signal }).catch((error: unknown) => error)
    deadline.dispose()
    expect(isNotOurs(undone)).toBe(true)
    expect((undone as Error).message).toMatch(/did not roll back service deployment \w+: .*no longer/)
    expect(callsOf(ecs, 'StopServiceDeployment')).toEqual([])
    expect(callsOf(ecs, 'UpdateService')).toHaveLength(2)
    client.destroy()
  }))
})
