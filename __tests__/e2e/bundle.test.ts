// The committed bundle, run as the runner runs it: `node dist/index.js` with INPUT_* variables
// (dashes kept), GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, against real local servers.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
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
    expect(run.summary).toMatch(/## 📤 deploy-service: web applied/)
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
      // Whether a poll saw the deployment FAILED or only already replaced by ECS's rollback depends on
      // timing; both name the circuit breaker.
      expect(run.stdout).toMatch(
        /::error::the rollout of .*web:2 failed \((ECS deployment circuit breaker: tasks failed to start\.|deployment \S+ is gone: .*\(the circuit breaker rolled back\))\); .*web:1 is back and healthy/
      )
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
      expect(run.summary).toMatch(/cancelled while rolling out .*web:2/)
      expect(run.summary).toMatch(/^\| rollout state at the end \| .*running.* \|$/m)
      expect(ecs.calls.filter(c => c.operation === 'UpdateService')).toHaveLength(1)
    } finally {
      await ecs.close()
    }
  })

  // A runner whose files are broken: GITHUB_OUTPUT in a folder that does not exist, GITHUB_STEP_SUMMARY
  // and GITHUB_EVENT_PATH folders. The deploy is still the verdict; each broken file is one warning.
  it('survives a broken runner: no crash handler, a warning per file, the deploy still succeeds', async () => {
    const broken = fs.mkdtempSync(path.join(os.tmpdir(), 'broken-runner-'))
    const run = await runBundle(
      { service: 'api', cluster: 'prod', 'image-tag': '3.1.0', wait: 'false', environment: 'staging', 'github-token': 'ghs_test' },
      { AWS_ENDPOINT_URL_ECS: moto.endpoint, GITHUB_OUTPUT: path.join(broken, 'missing', 'output'), GITHUB_STEP_SUMMARY: broken, GITHUB_EVENT_PATH: broken }
    )
    expect(run.code).toBe(0)
    expect(run.stdout).not.toMatch(/Node\.js v\d+|^\s+at |::error/m)
    expect(run.stdout.length).toBeLessThan(10_000)
    expect(run.stdout).toMatch(/::warning::Could not write the step outputs \(status, .*\): Missing file at path/)
    expect(run.stdout).toMatch(/::warning::Could not write the job summary: .*Is GITHUB_STEP_SUMMARY a writable file\?/)
    expect(run.stdout).toMatch(/::warning::No GitHub Deployment is recorded for environment 'staging': the GitHub client did not load \(EISDIR/)
    expect(run.stdout).toMatch(/^applied api:\d+; not waiting/m)
  })

  // The action's own code fails to load (here: its chunks are missing): still one error line, exit 1.
  it('ends a bundle that cannot load with one error line, never the crash handler', async () => {
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'broken-dist-'))
    for (const file of fs.readdirSync('dist').filter(f => !/^\d+\.index\.js$/.test(f))) fs.copyFileSync(path.join('dist', file), path.join(copy, file))
    const run = await runBundle({ service: 'web', 'image-tag': '2' }, {}, { bundle: path.join(copy, 'index.js') })
    expect(run.code).toBe(1)
    expect(run.stdout).toMatch(/^::error::deploy-service stopped on an unexpected error: Cannot find module '.*\.index\.js'/m)
    expect(run.stdout.match(/^::error/gm)).toHaveLength(1)
    expect(run.stdout).not.toMatch(/Node\.js v\d+/)
  })

  // Node reads the source maps of the dist/ chunks: the stack of an unexpected error names src/ files.
  it('prints an unexpected error once, with a stack that names src/*.ts files', async () => {
    const server = http.createServer((_, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Sign in to the proxy</body></html>'))
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    try {
      const endpoint = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`
      const run = await runBundle({ service: 'web', 'image-tag': '2', platform: 'ecs' }, { AWS_ENDPOINT_URL_ECS: endpoint })
      expect(run.code).toBe(1)
      expect(run.stdout).toMatch(/^\s+at .*\/src\/platforms\/ecs\/[a-z-]+\.ts:\d+/m)
      expect(run.stdout).toMatch(/^\s+at .*\/src\/main\.ts:\d+/m)
      expect(run.stdout.match(/^::error/gm)).toHaveLength(1)
      expect(run.stdout).toMatch(/^::error::nothing was changed: /m)
      expect(run.stdout).not.toMatch(/Node\.js v\d+/)
    } finally {
      server.close()
    }
  })

  // An endpoint that takes the connection and never answers: after SIGINT the run stops and reports
  // within GitHub's 7.5 s before SIGTERM, even if the call in flight ignores the abort (then the
  // watchdog writes the short report). The bound here is generous; it is no timing test.
  it('exits non-zero soon after SIGINT while a request hangs, saying it was cancelled', async () => {
    const sockets: net.Socket[] = []
    const server = net.createServer(socket => void sockets.push(socket))
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    try {
      const endpoint = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`
      const run = await runBundle({ service: 'web', 'image-tag': '2', platform: 'ecs' }, { AWS_ENDPOINT_URL_ECS: endpoint }, { signalAfterMs: 1500 })
      expect(sockets.length).toBeGreaterThan(0)
      expect(run.code).toBe(1)
      expect(run.elapsedMs).toBeLessThan(20_000)
      expect(run.stdout).toMatch(/^the run was cancelled \(SIGINT\): stopping, then reporting where the run stood$/m)
      expect(run.stdout).toMatch(/^::error::.*cancelled.*nothing was changed/m)
      // The request in flight was aborted by the cancellation itself (not ended by the watchdog's halt).
      expect(run.stdout).toMatch(/could not describe service 'web': the run was cancelled \(SIGINT\)/)
      expect(run.stdout).not.toMatch(/Stack trace of the unexpected error/)
      expect(run.outputs.status).toBe('failed')
      expect(run.summary).toMatch(/cancelled/)
      expect(run.stdout).not.toMatch(/Node\.js v\d+/)
    } finally {
      sockets.forEach(socket => socket.destroy())
      server.close()
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
