// What an EKS cluster adds to a plain control plane, for tests on loopback:
// - a token webhook (kube-apiserver's --authentication-token-webhook-config-file) that checks tokens the
//   way EKS's aws-iam-authenticator server does: decode the presigned STS URL, check the host, the
//   action, that the cluster header is signed and names this cluster, the signature's age, then ask STS
//   (moto) who signed it. It refuses tokens older than `maxAgeMs`, so a test can prove a refresh.
// - a stand-in for EKS DescribeCluster (REST-JSON `GET /clusters/{name}`, as the EKS API reference
//   defines it) that gives a local API server's endpoint and CA.
// - a second kube-apiserver of the shared test cluster (same etcd, its own port and flags) that uses
//   the webhook, so these tests never need the shared one restarted.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'

export interface TokenWebhook {
  url: string
  /** Every token the webhook accepted, in order (repeats included). */
  accepted: string[]
  /** Why each refused token was refused. */
  refused: string[]
  close(): Promise<void>
}

export interface WebhookOptions {
  cluster: string
  maxAgeMs: number
  /** The STS endpoint a token's URL must name (moto). */
  stsEndpoint: string
}

/** The username STS gives, or why the token is refused. */
async function reviewEksToken(token: string, options: WebhookOptions): Promise<{ user?: string; refused?: string }> {
  let url: URL
  try {
    url = new URL(Buffer.from(token.slice('k8s-aws-v1.'.length), 'base64url').toString('utf8'))
  } catch {
    return { refused: 'not a presigned URL' }
  }
  const sts = new URL(options.stsEndpoint)
  if (url.host !== sts.host) return { refused: `host ${url.host} is not the STS endpoint` }
  const q = url.searchParams
  if (q.get('Action') !== 'GetCallerIdentity') return { refused: 'not GetCallerIdentity' }
  if (Number(q.get('X-Amz-Expires')) > 60) return { refused: 'X-Amz-Expires over 60' }
  const signedHeaders = (q.get('X-Amz-SignedHeaders') ?? '').split(';')
  if (!signedHeaders.includes('x-k8s-aws-id')) return { refused: 'the cluster header is not signed' }
  const date = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(q.get('X-Amz-Date') ?? '')
  if (!date) return { refused: 'no X-Amz-Date' }
  const signedAt = Date.UTC(+date[1], +date[2] - 1, +date[3], +date[4], +date[5], +date[6])
  // X-Amz-Date has whole seconds: a token is its age rounded down, so one second of slack each way.
  const age = Date.now() - signedAt
  if (age > options.maxAgeMs + 1000) return { refused: `signed ${Math.round(age / 1000)}s ago` }
  if (age < -5000) return { refused: 'signed in the future' }
  // The signed request, sent as the token says: STS answers with the caller, or refuses it. moto tells
  // services apart only by the Authorization header's credential scope (a bare presigned URL reaches its
  // S3), so the token's own signature fields are also sent in that form; real STS reads the query.
  const authorization = `AWS4-HMAC-SHA256 Credential=${q.get('X-Amz-Credential')}, SignedHeaders=${q.get('X-Amz-SignedHeaders')}, Signature=${q.get('X-Amz-Signature')}`
  const answer = await fetch(url, { headers: { 'x-k8s-aws-id': options.cluster, authorization } })
  const body = await answer.text()
  if (!answer.ok) return { refused: `STS answered ${answer.status}` }
  const arn = /<Arn>([^<]+)<\/Arn>/.exec(body)?.[1]
  return arn ? { user: arn } : { refused: 'STS gave no Arn' }
}

/**
 * The webhook. Tokens `plain.<epoch ms>` stand for any other short-lived token (a static token, an
 * exec plugin's): accepted while younger than `maxAgeMs`.
 */
