// The committed bundle, as a runner runs it, on the local Kubernetes control plane: a rollout that
// succeeds but whose verify-url answers 503 is a failed rollout, rolled back, with the answer in the
// log, the reasons and the summary.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import fs from 'node:fs'
import path from 'node:path'
import { createNamespace, deleteNamespace, getJson, kubeconfig } from '../kubernetes/cluster.js'
import { runBundle } from '../helpers/bundle.js'
import { commandsRun } from '../helpers/workflow-commands.js'
import { serve, type TestServer } from '../verify/helpers.js'

let namespace: string
let server: TestServer
beforeAll(async () => {
  namespace = await createNamespace('bundle-verify')
  server = await serve({ '/healthz': (_q, r) => r.writeHead(503, { 'content-type': 'text/plain' }).end('no healthy upstream') })
})
afterAll(async () => {
  await deleteNamespace(namespace)
  await server.close()
})

describe('the bundle with verification', () => {
  const inputs = () => ({
    service: 'web',
    namespace,
    template: path.resolve('demo/kubernetes/web.yaml'),
    vars: 'GREETING=hello',
    kubeconfig: fs.readFileSync(kubeconfig, 'utf8'),
    timeout: '3m'
  })

  it('rolls back a rollout whose verify-url never answers 2xx', async () => {
    const first = await runBundle({ ...inputs(), 'image-tag': '1.1.0' }, {})
    expect(first.outputs.status).toBe('succeeded')
    const run = await runBundle({ ...inputs(), 'image-tag': '1.2.0', 'verify-url': `${server.url}/healthz?token=s3cret-value`, 'verify-timeout': '3s' }, {})
    expect(run.code).toBe(1)
    expect(run.outputs.status).toBe('rolled-back')
    expect(run.stdout).toContain('answered 503 Service Unavailable: "no healthy upstream"')
    expect(run.summary).toContain('verification failed')
    // The query value is masked by the runner (registered, in each of its forms) and never printed by us.
    expect(run.stdout).toContain('::add-mask::s3cret-value')
    expect(run.stdout.replace(/^::add-mask::.*$/gm, '')).not.toContain('s3cret-value')
    const deployment = await getJson<{ spec: { template: { spec: { containers: Array<{ image: string }> } } } }>(namespace, 'deployment', 'web')
    expect(deployment.spec.template.spec.containers[0].image).toBe('registry.example/web:1.1.0')
  }, 240_000)

  it('runs verify-command without the action inputs, and prints its output as data whatever character starts a line', async () => {
    await runBundle({ ...inputs(), 'image-tag': '1.1.0' }, {})
    // A line that starts with U+0085 (NEL, UTF-8 C2 85), which the runner strips before it looks for `::`.
    const command = [
      "printf '\\302\\205::add-mask::bundle-verify-nel\\n'",
      "if tr '\\000' '\\n' < /proc/$$/environ | grep -q '^INPUT_'; then echo 'the action inputs reached verify-command'; exit 1; fi"
    ].join('; ')
    const run = await runBundle({ ...inputs(), 'image-tag': '1.3.0', 'verify-command': command, 'verify-timeout': '30s' }, {})
    expect(run.stdout).not.toContain('the action inputs reached verify-command')
    expect(run.outputs.status).toBe('succeeded')
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('verify-command stdout: \u0085::add-mask::bundle-verify-nel')
    expect(commandsRun(run.stdout).filter(c => c.name === 'add-mask' && c.data.includes('bundle-verify-nel'))).toEqual([])
  }, 240_000)
})
