// Nothing secret leaves the runner, and no request outlives the run: Secret values are absent from the
// dry-run diff, the render output, the log and the job summary (the rendered file may hold them);
// every credential of a kubeconfig is registered with the runner's masking on its own; a proxy that
// answers HTML is named as such; a black-holed API server ends in a clear error, and a cancelled
// signal ends a request in flight at once.
import http from 'node:http'
import net from 'node:net'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { expect, it, jest } from '@jest/globals'
import { KubeConfig } from '@kubernetes/client-node'
import { KubeApi } from '../../src/platforms/kubernetes/api/client.js'
import { summaryMarkdown } from '../../src/report/summary.js'
import type { DeployRequest } from '../../src/request.js'
import { deploy, deployment, expectStatus, kubeconfig, kubectlOk, templateDir, withCluster, inNamespace } from './cluster.js'

const REGISTRY = 'registry.local/shop'
const OLD_PASSWORD = 'old-db-password-7731'
const NEW_PASSWORD = 'new-db-password-9902'
const API_KEY = 'sk_live_api_key_5521'

const secret = (password: string) => `apiVersion: v1
kind: Secret
metadata: {name: db}
type: Opaque
data:
  password: ${Buffer.from(password).toString('base64')}
stringData:
  api-key: ${API_KEY}
`

/** Every form a value could leak in: as is, and base64 (data) encoded. */
function leaks(text: string): string[] {
  return [OLD_PASSWORD, NEW_PASSWORD, API_KEY].flatMap(v => [v, Buffer.from(v).toString('base64')]).filter(v => text.includes(v))
}

/** Captures what the process writes to stdout (where @actions/core writes its workflow commands). */
async function captureStdout<T>(fn: () => Promise<T>): Promise<{ value: T; stdout: string }> {
  const chunks: string[] = []
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(String(chunk))
    return true
  })
  try {
    return { value: await fn(), stdout: chunks.join('') }
  } finally {
    spy.mockRestore()
  }
}

const summaryOf = (run: Awaited<ReturnType<typeof deploy>>) => summaryMarkdown(run.result!, { service: 'web' } as DeployRequest, 'kubernetes')