export async function startTokenWebhook(options: WebhookOptions): Promise<TokenWebhook> {
  const accepted: string[] = []
  const refused: string[] = []
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', chunk => chunks.push(chunk as Buffer))
    request.on('end', () => {
      void (async () => {
        const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { apiVersion?: string; spec?: { token?: string } }
        const token = review.spec?.token ?? ''
        let result: { user?: string; refused?: string }
        if (token.startsWith('k8s-aws-v1.')) result = await reviewEksToken(token, options).catch((error: Error) => ({ refused: error.message }))
        else if (/^plain\.\d+$/.test(token)) result = Date.now() - Number(token.slice(6)) <= options.maxAgeMs ? { user: 'plain-user' } : { refused: 'plain token too old' }
        else result = { refused: 'unknown token' }
        if (result.user) accepted.push(token)
        else refused.push(result.refused ?? '')
        const status = result.user ? { authenticated: true, user: { username: result.user, groups: ['system:masters', 'system:authenticated'] } } : { authenticated: false, error: result.refused }
        response.setHeader('Content-Type', 'application/json')
        response.end(JSON.stringify({ apiVersion: review.apiVersion ?? 'authentication.k8s.io/v1', kind: 'TokenReview', status }))
      })()
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return { url: `http://127.0.0.1:${port}/`, accepted, refused, close: () => new Promise(resolve => server.close(() => resolve())) }
}

/** The DescribeCluster stand-in: `clusters` maps a name to its endpoint and base64 CA. */
export async function startEksApi(clusters: Record<string, { endpoint: string; caData: string }>): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((request, response) => {
    const match = /^\/clusters\/([^/?]+)$/.exec(request.url ?? '')
    response.setHeader('Content-Type', 'application/json')
    const name = match ? decodeURIComponent(match[1]) : ''
    const found = request.method === 'GET' ? clusters[name] : undefined
    if (!found) {
      response.statusCode = 404
      response.setHeader('x-amzn-ErrorType', 'ResourceNotFoundException')
      response.end(JSON.stringify({ message: `No cluster found for name: ${name}.` }))
      return
    }
    response.end(
      JSON.stringify({
        cluster: {
          name,
          arn: `arn:aws:eks:us-east-1:123456789012:cluster/${name}`,
          endpoint: found.endpoint,
          certificateAuthority: { data: found.caData },
          status: 'ACTIVE',
          version: '1.34'
        }
      })
    )
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise(resolve => server.close(() => resolve())) }
}

export interface ExtraApiServer {
  server: string
  caData: string
  close(): Promise<void>
}

/** The shared test cluster's run folder (cluster.sh's). */
export function clusterRunDir(): string {
  return (process.env.DEPLOY_SERVICE_CLUSTER_DIR ?? path.join(process.env.TMPDIR ?? '/tmp', 'deploy-service-cluster')).replace(/\/$/, '')
}

/**
 * A second kube-apiserver on the shared cluster's etcd that authenticates bearer tokens through
 * `webhookUrl` (no cache, so every request is checked). Stopped by `close`.
 */
export async function startWebhookApiServer(webhookUrl: string): Promise<ExtraApiServer> {
  const run = clusterRunDir()
  const bin = path.join(fs.readFileSync(path.join(run, 'bin'), 'utf8').trim(), 'cluster-bin')
  const etcdPort = /ETCD_PORT=(\d+)/.exec(fs.readFileSync(path.join(run, 'ports.env'), 'utf8'))?.[1]
  const port = execFileSync(bin, ['free-ports', '1'], { encoding: 'utf8' }).trim()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eks-apiserver-'))
  const webhookConfig = path.join(dir, 'token-webhook.kubeconfig')
  fs.writeFileSync(
    webhookConfig,
    `apiVersion: v1\nkind: Config\nclusters:\n- name: token-webhook\n  cluster: {server: "${webhookUrl}"}\nusers:\n- name: kube-apiserver\n  user: {}\ncontexts:\n- name: webhook\n  context: {cluster: token-webhook, user: kube-apiserver}\ncurrent-context: webhook\n`
  )
  const p = path.join(run, 'pki')
  const args = [
    'kube-apiserver',
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${port}`,
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    `--tls-cert-file=${p}/apiserver.crt`,
    `--tls-private-key-file=${p}/apiserver.key`,
    `--client-ca-file=${p}/ca.crt`,
    '--authorization-mode=Node,RBAC',
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${p}/sa.pub`,
    `--service-account-signing-key-file=${p}/sa.key`,
    '--service-cluster-ip-range=10.96.0.0/16',
    '--endpoint-reconciler-type=none',
    `--authentication-token-webhook-config-file=${webhookConfig}`,
    // The shortest cache there is: a token the webhook now refuses is asked about again within 1 s.
    '--authentication-token-webhook-cache-ttl=1s',
    '--profiling=false',
    '--v=1'
  ]
  const log = fs.openSync(path.join(dir, 'kube-apiserver.log'), 'a')
  const child: ChildProcess = spawn(bin, args, { stdio: ['ignore', log, log] })
  const server = `https://127.0.0.1:${port}`
  const caData = fs.readFileSync(path.join(p, 'ca.crt')).toString('base64')
  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise(resolve => child.once('exit', resolve))
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    }
    fs.closeSync(log)
    fs.rmSync(dir, { recursive: true, force: true })
  }
  // Ready when /readyz answers to the admin's client certificate (the webhook plays no part in that).
  const started = Date.now()
  for (;;) {
    if (child.exitCode !== null) {
      const text = fs.readFileSync(path.join(dir, 'kube-apiserver.log'), 'utf8').slice(-2000)
      await close()
      throw new Error(`the second kube-apiserver exited: ${text}`)
    }
    if (await ready(server, p)) break
    if (Date.now() - started > 120_000) {
      await close()
      throw new Error('the second kube-apiserver was not ready in 120s')
    }
    await new Promise(resolve => setTimeout(resolve, 500))
  }
  return { server, caData, close }
}

async function ready(server: string, pki: string): Promise<boolean> {
  const https = await import('node:https')
  return new Promise(resolve => {
    const request = https.get(
      `${server}/readyz`,
      { ca: fs.readFileSync(`${pki}/ca.crt`), cert: fs.readFileSync(`${pki}/admin.crt`), key: fs.readFileSync(`${pki}/admin.key`), timeout: 5000 },
      response => {
        response.resume()
        resolve(response.statusCode === 200)
      }
    )
    request.on('error', () => resolve(false))
    request.on('timeout', () => request.destroy())
  })
}
