// Several ECS services in one step (issue 18, part 4), on the scripted ECS endpoint through the real SDK:
// one registration per family, each service updated, followed together with batched reads, one verdict;
// only the services that failed are rolled back, a superseded one is left alone.
import { DescribeServicesCommand } from '@aws-sdk/client-ecs'
import { describe, expect, it } from '@jest/globals'
import { outputsOf } from '../../src/report/outputs.js'
import { startScriptedEcs, type Obj, type ScriptedEcs, type ScriptedEcsOptions, type SeedService } from '../../test/support/scripted-ecs.js'
import { ecsClient, runEcs } from '../helpers/run.js'

const MONOREPO = ['api', 'worker', 'scheduler']

/** A service whose live task definition is family `family` with one container `app` (and `extra` containers). */
function seed(name: string, family: string, extra: Obj[] = []): SeedService {
  return {
    name,
    desiredCount: 2,
    taskDefinition: { family, networkMode: 'awsvpc', requiresCompatibilities: ['FARGATE'], cpu: '256', memory: '512', containerDefinitions: [{ name: 'app', image: 'registry.example/app:1.0', essential: true }, ...extra] }
  }
}

async function withEcs<T>(options: ScriptedEcsOptions, fn: (ecs: ScriptedEcs) => Promise<T>): Promise<T> {
  const ecs = await startScriptedEcs({ settleMs: 800, failAfterMs: 900, ...options })
  try {
    return await fn(ecs)
  } finally {
    await ecs.close()
  }
}

const calls = (ecs: ScriptedEcs, operation: string) => ecs.calls.filter(c => c.operation === operation && c.status === 200)
const updates = (ecs: ScriptedEcs) => calls(ecs, 'UpdateService').map(c => `${(c.input as Obj).service} ${(c.input as Obj).taskDefinition}`)

async function running(ecs: ScriptedEcs): Promise<Record<string, string>> {
  const out = await ecsClient(ecs.endpoint).send(new DescribeServicesCommand({ cluster: 'default', services: MONOREPO }))
  return Object.fromEntries(out.services!.map(s => [s.serviceName!, s.taskDefinition!.split('/').pop()!]))
}

