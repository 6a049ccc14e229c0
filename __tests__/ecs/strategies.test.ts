// ECS's own deployment strategies, followed through the service deployment on the scripted endpoint:
// blue/green with bake, linear steps, canary, alarm and circuit-breaker rollbacks, the IAM-denied
// fallback to deployments[], a service deployment that appears late, and our own rollback of one in
// flight by StopServiceDeployment ROLLBACK. Time is scaled: a "minute" of bake lasts `minuteMs`.
import { describe, expect, it } from '@jest/globals'
import { startScriptedEcs } from '../../test/support/scripted-ecs.js'
import { DescribeServiceDeploymentsCommand } from '@aws-sdk/client-ecs'
import { ecsClient, runEcs, type EcsRun } from '../helpers/run.js'
import { callsOf, deployOn, seedWith } from '../helpers/ecs-strategies.js'

const steps = (run: EcsRun) => run.result!.progress.timeline.map(entry => entry.message)
const warnings = (run: EcsRun) => run.log.filter(line => line.startsWith('warning: '))

describe('ECS strategies followed through the service deployment', () => {
  it('follows blue/green through its stages and bake to SUCCESSFUL, and shows the strategy in the plan', async () => {
    const startedAt = Date.now()
    const run = await deployOn({ services: seedWith({ strategy: 'BLUE_GREEN', bakeTimeInMinutes: 2 }) }, { 'image-tag': '2.0.0' })
    expect(run.error).toBeUndefined()
    expect(run.result).toMatchObject({ status: 'succeeded', ok: true })
    // The bake (2 scaled minutes, 2 s) is part of the rollout: success never comes before it ends.
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(2000)
    expect(run.log[0]).toMatch(/deployment controller ECS, strategy BLUE_GREEN \(bake 2m after the production shift; circuit breaker on \(rollback on\)\)/)
    const stages = steps(run).filter(m => /: stage /.test(m)).map(m => m.split(': stage ')[1])
    // Stages of 100 ms pass between two looks: those seen are in ECS's order, the bake and clean-up among them.
    const order = ['PRE_SCALE_UP', 'SCALE_UP', 'POST_SCALE_UP', 'TEST_TRAFFIC_SHIFT', 'POST_TEST_TRAFFIC_SHIFT', 'PRODUCTION_TRAFFIC_SHIFT', 'POST_PRODUCTION_TRAFFIC_SHIFT', 'BAKE_TIME', 'CLEAN_UP']
    expect(stages).toEqual(order.filter(stage => stages.includes(stage)))
    expect(stages).toEqual(expect.arrayContaining(['PRE_SCALE_UP', 'BAKE_TIME', 'CLEAN_UP']))
    expect(steps(run)).toContain(steps(run).find(m => /production traffic to the new revision 100%/.test(m)))
    expect(run.log.some(line => /bake \d+s left/.test(line))).toBe(true)
    expect(run.result!.outputs['service-deployment-arn']).toMatch(/^arn:aws:ecs:us-east-1:123456789012:service-deployment\/default\/web\/\w+$/)
    expect(run.result!.outputs['lifecycle-stage']).toBe('CLEAN_UP')
    expect(steps(run).some(m => /completed: service deployment \w+ SUCCESSFUL/.test(m))).toBe(true)
    expect(callsOf(run.ecs, 'UpdateService')).toHaveLength(1)
  })

  it('shows each step of a linear deployment, in order', async () => {
    const run = await deployOn({ services: seedWith({ strategy: 'LINEAR', linearConfiguration: { stepPercent: 25, stepBakeTimeInMinutes: 2 }, bakeTimeInMinutes: 0 }) }, { 'image-tag': '2.0.0' })
    expect(run.result).toMatchObject({ status: 'succeeded' })
    expect(run.log[0]).toMatch(/strategy LINEAR \(4 steps of 25% of production traffic, 2m apart/)
    const shifts = steps(run).filter(m => /production traffic to the new revision/.test(m)).map(m => Number(/(\d+)%$/.exec(m)![1]))
    expect(shifts).toEqual([25, 50, 75, 100])
  })

  it('shows the canary step, then the rest', async () => {
    const run = await deployOn({ services: seedWith({ strategy: 'CANARY', canaryConfiguration: { canaryPercent: 10, canaryBakeTimeInMinutes: 1 }, bakeTimeInMinutes: 0 }) }, { 'image-tag': '2.0.0' })
    expect(run.result).toMatchObject({ status: 'succeeded' })
    const shifts = steps(run).filter(m => /production traffic to the new revision/.test(m)).map(m => Number(/(\d+)%$/.exec(m)![1]))
    expect(shifts).toEqual([10, 100])
  })

  it('reports an alarm rollback as rolled back by ECS, naming the alarm, and starts no rollback of its own', async () => {
    const alarms = { enable: true, rollback: true, alarmNames: ['web-5xx', 'web-latency'] }
    const run = await deployOn({ services: seedWith({ strategy: 'BLUE_GREEN', bakeTimeInMinutes: 3, alarms }) }, { 'image-tag': 'alarm-1' })
    const result = run.result!
    expect(result).toMatchObject({ status: 'rolled-back', ok: false, rollback: { by: 'platform', healthy: true } })
    expect(result.rollback!.revision).toMatch(/task-definition\/web:1$/)
    expect(result.reasons.join('\n')).toMatch(/alarm web-5xx went into ALARM/)
    expect(steps(run).some(m => /ECS rolled it back/.test(m))).toBe(true)
    expect(callsOf(run.ecs, 'UpdateService')).toHaveLength(1)
    expect(callsOf(run.ecs, 'StopServiceDeployment')).toHaveLength(0)
  })

  it('reports a circuit-breaker rollback of a blue/green deployment with the stopped tasks', async () => {
    const run = await deployOn({ services: seedWith({ strategy: 'BLUE_GREEN', bakeTimeInMinutes: 1 }) }, { 'image-tag': 'crash-1' })
    const result = run.result!
    expect(result).toMatchObject({ status: 'rolled-back', rollback: { by: 'platform', healthy: true } })
    expect(result.reasons.join('\n')).toMatch(/circuit breaker threshold was exceeded/)
    expect(result.reasons.join('\n')).toMatch(/stopped: EssentialContainerExited/)
    expect(callsOf(run.ecs, 'UpdateService')).toHaveLength(1)
  })

  it('falls back to the deployments[] rules with one warning naming the permission when the calls are denied', async () => {
    const run = await deployOn({ serviceDeployments: { denied: true } }, { 'image-tag': '2.0.0' })
    expect(run.result).toMatchObject({ status: 'succeeded', ok: true })
    expect(warnings(run)).toHaveLength(1)
    expect(warnings(run)[0]).toMatch(/AccessDeniedException.*give the role ecs:DescribeServiceDeployments/)
    expect(run.log.some(line => /deployment ecs-svc\/\d+ completed/.test(line))).toBe(true)
  })

  it('finds a service deployment that appears late and follows it', async () => {
    const run = await deployOn({ services: seedWith({ strategy: 'BLUE_GREEN', bakeTimeInMinutes: 2 }), serviceDeployments: { appearAfterMs: 800 } }, { 'image-tag': '2.0.0' })
    expect(run.result).toMatchObject({ status: 'succeeded' })
    expect(warnings(run)).toEqual([])
    const followed = run.result!.outputs['service-deployment-arn']
    // Not the seeded deployment that was current before the update: the one ListServiceDeployments shows later.
    const listed = run.ecs.calls.filter(c => c.operation === 'ListServiceDeployments')
    expect(listed.length).toBeGreaterThan(0)
    expect(callsOf(run.ecs, 'DescribeServiceDeployments').every(c => (c.input as { serviceDeploymentArns: string[] }).serviceDeploymentArns[0] === followed)).toBe(true)
    expect(steps(run).some(m => /stage BAKE_TIME/.test(m))).toBe(true)
  })

  it('does not give up on service deployments after server errors while finding one: it tries again and follows it', async () => {
    const run = await deployOn({ services: seedWith({ strategy: 'BLUE_GREEN', bakeTimeInMinutes: 2 }), serviceDeployments: { appearAfterMs: 800 }, serverErrors: { operations: ['ListServiceDeployments'], count: 2 } }, { 'image-tag': '2.0.0' })
    expect(run.result).toMatchObject({ status: 'succeeded' })
    expect(run.ecs.calls.filter(c => c.operation === 'ListServiceDeployments' && c.status >= 500).length).toBeGreaterThan(0)
    expect(warnings(run)).toEqual([])
    expect(run.result!.outputs['service-deployment-arn']).toMatch(/:service-deployment\//)
    expect(steps(run).some(m => /stage BAKE_TIME/.test(m))).toBe(true)
  })

  it('lists service deployments at most every 5 s while ours is not known', async () => {
    // The service deployment never shows within the run, and the rollout never ends: 7 s of looking.
    const run = await deployOn({ serviceDeployments: { appearAfterMs: 600_000 } }, { 'image-tag': 'never-2.0.0', timeout: '7s', 'rollback-on-failure': 'false' })
    expect(run.result).toMatchObject({ ok: false })
    expect(run.result!.message).toMatch(/did not finish within 7s/)
    const lists = callsOf(run.ecs, 'ListServiceDeployments').map(c => c.at)
    expect(lists.length).toBeGreaterThan(0)
    expect(lists.length).toBeLessThanOrEqual(2)
    for (let i = 1; i < lists.length; i++) expect(lists[i]! - lists[i - 1]!).toBeGreaterThanOrEqual(4900)
  }, 60_000)

  it('a late service deployment is never confused with an older one listed beside it', async () => {
    // Three deploys: while the third's service deployment is invisible, the list shows the second's (current
    // before) and the first's (older still, SUCCESSFUL): neither is ours.
    const ecs = await startScriptedEcs({ settleMs: 1200, failAfterMs: 900, services: seedWith({ strategy: 'BLUE_GREEN', bakeTimeInMinutes: 2 }), serviceDeployments: { minuteMs: 1000, stageMs: 100, appearAfterMs: 800 } })
    try {
      const older = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': '1.5.0', timeout: '30s' })
      expect(older.result).toMatchObject({ status: 'succeeded' })
      const first = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': '2.0.0', timeout: '30s' })
      expect(first.result).toMatchObject({ status: 'succeeded' })
      const listedBefore = ecs.calls.filter(c => c.operation === 'ListServiceDeployments').length
      const startedAt = Date.now()
      const second = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': '3.0.0', timeout: '30s' })
      expect(second.result).toMatchObject({ status: 'succeeded' })
      const followed = second.result!.outputs['service-deployment-arn']
      expect(followed).not.toBe(first.result!.outputs['service-deployment-arn'])
      expect(followed).not.toBe(older.result!.outputs['service-deployment-arn'])
      const client = ecsClient(ecs.endpoint)
      const [sd] = (await client.send(new DescribeServiceDeploymentsCommand({ serviceDeploymentArns: [followed!] }))).serviceDeployments!
      client.destroy()
      expect(sd!.createdAt!.getTime()).toBeGreaterThanOrEqual(startedAt - 1000)
      // The list was read while ours was invisible (the path under test), and it was not taken from it.
      expect(ecs.calls.filter(c => c.operation === 'ListServiceDeployments').length - listedBefore).toBeGreaterThan(0)
      expect(steps(second).some(m => /stage BAKE_TIME/.test(m))).toBe(true)
    } finally {
      await ecs.close()
    }
  }, 90_000)

  it('rolls back a deployment in flight at the deadline with StopServiceDeployment ROLLBACK, not another update', async () => {
    const run = await deployOn({ services: seedWith({ strategy: 'BLUE_GREEN', bakeTimeInMinutes: 60 }) }, { 'image-tag': '2.0.0', timeout: '3s' })
    const result = run.result!
    expect(result).toMatchObject({ status: 'rolled-back', rollback: { by: 'action', healthy: true } })
    expect(result.reasons[0]).toMatch(/did not finish within 3s; it stood at: IN_PROGRESS BAKE_TIME/)
    expect(callsOf(run.ecs, 'StopServiceDeployment').map(c => (c.input as { stopType: string }).stopType)).toEqual(['ROLLBACK'])
    expect(callsOf(run.ecs, 'UpdateService')).toHaveLength(1)
    // The timeout was shorter than the bake: said before anything changed.
    expect(run.log[0]).toMatch(/warning: 'timeout' \(3s\) is shorter than the BLUE_GREEN strategy of this service takes by itself \(at least 1m of bake/)
  })

  it('a StopServiceDeployment whose answer was lost (it ran, then HTTP 500) is not reported as a failed rollback', async () => {
    const run = await deployOn({ services: seedWith({ strategy: 'BLUE_GREEN', bakeTimeInMinutes: 60 }), serverErrors: { operations: ['StopServiceDeployment'], count: 1, afterRunning: true } }, { 'image-tag': '2.0.0', timeout: '3s' })
    expect(run.result).toMatchObject({ status: 'rolled-back', rollback: { by: 'action', healthy: true } })
    // Carried out once (the 500 answered a stop that ran); no second stop that meets a conflict.
    expect(run.ecs.calls.filter(c => c.operation === 'StopServiceDeployment').map(c => c.status)).toEqual([500])
    expect(callsOf(run.ecs, 'UpdateService')).toHaveLength(1)
  }, 60_000)

  it('at the deadline, a service deployment that cannot be read (server errors) is not undone by another UpdateService', async () => {
    // From 2.5 s on every DescribeServiceDeployments fails: the undo cannot know whether ECS should roll back.
    const run = await deployOn({ services: seedWith({ strategy: 'BLUE_GREEN', bakeTimeInMinutes: 60 }), serverErrors: { operations: ['DescribeServiceDeployments'], count: 1000, fromMs: 2500 } }, { 'image-tag': '2.0.0', timeout: '3s' })
    const result = run.result!
    expect(result).toMatchObject({ status: 'failed', ok: false })
    expect(result.message).toMatch(/could not be rolled back \(could not describe service deployment/)
    expect(callsOf(run.ecs, 'UpdateService')).toHaveLength(1)
  }, 60_000)

  it('mode rollback while a deployment is in flight has ECS roll that one back (StopServiceDeployment ROLLBACK)', async () => {
    const ecs = await startScriptedEcs({ settleMs: 1200, services: seedWith({ strategy: 'BLUE_GREEN', bakeTimeInMinutes: 60 }), serviceDeployments: { minuteMs: 1000, stageMs: 100 } })
    try {
      const applied = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': '2.0.0', wait: 'false' })
      expect(applied.result).toMatchObject({ status: 'applied' })
      const back = await runEcs(ecs.endpoint, { service: 'web', mode: 'rollback', timeout: '30s' })
      expect(back.result).toMatchObject({ status: 'succeeded', ok: true })
      expect(back.log[0]).toMatch(/roll back service deployment \w+ in flight \(web:2\) by ECS's own rollback \(StopServiceDeployment ROLLBACK\) to web:1/)
      expect(callsOf(ecs, 'StopServiceDeployment').map(c => c.input)).toEqual([{ serviceDeploymentArn: expect.stringMatching(/:service-deployment\//), stopType: 'ROLLBACK' }])
      expect(callsOf(ecs, 'UpdateService')).toHaveLength(1)
    } finally {
      await ecs.close()
    }
  })

  it('mode rollback does not fall back to another UpdateService when the deployment in flight cannot be read (server errors)', async () => {
    // Every DescribeServiceDeployments fails once the first run has applied its update.
    const ecs = await startScriptedEcs({ settleMs: 1200, services: seedWith({ strategy: 'BLUE_GREEN', bakeTimeInMinutes: 60 }), serviceDeployments: { minuteMs: 1000, stageMs: 100 }, serverErrors: { operations: ['DescribeServiceDeployments'], count: 1000, fromMs: 1500 } })
    try {
      const applied = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': '2.0.0', wait: 'false' })
      expect(applied.result).toMatchObject({ status: 'applied' })
      await new Promise(resolve => setTimeout(resolve, 1600))
      const back = await runEcs(ecs.endpoint, { service: 'web', mode: 'rollback', timeout: '30s' })
      expect(back.result?.ok ?? false).toBe(false)
      expect(String(back.error ?? back.result?.message)).toMatch(/could not describe service deployment/)
      expect(callsOf(ecs, 'UpdateService')).toHaveLength(1)
      expect(callsOf(ecs, 'StopServiceDeployment')).toEqual([])
    } finally {
      await ecs.close()
    }
  }, 60_000)
})
