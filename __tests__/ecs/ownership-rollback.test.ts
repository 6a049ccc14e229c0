// Rollbacks that prove ownership first (issue 16), on the scripted ECS endpoint through the real SDK:
// someone else's deploy that lands while we verify, at our timeout, or during the pre-deploy task is
// never rolled back, stopped or followed as ours; a rollback returns to what ran right before OUR apply.
import { DescribeServiceDeploymentsCommand, DescribeServiceRevisionsCommand, DescribeServicesCommand, DescribeTaskDefinitionCommand } from '@aws-sdk/client-ecs'
import { describe, expect, it } from '@jest/globals'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { PREVIOUS_TAG } from '../../src/platforms/ecs/revisions.js'
import { defaultSeed, startScriptedEcs, type Obj, type ScriptedEcs, type ScriptedEcsOptions } from '../../test/support/scripted-ecs.js'
import { ecsClient, runEcs, type EcsRun } from '../helpers/run.js'

/** The action's own UpdateService calls that ECS accepted: the task definition of each. */
const updates = (ecs: ScriptedEcs): string[] =>
  ecs.calls.filter(c => c.operation === 'UpdateService' && c.status === 200).map(c => String((c.input as { taskDefinition: string }).taskDefinition))
const calls = (ecs: ScriptedEcs, operation: string) => ecs.calls.filter(c => c.operation === operation)

/** Another team's hotfix: a revision of `web` with image tag `tag`, deployed by UpdateService. Returns its ARN. */
function hotfix(send: (operation: string, input: Obj) => Obj, tag: string): string {
  const [seed] = defaultSeed()
  const definition = structuredClone(seed.taskDefinition) as { containerDefinitions: Array<{ image: string }> }
  definition.containerDefinitions[0].image = `registry.example/web:${tag}`
  const arn = send('RegisterTaskDefinition', { ...definition, tags: [{ key: 'deploy-service:run', value: 'https://github.com/acme/hotfixes/actions/runs/77' }] }).taskDefinition.taskDefinitionArn
  send('UpdateService', { cluster: 'default', service: 'web', taskDefinition: arn })
  return arn
}

async function withEcs<T>(options: ScriptedEcsOptions, fn: (ecs: ScriptedEcs) => Promise<T>): Promise<T> {
  const ecs = await startScriptedEcs({ settleMs: 800, failAfterMs: 900, ...options })
  try {
    return await fn(ecs)
  } finally {
    await ecs.close()
  }
}

async function runningTaskDefinition(ecs: ScriptedEcs): Promise<string> {
  const out = await ecsClient(ecs.endpoint).send(new DescribeServicesCommand({ cluster: 'default', services: ['web'] }))
  return out.services![0].taskDefinition!
}