withCluster('secrets and requests', () => {
  let ns = ''
  inNamespace('k8s-secrets', name => (ns = name))

  it('keeps Secret values out of the dry-run diff, render output, log and summary; the diff still names the changed key', async () => {
    const outputDir = fs.mkdtempSync(path.join(os.tmpdir(), 'secrets-out-'))
    const env = { RUNNER_TEMP: outputDir }
    const web = deployment('web', `${REGISTRY}/web:1.0`, { replicas: 1 })
    // Applied client-side, so the live Secret also carries the values in its last-applied annotation.
    await kubectlOk(['-n', ns, 'apply', '-f', '-'], secret(OLD_PASSWORD))
    const template = templateDir({ 'db.yaml': secret(NEW_PASSWORD), 'web.yaml': web })

    // kubectl owns the live values: taking them over is the user's explicit choice (force-conflicts).
    const dry = await deploy({ service: 'web', 'image-tag': '1.1', template, namespace: ns, 'dry-run': 'true', 'force-conflicts': 'true' }, env)
    expectStatus(dry, 'dry-run')
    expect(dry.result?.diff).toMatch(/-\s+password: \(secret value, hmac [0-9a-f]{10}\)\n\+\s+password: \(secret value, hmac [0-9a-f]{10}\)/)
    expect(dry.result?.diff).toMatch(/api-key: \(secret value, hmac [0-9a-f]{10}\)/)
    expect(leaks(dry.result!.diff!)).toEqual([])
    expect(leaks(dry.log)).toEqual([])
    expect(leaks(summaryOf(dry))).toEqual([])

    const rendered = await deploy({ service: 'web', 'image-tag': '1.1', template, namespace: ns, mode: 'render' }, env)
    expectStatus(rendered, 'rendered')
    expect(rendered.log).toMatch(/password: \(secret value, hmac/)
    expect(leaks(rendered.log)).toEqual([])
    expect(leaks(summaryOf(rendered))).toEqual([])
    // The rendered file under RUNNER_TEMP is whole: it is what would be applied.
    expect(leaks(fs.readFileSync(rendered.result!.renderedPath!, 'utf8'))).toEqual(expect.arrayContaining([API_KEY, Buffer.from(NEW_PASSWORD).toString('base64')]))

    const applied = await deploy({ service: 'web', 'image-tag': '1.1', template, namespace: ns, 'force-conflicts': 'true' }, env)
    expectStatus(applied, 'succeeded')
    expect(leaks(applied.log)).toEqual([])
    expect(leaks(summaryOf(applied))).toEqual([])
    const live = JSON.parse(await kubectlOk(['-n', ns, 'get', 'secret', 'db', '-o', 'json'])) as { data: Record<string, string> }
    expect(Buffer.from(live.data.password, 'base64').toString()).toBe(NEW_PASSWORD)
  }, 120_000)

  it('masks every credential of a kubeconfig on its own: client key (and its lines), token, exec env, auth-provider tokens', async () => {
    const admin = fs.readFileSync(kubeconfig, 'utf8')
    const keyData = /client-key-data: (\S+)/.exec(admin)![1]
    const keyLine = Buffer.from(keyData, 'base64').toString().split('\n')[1]
    const extraUsers = `- name: token-user
  user: {token: tok-3f9a8b7c6d5e}
- name: exec-user
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: aws-iam-authenticator
      args: [token, -i, cluster, --secret-token=arg-secret-8c1d]
      env: [{name: AWS_SECRET_ACCESS_KEY, value: exec-env-secret-41b2}, {name: AWS_PROFILE, value: "on"}]
      interactiveMode: Never
- name: oidc-user
  user:
    auth-provider:
      name: oidc
      config: {client-id: shop, client-secret: oidc-client-secret-77, id-token: oidc-id-token-66, refresh-token: oidc-refresh-token-55, idp-issuer-url: "https://issuer.example"}
`
    const content = admin.replace('users:\n', `users:\n${extraUsers}`)
    const { value: run, stdout } = await captureStdout(() => deploy({ service: 'web', 'image-tag': '1.2', namespace: ns, kubeconfig: content, 'dry-run': 'true' }))
    expectStatus(run, 'dry-run')
    const masks = stdout.split('\n').filter(line => line.startsWith('::add-mask::')).map(line => line.slice('::add-mask::'.length))
    for (const secretValue of [keyData, keyLine, 'tok-3f9a8b7c6d5e', 'exec-env-secret-41b2', 'arg-secret-8c1d', 'oidc-client-secret-77', 'oidc-id-token-66', 'oidc-refresh-token-55']) {
      expect(masks).toContain(secretValue)
    }
    // Not secrets: masking them would blank out ordinary words in every log line.
    for (const plain of ['on', 'shop', 'https://issuer.example']) expect(masks).not.toContain(plain)
  }, 60_000)
})

it('names a proxy that answers HTML as such', async () => {
  const server = http.createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html' })
    response.end('<!DOCTYPE html><html><head><title>Sign in</title></head><body>Corporate proxy</body></html>')
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  try {
    const port = (server.address() as net.AddressInfo).port
    const run = await deploy({ service: 'web', 'image-tag': '1.0', namespace: 'default', kubeconfig: plainKubeconfig(`http://127.0.0.1:${port}`) })
    expect(run.error?.name).toBe('UserError')
    expect(run.error?.message).toMatch(/the server answered with an HTML page instead of the Kubernetes API's JSON .* at http:\/\/127\.0\.0\.1:\d+: check the kubeconfig's server address \(a proxy or a login page may be in the way\)/)
  } finally {
    server.close()
  }
}, 60_000)

it('ends a request in flight at once when the signal aborts, and a black-holed server with a clear error', async () => {
  // Accepts connections and never answers.
  const sockets: net.Socket[] = []
  const server = net.createServer(socket => sockets.push(socket))
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  try {
    const port = (server.address() as net.AddressInfo).port
    const config = new KubeConfig()
    config.loadFromString(plainKubeconfig(`http://127.0.0.1:${port}`))
    const cancel = new AbortController()
    const reason = new Error('the run was cancelled (SIGINT)')
    setTimeout(() => cancel.abort(reason), 500)
    const started = Date.now()
    await expect(new KubeApi(config).withSignal(cancel.signal).list('/api/v1/namespaces/default/pods')).rejects.toBe(reason)
    const cancelledAfterMs = Date.now() - started
    expect(cancelledAfterMs).toBeLessThan(3000)

    const blackHoleStarted = Date.now()
    await expect(new KubeApi(config).list('/api/v1/namespaces/default/pods')).rejects.toThrow(
      /cannot reach the Kubernetes API server at http:\/\/127\.0\.0\.1:\d+ \(no answer to 2 requests in 3\ds\)/
    )
    console.log(`cancelled request ended after ${cancelledAfterMs} ms; black-holed server: clear error after ${Date.now() - blackHoleStarted} ms`)
  } finally {
    sockets.forEach(s => s.destroy())
    server.close()
  }
}, 90_000)

function plainKubeconfig(server: string): string {
  return `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: "${server}", insecure-skip-tls-verify: true}\nusers:\n- name: u\n  user: {token: plain-token-1234}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n`
}
