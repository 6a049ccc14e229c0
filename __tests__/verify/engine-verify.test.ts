// The engine with verification: a failed check is a failed rollout, rolled back; a passing one succeeds.
// The platform is a test-only implementation of our own Platform interface (no SDK, no server).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseInputs } from '../../src/inputs.js'
import type { Plan, Platform, Rollout } from '../../src/rollout/platform.js'
import { runDeployment } from '../../src/rollout/engine.js'
import { Progress } from '../../src/rollout/progress.js'
import { serve, type TestServer } from './helpers.js'

const outputDir = fs.mkdtempSync(path.join(os.tmpdir(), 'engine-verify-'))

function request(inputs: Record<string, string>) {
  const env = Object.fromEntries(Object.entries({ service: 'web', 'image-tag': '2.0.0', platform: 'ecs', timeout: '5s', ...inputs }).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, v]))
  return parseInputs({ ...env, RUNNER_TEMP: outputDir, GITHUB_SHA: 'abc' })
}

function platform() {
  const calls: string[] = []
  const rollout = (revision: string): Rollout => ({
    revision,
    previousRevision: '1',
    outputs: { 'deployment-id': `ecs-svc/${revision}` },
    wait: async () => {
      calls.push(`wait ${revision}`)
      return { state: 'succeeded' }
    },
    undo: async () => {
      calls.push(`undo ${revision}`)
      return rollout('1')
    }
  })
  const plan: Plan = {
    text: '',
    redactedText: '',
    fileName: 'web.json',
    images: [{ container: 'web', previous: 'registry.example/web:1.0.0', next: 'registry.example/web:2.0.0' }],
    previousRevision: '1',
    description: 'web 1 -> 2',
    dryRun: async () => '',
    checkedBy: 'a test',
    apply: async () => {
      calls.push('apply')
      return rollout('2')
    }
  }
  const scripted: Platform = { name: 'ecs', prepareDeploy: async () => plan, prepareRollback: async () => plan, render: async () => plan }
  return { platform: scripted, calls }
}

describe('the engine with verification', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await serve({ '/down': (_q, r) => r.writeHead(503).end('no healthy upstream'), '/up': (_q, r) => r.writeHead(200).end('ok') })
  })
  afterAll(() => server.close())

  it('rolls back when verify-url never answers 2xx, with the status and body in the reasons', async () => {
    const { platform: p, calls } = platform()
    const result = await runDeployment(request({ 'verify-url': `${server.url}/down`, 'verify-timeout': '2s' }), p, new Progress({ info: () => undefined, warning: () => undefined }))
    expect(result).toMatchObject({ status: 'rolled-back', ok: false })
    expect(calls).toEqual(['apply', 'wait 2', 'undo 2', 'wait 1'])
    expect(result.reasons[0]).toContain('verification failed: GET')
    expect(result.reasons[0]).toContain('answered 503 Service Unavailable: "no healthy upstream"')
    expect(result.message).toContain('1 is back and healthy')
  })

  it('rolls back when verify-command fails, and gives it the deploy in its environment', async () => {
    const { platform: p, calls } = platform()
    const result = await runDeployment(request({ 'verify-command': 'echo "revision $DEPLOY_REVISION of $DEPLOY_SERVICE ($DEPLOY_IMAGE), deployment $DEPLOY_DEPLOYMENT_ID"; exit 4' }), p, new Progress({ info: () => undefined, warning: () => undefined }))
    expect(result.status).toBe('rolled-back')
    expect(calls).toEqual(['apply', 'wait 2', 'undo 2', 'wait 1'])
    expect(result.reasons[0]).toContain('verify-command exited with code 4')
    expect(result.reasons[0]).toContain('revision 2 of web (registry.example/web:2.0.0), deployment ecs-svc/2')
  })

  it('leaves a failed verification as it stands with rollback-on-failure off', async () => {
    const { platform: p, calls } = platform()
    const result = await runDeployment(request({ 'verify-command': 'exit 1', 'rollback-on-failure': 'false' }), p, new Progress({ info: () => undefined, warning: () => undefined }))
    expect(result).toMatchObject({ status: 'failed', ok: false })
    expect(calls).toEqual(['apply', 'wait 2'])
  })

  it('succeeds when both checks pass', async () => {
    const { platform: p, calls } = platform()
    const log: string[] = []
    const result = await runDeployment(request({ 'verify-url': `${server.url}/up`, 'verify-command': 'true' }), p, new Progress({ info: l => log.push(l), warning: l => log.push(l) }))
    expect(result).toMatchObject({ status: 'succeeded', ok: true })
    expect(calls).toEqual(['apply', 'wait 2'])
    expect(log.join('\n')).toContain('verification passed')
  })
})