describe('ECS rollbacks prove the service still runs our deployment', () => {
  it('does not roll back a hotfix that landed while verify-url ran: superseded, no rollback UpdateService', async () => {
    let hotfixArn = ''
    // A verify-url that fails while another deploy lands: the other team deploys at the first request.
    let send: ((operation: string, input: Obj) => Obj) | undefined
    const server = createServer((_req, res) => {
      if (!hotfixArn && send) hotfixArn = hotfix(send, 'hotfix-1')
      res.writeHead(500).end('broken')
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`
    try {
      await withEcs({ afterCall: (_call, s) => void (send ??= s) }, async ecs => {
        const run = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': '2.0.0', timeout: '30s', 'verify-url': url, 'verify-timeout': '2s' })
        expect(run.error).toBeUndefined()
        expect(hotfixArn).toMatch(/web:3$/)
        expect(run.result).toMatchObject({ status: 'superseded', ok: false })
        expect(run.result!.message).toMatch(/verification failed.*nothing was rolled back: service web now runs web:3 \(deployment ecs-svc\/\d+/)
        expect(run.result!.message).toMatch(/deploy-service registered it in run https:\/\/github.com\/acme\/hotfixes\/actions\/runs\/77/)
        expect(run.result!.rollback).toBeUndefined()
        // Ours only: the hotfix's UpdateService is the other team's, and nothing put web:1 back.
        expect(updates(ecs)).toEqual([expect.stringMatching(/web:2$/)])
        expect(calls(ecs, 'StopServiceDeployment')).toHaveLength(0)
        expect(await runningTaskDefinition(ecs)).toBe(hotfixArn)
      })
    } finally {
      server.close()
    }
  })

  it('does not roll back or stop a hotfix that landed just before the timeout', async () => {
    let hotfixArn = ''
    // The last look before the undo: the stopped tasks of ours, listed once the deadline passed.
    const afterCall = (call: { operation: string; input: Obj }, send: (operation: string, input: Obj) => Obj) => {
      if (!hotfixArn && call.operation === 'ListTasks' && call.input.desiredStatus === 'STOPPED') hotfixArn = hotfix(send, 'hotfix-2')
    }
    await withEcs({ afterCall }, async ecs => {
      const run = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': 'never', timeout: '3s' })
      expect(run.error).toBeUndefined()
      expect(hotfixArn).toMatch(/web:3$/)
      expect(run.result).toMatchObject({ status: 'superseded', ok: false })
      expect(run.result!.message).toMatch(/did not finish within 3s.*nothing was rolled back: service web now runs web:3/)
      // Neither ECS's rollback of the hotfix's service deployment nor an UpdateService back to web:1.
      expect(calls(ecs, 'StopServiceDeployment')).toHaveLength(0)
      expect(calls(ecs, 'ContinueServiceDeployment')).toHaveLength(0)
      expect(updates(ecs)).toEqual([expect.stringMatching(/web:2$/)])
      expect(await runningTaskDefinition(ecs)).toBe(hotfixArn)
    })
  })

  it('still rolls back its own deployment in flight at the timeout by ECS rollback', async () => {
    await withEcs({}, async ecs => {
      const run = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': 'never', timeout: '3s' })
      expect(run.result).toMatchObject({ status: 'rolled-back' })
      expect(calls(ecs, 'StopServiceDeployment').map(c => (c.input as { stopType: string }).stopType)).toEqual(['ROLLBACK'])
      expect(updates(ecs)).toHaveLength(1)
    })
  })
})

describe('ECS rollback target and service deployment after the pre-deploy step', () => {
  it('rolls back to a deploy that landed during the pre-deploy task, and the tag names it', async () => {
    let hotfixArn = ''
    const afterCall = (call: { operation: string }, send: (operation: string, input: Obj) => Obj) => {
      if (!hotfixArn && call.operation === 'RunTask') hotfixArn = hotfix(send, 'hotfix-3')
    }
    await withEcs({ afterCall, circuitBreakerRollback: false }, async ecs => {
      const run: EcsRun = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': 'crash', timeout: '30s', 'pre-deploy-command': 'sleep 2; exit 0' })
      expect(run.error).toBeUndefined()
      expect(hotfixArn).toMatch(/web:3$/)
      expect(run.result).toMatchObject({ status: 'rolled-back', rollback: { by: 'action', healthy: true } })
      expect(run.result!.rollback!.revision).toBe(hotfixArn)
      expect(run.result!.previousRevision).toBe(hotfixArn)
      // Ours (web:2, registered before the pre-deploy task), then back to the hotfix, never to web:1.
      expect(updates(ecs)).toEqual([expect.stringMatching(/web:2$/), hotfixArn])
      expect(run.log.some(line => /moved from web:1 to web:3 since the plan was made .*a rollback of this deploy returns to web:3/.test(line))).toBe(true)
      const ours = await ecsClient(ecs.endpoint).send(new DescribeTaskDefinitionCommand({ taskDefinition: 'web:2', include: ['TAGS'] }))
      expect(ours.tags).toEqual(expect.arrayContaining([{ key: PREVIOUS_TAG, value: hotfixArn }]))
    })
  })

  it('does not adopt a service deployment someone else started during the pre-deploy task', async () => {
    let hotfixArn = ''
    const afterCall = (call: { operation: string }, send: (operation: string, input: Obj) => Obj) => {
      if (!hotfixArn && call.operation === 'RunTask') hotfixArn = hotfix(send, 'hotfix-4')
    }
    // Service deployments show a moment late: when our UpdateService answers, the service's current
    // one is still the other team's (SUCCESSFUL by then); ours comes into view after, and never finishes.
    await withEcs({ afterCall, serviceDeployments: { appearAfterMs: 600 } }, async ecs => {
      const run = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': 'never', timeout: '6s', 'pre-deploy-command': 'sleep 2; exit 0' })
      expect(run.error).toBeUndefined()
      // Theirs, followed as ours, would say "succeeded"; ours timed out and ECS rolled it back.
      expect(run.result).toMatchObject({ status: 'rolled-back', rollback: { healthy: true } })
      const client = ecsClient(ecs.endpoint)
      const targetOf = async (arn: string): Promise<string> => {
        const { serviceDeployments } = await client.send(new DescribeServiceDeploymentsCommand({ serviceDeploymentArns: [arn] }))
        const { serviceRevisions } = await client.send(new DescribeServiceRevisionsCommand({ serviceRevisionArns: [serviceDeployments![0].targetServiceRevision!.arn!] }))
        return serviceRevisions![0].taskDefinition!
      }
      expect(await targetOf(run.result!.outputs['service-deployment-arn'])).toMatch(/web:2$/)
      // StopServiceDeployment went to ours alone.
      const stopped = calls(ecs, 'StopServiceDeployment').map(c => String((c.input as { serviceDeploymentArn: string }).serviceDeploymentArn))
      expect(stopped).toHaveLength(1)
      expect(await targetOf(stopped[0])).toMatch(/web:2$/)
    })
  })
})

describe('mode rollback acts only on what it read', () => {
  it('does not roll back a deploy that landed after the plan was made', async () => {
    let armed = false
    let hotfixArn = ''
    // The plan's last look at the service deployments: another team deploys right after it.
    const afterCall = (call: { operation: string }, send: (operation: string, input: Obj) => Obj) => {
      if (armed && !hotfixArn && call.operation === 'DescribeServiceDeployments') hotfixArn = hotfix(send, 'hotfix-5')
    }
    await withEcs({ afterCall }, async ecs => {
      const first = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': '2.0.0', timeout: '30s' })
      expect(first.result).toMatchObject({ status: 'succeeded' })
      armed = true
      const back = await runEcs(ecs.endpoint, { service: 'web', mode: 'rollback', timeout: '30s' })
      expect(hotfixArn).toMatch(/web:3$/)
      // Refused before anything changed: another deploy replaced ours, so the step says superseded.
      expect(back.result).toMatchObject({ status: 'superseded', ok: false })
      expect(back.result!.message).toMatch(/did not roll back service web to web:1: service web now runs web:3 .*not web:2 that mode 'rollback' read when it made the plan/)
      expect(back.result!.message).toContain('deploy-service registered it in run https://github.com/acme/hotfixes/actions/runs/77')
      expect(updates(ecs)).toEqual([expect.stringMatching(/web:2$/)])
      expect(await runningTaskDefinition(ecs)).toBe(hotfixArn)
    })
  })

  const PAUSED_AT_TEST = {
    strategy: 'BLUE_GREEN',
    bakeTimeInMinutes: 1,
    lifecycleHooks: [{ targetType: 'PAUSE', lifecycleStages: ['POST_TEST_TRAFFIC_SHIFT'], timeoutConfiguration: { timeoutInMinutes: 600, action: 'ROLLBACK' } }]
  }

  for (const mode of ['continue', 'rollback'] as const) {
    it(`mode ${mode} does not act on a paused service deployment that another deploy replaced after the plan was read`, async () => {
      let armed = false
      let hotfixArn = ''
      const afterCall = (call: { operation: string }, send: (operation: string, input: Obj) => Obj) => {
        if (armed && !hotfixArn && call.operation === 'DescribeServiceDeployments') hotfixArn = hotfix(send, 'hotfix-6')
      }
      const services = defaultSeed().map(seed => ({ ...seed, deploymentConfiguration: PAUSED_AT_TEST }))
      await withEcs({ afterCall, services, settleMs: 1200, serviceDeployments: { minuteMs: 1000, stageMs: 100 } }, async ecs => {
        const first = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': '2.0.0', 'on-pause': 'exit', timeout: '30s' })
        expect(first.result).toMatchObject({ status: 'paused' })
        armed = true
        const second = await runEcs(ecs.endpoint, { service: 'web', mode, timeout: '30s' })
        expect(hotfixArn).toMatch(/web:3$/)
        expect(second.result).toMatchObject({ status: 'superseded', ok: false })
        expect(second.result!.message).toMatch(new RegExp(`did not ${mode === 'continue' ? 'continue' : 'roll back'} service deployment \\w+: service web now runs web:3 .*its current service deployment is no longer \\w+`))
        expect(calls(ecs, 'ContinueServiceDeployment')).toHaveLength(0)
        expect(calls(ecs, 'StopServiceDeployment')).toHaveLength(0)
      })
    })
  }
})
