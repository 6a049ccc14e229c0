// The committed bundle, run as the runner runs it: `node dist/index.js` with INPUT_* variables
// (dashes kept), GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, against real local servers.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startMoto, type MotoServer } from '../../test/support/moto.js'
import { startScriptedEcs } from '../../test/support/scripted-ecs.js'
import { ecsState, seedService } from '../helpers/ecs-state.js'
import { runBundle } from '../helpers/bundle.js'
import { ecsClient } from '../helpers/run.js'

let moto: MotoServer
beforeAll(async () => {
  moto = await startMoto()
  const client = ecsClient(moto.endpoint)
  await seedService(client, 'prod', 'web')
  await seedService(client, 'prod', 'api')
})
afterAll(async () => {
  await moto.stop()
})

describe('the bundle', () => {
  it('deploys a new tag to one container of a two-container service on moto with no template', async () => {
    const run = await runBundle({ service: 'web', cluster: 'prod', 'image-tag': '1.4.0', wait: 'false' }, { AWS_ENDPOINT_URL_ECS: moto.endpoint })
    expect(run.stdout).not.toMatch(/::error/)
    expect(run.code).toBe(0)
    expect(run.outputs).toMatchObject({
      status: 'applied',
      'task-definition-arn': expect.stringMatching(/task-definition\/web:2$/),
      'previous-revision': expect.stringMatching(/task-definition\/web:1$/),
      image: 'registry.example/web:1.4.0',
      'previous-image': 'registry.example/web:1.0.0'
    })
    expect(run.summary).toMatch(/## ✅ deploy-service: web succeeded/)
    expect(run.summary).toMatch(/\| task-definition-arn \| `arn:aws:ecs:us-east-1:123456789012:task-definition\/web:2` \|/)
    const registered = await ecsClient(moto.endpoint).send(
      new (await import('@aws-sdk/client-ecs')).DescribeTaskDefinitionCommand({ taskDefinition: run.outputs['task-definition-arn'] })
    )
    expect(registered.taskDefinition!.containerDefinitions!.find(c => c.name === 'log-router')!.image).toBe('registry.example/fluent-bit:2.1')
  })

  const node20 = ['/usr/bin/node', '/usr/local/bin/node'].find(p => fs.existsSync(p) && !p.includes('node_modules'))
  it('runs an ECS deploy on Node 20 too, never loading the Kubernetes client', async () => {
    expect(node20).toBeDefined()
    const run = await runBundle({ service: 'api', cluster: 'prod', 'image-tag': '3.0.0', wait: 'false' }, { AWS_ENDPOINT_URL_ECS: moto.endpoint }, { node: node20 })
    expect(run.code).toBe(0)
    expect(run.outputs.status).toBe('applied')
  })

  it('fails a crashing rollout, explains it with the stopped tasks, and reports the rollback', async () => {
    const ecs = await startScriptedEcs({ settleMs: 1000, failAfterMs: 1000 })
    try {
      const run = await runBundle({ service: 'web', 'image-tag': 'crash', platform: 'ecs' }, { AWS_ENDPOINT_URL_ECS: ecs.endpoint })
      expect(run.code).toBe(1)
      expect(run.outputs.status).toBe('rolled-back')
      expect(run.stdout).toMatch(/::warning::tasks of web:2 stopped: EssentialContainerExited: Essential container in task exited/)
      expect(run.stdout).toMatch(/::error::the rollout of .*web:2 failed \(ECS deployment circuit breaker: tasks failed to start\.\); .*web:1 is back and healthy/)
      expect(run.summary).toMatch(/## ↩️ deploy-service: web rolled-back/)
      expect(run.summary).toMatch(/### Why it failed/)
      expect(run.summary).toMatch(/### Timeline/)
    } finally {
      await ecs.close()
    }
  })

  it('stops on SIGINT, reports where the rollout stood and exits non-zero', async () => {
    const ecs = await startScriptedEcs()
    try {
      const run = await runBundle({ service: 'web', 'image-tag': 'never', platform: 'ecs' }, { AWS_ENDPOINT_URL_ECS: ecs.endpoint }, { signalAfterMs: 2500 })
      expect(run.code).toBe(1)
      expect(run.outputs.status).toBe('failed')
      expect(run.stdout).toMatch(/cancelled while rolling out .*web:2.*nothing was rolled back/)
      expect(ecs.calls.filter(c => c.operation === 'UpdateService')).toHaveLength(1)
    } finally {
      await ecs.close()
    }
  })

  it('annotates a template error at file and line, and changes nothing', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bad-template-'))
    const template = path.join(dir, 'task-definition.json')
    fs.writeFileSync(template, '{\n  "family": "web",\n  "containerDefinitions": [\n    { "name": "web", "image": "${REPO}:1" }\n  ]\n}\n')
    const before = await ecsState(ecsClient(moto.endpoint))
    const run = await runBundle({ service: 'web', cluster: 'prod', 'image-tag': '2', template }, { AWS_ENDPOINT_URL_ECS: moto.endpoint })
    expect(run.code).toBe(1)
    expect(run.stdout).toContain(`::error title=deploy-service,file=${template},line=4,col=32::`)
    expect(run.stdout).toMatch(/unknown placeholder \$\{REPO\}/)
    expect(run.stdout).toMatch(/::error::nothing was changed/)
    expect(run.outputs.status).toBe('failed')
    expect(run.summary).toMatch(/Nothing was changed\./)
    expect(await ecsState(ecsClient(moto.endpoint))).toEqual(before)
  })
})
