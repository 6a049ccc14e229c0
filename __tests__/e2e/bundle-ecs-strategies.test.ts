// The committed bundle (node dist/index.js, as the runner runs it) on ECS's own strategies, against the
// scripted endpoint: blue/green success after its bake, an alarm rollback, and `on-pause: exit` then
// `mode: continue`. DEPLOY_SERVICE_BUNDLE measures another build (a bundle of the working tree).
import { describe, expect, it } from '@jest/globals'
import { defaultSeed, startScriptedEcs, type ScriptedEcs } from '../../test/support/scripted-ecs.js'
import { runBundle } from '../helpers/bundle.js'

const MINUTE_MS = 1000
const bundle = { bundle: process.env.DEPLOY_SERVICE_BUNDLE }

async function withEndpoint<T>(deploymentConfiguration: Record<string, unknown>, fn: (ecs: ScriptedEcs, env: Record<string, string>) => Promise<T>): Promise<T> {
  const ecs = await startScriptedEcs({
    settleMs: 1200,
    services: defaultSeed().map(s => ({ ...s, deploymentConfiguration })),
    serviceDeployments: { minuteMs: MINUTE_MS, stageMs: 100 }
  })
  try {
    return await fn(ecs, { AWS_ENDPOINT_URL_ECS: ecs.endpoint, DEPLOY_SERVICE_ECS_MINUTE_MS: String(MINUTE_MS) })
  } finally {
    await ecs.close()
  }
}

describe('the bundle on ECS strategies', () => {
  it('deploys blue/green to SUCCESSFUL after its bake, with the stages in the summary', () => withEndpoint({ strategy: 'BLUE_GREEN', bakeTimeInMinutes: 2 }, async (_ecs, env) => {
    const run = await runBundle({ platform: 'ecs', service: 'web', 'image-tag': '2.0.0', timeout: '1m' }, env, bundle)
    expect(run.code).toBe(0)
    expect(run.outputs).toMatchObject({ status: 'succeeded', 'service-deployment-arn': expect.stringMatching(/:service-deployment\/default\/web\//), 'lifecycle-stage': 'CLEAN_UP' })
    expect(run.stdout).toMatch(/strategy BLUE_GREEN \(bake 2m after the production shift/)
    // The summary escapes Markdown: BAKE\_TIME.
    expect(run.summary).toMatch(/\| \+\d+\.\ds \| service deployment \w+: stage BAKE\\_TIME \|/)
  }), 60_000)

  it('reports an alarm rollback by ECS as rolled-back, naming the alarm, and fails the step', () => withEndpoint({ strategy: 'BLUE_GREEN', bakeTimeInMinutes: 3, alarms: { enable: true, rollback: true, alarmNames: ['web-5xx'] } }, async (ecs, env) => {
    const run = await runBundle({ platform: 'ecs', service: 'web', 'image-tag': 'alarm-2', timeout: '1m' }, env, bundle)
    expect(run.code).toBe(1)
    expect(run.outputs.status).toBe('rolled-back')
    expect(run.stdout).toMatch(/alarm web-5xx went into ALARM/)
    expect(ecs.calls.filter(c => c.operation === 'UpdateService')).toHaveLength(1)
  }), 60_000)

  it('stops at a PAUSE hook with on-pause exit, then mode continue finishes the deployment', () => withEndpoint({
    strategy: 'BLUE_GREEN',
    bakeTimeInMinutes: 1,
    lifecycleHooks: [{ targetType: 'PAUSE', lifecycleStages: ['POST_TEST_TRAFFIC_SHIFT'] }]
  }, async (ecs, env) => {
    const paused = await runBundle({ platform: 'ecs', service: 'web', 'image-tag': '3.0.0', 'on-pause': 'exit', timeout: '1m' }, env, bundle)
    expect(paused.code).toBe(0)
    expect(paused.outputs).toMatchObject({ status: 'paused', 'lifecycle-stage': 'POST_TEST_TRAFFIC_SHIFT', 'hook-id': expect.stringMatching(/^[0-9a-f-]{36}$/) })
    const continued = await runBundle({ platform: 'ecs', service: 'web', mode: 'continue', 'service-deployment-arn': paused.outputs['service-deployment-arn']!, timeout: '1m' }, env, bundle)
    expect(continued.code).toBe(0)
    expect(continued.outputs).toMatchObject({ status: 'succeeded', 'service-deployment-arn': paused.outputs['service-deployment-arn'] })
    expect(ecs.calls.filter(c => c.operation === 'ContinueServiceDeployment' && c.status === 200)).toHaveLength(1)
  }), 60_000)
})
