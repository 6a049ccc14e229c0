// ECS Express services on the scripted endpoint, through the real SDK: detected by DescribeServices
// (resourceManagementType ECS), deployed by UpdateExpressGatewayService with the primary container as
// ECS describes it (only the image changed), followed through the canary service deployment that
// starts; ECS's alarm rollback is a rollback by the platform; a failed verification is rolled back by
// us, through ifOurs, and never over someone else's update. Time is scaled: a "minute" lasts 1 s.
import { describe, expect, it } from '@jest/globals'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { UserError } from '../../src/errors.js'
import { defaultSeed, type Obj, type RecordedCall, type ScriptedEcs, type SeedService } from '../../test/support/scripted-ecs.js'
import { callsOf, deployOn } from '../helpers/ecs-strategies.js'
import { templateWriter } from '../helpers/run.js'

const SERVICE_ARN = 'arn:aws:ecs:us-east-1:123456789012:service/default/web'

/** An Express service as ECS creates one: canary 5%, alarm rollback, a bake; one container, Main. */
function expressSeed(endpoint?: string): SeedService[] {
  return [{
    name: 'web',
    desiredCount: 2,
    deploymentConfiguration: {
      strategy: 'CANARY', canaryConfiguration: { canaryPercent: 5, canaryBakeTimeInMinutes: 1 }, bakeTimeInMinutes: 1,
      alarms: { enable: true, rollback: true, alarmNames: ['web-express-5xx'] }
    },
    express: { endpoint },
    taskDefinition: {
      family: 'default-web', networkMode: 'awsvpc', requiresCompatibilities: ['FARGATE'], cpu: '256', memory: '512',
      executionRoleArn: 'arn:aws:iam::123456789012:role/ecsTaskExecutionRole',
      containerDefinitions: [{ name: 'Main', image: 'registry.example/web:1.0.0', essential: true, portMappings: [{ containerPort: 8080, name: 'main-port' }], environment: [{ name: 'LOG_LEVEL', value: 'info' }] }]
    }
  }]
}

const expressUpdates = (ecs: ScriptedEcs): Obj[] => callsOf(ecs, 'UpdateExpressGatewayService').map((c: RecordedCall) => c.input as Obj)
const steps = (result: { progress: { timeline: Array<{ message: string }> } }) => result.progress.timeline.map(entry => entry.message)

/** What the service runs now, read through the endpoint's own handlers (it is closed once the run ends). */
function running(send: (operation: string, input: Obj) => Obj): { image: string; environment: unknown } {
  const service = send('DescribeServices', { cluster: 'default', services: ['web'] }).services[0]
  const main = send('DescribeTaskDefinition', { taskDefinition: service.taskDefinition }).taskDefinition.containerDefinitions[0]
  return { image: main.image, environment: main.environment }
}