describe('several ECS services in one step', () => {
  it('registers once for three services sharing a family, updates each, follows them together, and succeeds', async () => {
    await withEcs({ services: MONOREPO.map(name => seed(name, 'mono')) }, async ecs => {
      const run = await runEcs(ecs.endpoint, { service: 'api\nworker\nscheduler', 'image-tag': '2.0' })
      expect(run.error).toBeUndefined()
      expect(run.result).toMatchObject({ status: 'succeeded', ok: true })
      // The seed registered mono:1..3 (one per service): ours is mono:4, once.
      expect(calls(ecs, 'RegisterTaskDefinition')).toHaveLength(1)
      expect(updates(ecs).sort()).toEqual(['api arn:aws:ecs:us-east-1:123456789012:task-definition/mono:4', 'scheduler arn:aws:ecs:us-east-1:123456789012:task-definition/mono:4', 'worker arn:aws:ecs:us-east-1:123456789012:task-definition/mono:4'])
      expect(await running(ecs)).toEqual({ api: 'mono:4', worker: 'mono:4', scheduler: 'mono:4' })

      // Batched: once all three are updated, every look reads them together, not one call per service.
      const lastUpdate = Math.max(...calls(ecs, 'UpdateService').map(c => c.at))
      const looks = ecs.calls.filter(c => c.at >= lastUpdate && (c.operation === 'DescribeServiceDeployments' || c.operation === 'DescribeServices'))
      const sds = looks.filter(c => c.operation === 'DescribeServiceDeployments').map(c => ((c.input as Obj).serviceDeploymentArns as string[]).length)
      // The last member's own first look (at its UpdateService answer) is alone; the group's looks follow.
      expect(sds[1]).toBe(3)
      const asked = looks.reduce((n, c) => n + ((c.input as Obj).serviceDeploymentArns ?? (c.input as Obj).services).length, 0)
      expect(asked / looks.length).toBeGreaterThan(2)

      // One row per service, in the summary's table and the `services` output.
      const outputs = outputsOf(run.result!)
      const services = JSON.parse(outputs.services) as Obj[]
      expect(services.map(s => [s.service, s.status, s.revision.split('/').pop()])).toEqual([['api', 'succeeded', 'mono:4'], ['worker', 'succeeded', 'mono:4'], ['scheduler', 'succeeded', 'mono:4']])
      expect(services.every(s => /^arn:aws:ecs:.*service-deployment\//.test(s.serviceDeploymentArn))).toBe(true)
      expect(run.result!.objects!.map(o => o.ref)).toEqual(['service/api', 'service/worker', 'service/scheduler'])
    })
  })

  it('rolls back only the service that failed; the others keep the new revision', async () => {
    // worker's task definition has a sidecar whose image crashes (the scripted endpoint's `crash` tag) in
    // the new revision; ECS's circuit breaker rolls worker back, and api and scheduler stay deployed.
    const services = [seed('api', 'mono'), seed('worker', 'worker', [{ name: 'probe', image: 'registry.example/probe:crash', essential: true }]), seed('scheduler', 'mono')]
    await withEcs({ services }, async ecs => {
      const before = await running(ecs)
      const run = await runEcs(ecs.endpoint, { service: 'api, worker, scheduler', 'image-tag': '2.0', container: 'app' })
      expect(run.error).toBeUndefined()
      expect(run.result).toMatchObject({ status: 'rolled-back', ok: false })
      expect(calls(ecs, 'RegisterTaskDefinition')).toHaveLength(2)
      // No UpdateService beyond our three: api and scheduler are not rolled back.
      expect(updates(ecs)).toHaveLength(3)
      const now = await running(ecs)
      expect(now.worker).toBe(before.worker)
      expect(now.api).toBe(now.scheduler)
      expect(now.api).not.toBe(before.api)
      const rows = JSON.parse(outputsOf(run.result!).services) as Obj[]
      expect(rows.map(r => [r.service, r.status])).toEqual([['api', 'succeeded'], ['worker', 'rolled-back'], ['scheduler', 'succeeded']])
      expect(run.result!.message).toMatch(/1 of 3 services did not succeed: worker failed/)
    })
  })

  it('reports a service superseded by another deploy and does not roll it back', async () => {
    let theirs = ''
    const afterCall = (call: { operation: string; input: Obj }, send: (operation: string, input: Obj) => Obj) => {
      // Another team deploys scheduler right after our UpdateService of it.
      if (theirs || call.operation !== 'UpdateService' || call.input.service !== 'scheduler') return
      const definition = { ...seed('scheduler', 'mono').taskDefinition, containerDefinitions: [{ name: 'app', image: 'registry.example/app:hotfix', essential: true }] }
      theirs = send('RegisterTaskDefinition', definition).taskDefinition.taskDefinitionArn
      send('UpdateService', { cluster: 'default', service: 'scheduler', taskDefinition: theirs })
    }
    await withEcs({ services: MONOREPO.map(name => seed(name, 'mono')), afterCall }, async ecs => {
      const run = await runEcs(ecs.endpoint, { service: 'api,worker,scheduler', 'image-tag': '2.0' })
      expect(run.error).toBeUndefined()
      expect(run.result).toMatchObject({ status: 'superseded', ok: false })
      expect(run.result!.message).toMatch(/nothing was rolled back/)
      expect(updates(ecs)).toHaveLength(3)
      expect(calls(ecs, 'StopServiceDeployment')).toHaveLength(0)
      const now = await running(ecs)
      expect(now.scheduler).toBe(theirs.split('/').pop())
      expect(now.api).toBe('mono:4')
      const rows = JSON.parse(outputsOf(run.result!).services) as Obj[]
      expect(rows.map(r => [r.service, r.status])).toEqual([['api', 'succeeded'], ['worker', 'succeeded'], ['scheduler', 'superseded']])
    })
  })

  it('refuses several workloads on Kubernetes and a pre-deploy command with several services', async () => {
    const k8s = await runEcs('http://127.0.0.1:9', { service: 'api,worker', platform: 'kubernetes', 'image-tag': '2.0' })
    expect(k8s.error?.message).toMatch(/Kubernetes deploys one workload per step/)
    const pre = await runEcs('http://127.0.0.1:9', { service: 'api,worker', 'image-tag': '2.0', 'pre-deploy-command': 'migrate' })
    expect(pre.error?.message).toMatch(/pre-deploy-command.*'service' names 2/)
  })
})