/** A local HTTP server standing in for the Express endpoint; `status` answers each request. */
async function endpointServer(status: (path: string) => number): Promise<{ url: string; paths: string[]; server: Server }> {
  const paths: string[] = []
  const server = createServer((req, res) => {
    paths.push(req.url ?? '')
    res.writeHead(status(req.url ?? '')).end('ok')
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, paths, server }
}

describe('ECS Express services', () => {
  it('deploys the image through UpdateExpressGatewayService, keeps the container settings, follows the canary to SUCCESSFUL and outputs the endpoint URL', async () => {
    let send: ((operation: string, input: Obj) => Obj) | undefined
    const run = await deployOn({ services: expressSeed(), afterCall: (_call, s) => void (send ??= s) }, { 'image-tag': '2.0.0' })
    expect(run.error).toBeUndefined()
    const result = run.result!
    expect(result).toMatchObject({ status: 'succeeded', ok: true })
    expect(result.outputs['endpoint-url']).toBe('https://web-default.ecs.us-east-1.on.aws')
    expect(run.log[0]).toMatch(/ECS Express service web .*https:\/\/web-default\.ecs\.us-east-1\.on\.aws.*registry\.example\/web:1\.0\.0 -> registry\.example\/web:2\.0\.0 \(primary container\).*strategy CANARY \(canary 5% for 1m/)
    // The primary container as ECS described it, with the new image: nothing else asked to change.
    expect(expressUpdates(run.ecs)).toEqual([{ serviceArn: SERVICE_ARN, primaryContainer: { image: 'registry.example/web:2.0.0', containerPort: 8080, environment: [{ name: 'LOG_LEVEL', value: 'info' }] } }])
    expect(callsOf(run.ecs, 'UpdateService')).toHaveLength(0)
    expect(callsOf(run.ecs, 'RegisterTaskDefinition')).toHaveLength(0)
    const shifts = steps(result).filter(m => /production traffic to the new revision/.test(m)).map(m => Number(/(\d+)%$/.exec(m)![1]))
    expect(shifts).toEqual([5, 100])
    expect(steps(result).some(m => /completed: service deployment \w+ SUCCESSFUL/.test(m))).toBe(true)
    expect(result.outputs['service-deployment-arn']).toMatch(/service-deployment\/default\/web\//)
    // ECS registered the new revision from that container: its environment is still there.
    expect(running(send!)).toEqual({ image: 'registry.example/web:2.0.0', environment: [{ name: 'LOG_LEVEL', value: 'info' }] })
  })

  it('reports the alarm rollback ECS made as rolled back by the platform, and makes no rollback of its own', async () => {
    const run = await deployOn({ services: expressSeed() }, { 'image-tag': 'alarm-1' })
    const result = run.result!
    expect(result).toMatchObject({ status: 'rolled-back', ok: false, rollback: { by: 'platform', healthy: true } })
    expect(result.rollback!.revision).toMatch(/task-definition\/default-web:1$/)
    expect(result.reasons.join('\n')).toMatch(/alarm web-express-5xx went into ALARM/)
    expect(expressUpdates(run.ecs)).toHaveLength(1)
    expect(callsOf(run.ecs, 'StopServiceDeployment')).toHaveLength(0)
  })

  it('refuses inputs for what Express manages itself, before anything changes', async () => {
    const run = await deployOn({ services: expressSeed() }, { 'image-tag': '2.0.0', 'desired-count': '4' })
    expect(run.error).toBeInstanceOf(UserError)
    expect(run.error!.message).toMatch(/desired-count.*Express service 'web' scales itself \(its scalingTarget/)
    expect(expressUpdates(run.ecs)).toHaveLength(0)
    expect(callsOf(run.ecs, 'UpdateService')).toHaveLength(0)
  })

  it('refuses a template without the Main container the reference asks for, naming the file', async () => {
    const write = templateWriter('express-template-')
    const file = write('task-definition.json', JSON.stringify({
      family: 'default-web', requiresCompatibilities: ['FARGATE'], networkMode: 'awsvpc', cpu: '256', memory: '512',
      containerDefinitions: [{ name: 'web', image: 'registry.example/web:${IMAGE_TAG}', portMappings: [{ containerPort: 8080, name: 'http' }] }]
    }))
    const run = await deployOn({ services: expressSeed() }, { 'image-tag': '2.0.0', template: file })
    expect(run.error).toBeInstanceOf(UserError)
    expect(run.error!.message).toMatch(/task-definition\.json.*container named 'Main' \(it has web\)/)
    expect(callsOf(run.ecs, 'RegisterTaskDefinition')).toHaveLength(0)
    expect(expressUpdates(run.ecs)).toHaveLength(0)
  })

  it("refuses mode rollback with nothing in flight rather than an UpdateService that would bypass Express", async () => {
    const run = await deployOn({ services: expressSeed() }, { mode: 'rollback' })
    expect(run.error).toBeInstanceOf(UserError)
    expect(run.error!.message).toMatch(/mode.*Express service 'web' has no service deployment in flight.*mode 'deploy' and its 'image-tag'/)
    expect(callsOf(run.ecs, 'UpdateService')).toHaveLength(0)
    expect(expressUpdates(run.ecs)).toHaveLength(0)
  })

  it('deploys a rendered task definition through taskDefinitionArn', async () => {
    const write = templateWriter('express-template-')
    const file = write('task-definition.json', JSON.stringify({
      family: 'web-own', requiresCompatibilities: ['FARGATE'], networkMode: 'awsvpc', cpu: '256', memory: '512',
      containerDefinitions: [
        { name: 'Main', image: 'registry.example/web:${IMAGE_TAG}', portMappings: [{ containerPort: 8080, name: 'http' }] },
        { name: 'sidecar', image: 'registry.example/agent:3', essential: false }
      ]
    }))
    const run = await deployOn({ services: expressSeed() }, { 'image-tag': '2.0.0', template: file, container: 'Main' })
    expect(run.error).toBeUndefined()
    expect(run.result).toMatchObject({ status: 'succeeded' })
    expect(expressUpdates(run.ecs)).toEqual([{ serviceArn: SERVICE_ARN, taskDefinitionArn: expect.stringMatching(/task-definition\/web-own:1$/) }])
  })

  it('checks a verify-url path against the endpoint URL', async () => {
    const { server, url, paths } = await endpointServer(() => 200)
    try {
      const run = await deployOn({ services: expressSeed(url) }, { 'image-tag': '2.0.0', 'verify-url': '/healthz' })
      expect(run.error).toBeUndefined()
      expect(run.result).toMatchObject({ status: 'succeeded', ok: true })
      expect(run.result!.outputs['endpoint-url']).toBe(url)
      expect(paths).toContain('/healthz')
    } finally {
      server.close()
    }
  })

  it('refuses a verify-url path for a service without an endpoint URL, before anything changes', async () => {
    const run = await deployOn({ services: defaultSeed() }, { 'image-tag': '2.0.0', 'verify-url': '/healthz' })
    expect(run.error).toBeInstanceOf(UserError)
    expect(run.error!.message).toMatch(/verify-url.*'\/healthz' is a path.*give a full http\(s\) URL/)
    expect(callsOf(run.ecs, 'RegisterTaskDefinition')).toHaveLength(0)
    expect(callsOf(run.ecs, 'UpdateService')).toHaveLength(0)
  })

  it('rolls back a failed verification itself: the previous primary container goes back, after proving the service still runs ours', async () => {
    const { server, url } = await endpointServer(() => 500)
    let send: ((operation: string, input: Obj) => Obj) | undefined
    try {
      const run = await deployOn({ services: expressSeed(url), afterCall: (_call, s) => void (send ??= s) }, { 'image-tag': '2.0.0', 'verify-url': '/healthz', 'verify-timeout': '2s' })
      expect(run.error).toBeUndefined()
      const result = run.result!
      expect(result).toMatchObject({ status: 'rolled-back', ok: false, rollback: { by: 'action', healthy: true } })
      expect(result.message).toMatch(/verification failed/)
      const updates = expressUpdates(run.ecs)
      expect(updates).toHaveLength(2)
      expect(updates[1]).toEqual({ serviceArn: SERVICE_ARN, primaryContainer: { image: 'registry.example/web:1.0.0', containerPort: 8080, environment: [{ name: 'LOG_LEVEL', value: 'info' }] } })
      expect(callsOf(run.ecs, 'UpdateService')).toHaveLength(0)
      // The proof's fresh read came right before the rollback update.
      const ops = run.ecs.calls.map(c => c.operation)
      expect(ops[ops.lastIndexOf('UpdateExpressGatewayService') - 1]).toBe('DescribeServices')
      expect(running(send!)).toEqual({ image: 'registry.example/web:1.0.0', environment: [{ name: 'LOG_LEVEL', value: 'info' }] })
    } finally {
      server.close()
    }
  })

  it('does not roll back an Express update someone else made while verify-url ran: superseded, no rollback update', async () => {
    let send: ((operation: string, input: Obj) => Obj) | undefined
    let hotfixed = false
    const { server, url } = await endpointServer(() => {
      if (!hotfixed && send) {
        hotfixed = true
        send('UpdateExpressGatewayService', { serviceArn: SERVICE_ARN, primaryContainer: { image: 'registry.example/web:hotfix-1', containerPort: 8080 } })
      }
      return 500
    })
    try {
      const run = await deployOn({ services: expressSeed(url), afterCall: (_call, s) => void (send ??= s) }, { 'image-tag': '2.0.0', 'verify-url': '/healthz', 'verify-timeout': '2s' })
      expect(run.error).toBeUndefined()
      expect(hotfixed).toBe(true)
      expect(run.result).toMatchObject({ status: 'superseded', ok: false })
      expect(run.result!.message).toMatch(/nothing was rolled back: service web now runs default-web:3/)
      expect(run.result!.rollback).toBeUndefined()
      // Ours only: the hotfix's update is the other team's (not recorded), and nothing put 1.0.0 back.
      expect(expressUpdates(run.ecs)).toHaveLength(1)
      expect(running(send!).image).toBe('registry.example/web:hotfix-1')
    } finally {
      server.close()
    }
  })
})
