// EKS by name: the token is made as aws-iam-authenticator defines it and checked the way EKS checks it
// (a token webhook in front of a second kube-apiserver of the test cluster, STS answered by moto); a
// wait longer than the webhook's token age proves that credentials are renewed, for the EKS token and
// for any kubeconfig (exec plugin, static token).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { KubeApi, loadKubeConfig } from '../../src/platforms/kubernetes/api/client.js'
import { EksTokenSource, TOKEN_PREFIX, eksKubeConfig, eksToken } from '../../src/platforms/kubernetes/api/eks.js'
import { Changes, CollectionWatch } from '../../src/platforms/kubernetes/api/watch.js'
import type { KubernetesSettings } from '../../src/request.js'
import { startEksApi, startTokenWebhook, startWebhookApiServer, type ExtraApiServer, type TokenWebhook } from '../../test/support/eks-auth.js'
import { deploy, deployment, expectStatus, inNamespace, templateDir, withCluster } from './cluster.js'

const CLUSTER = 'shop-prod'
/** The webhook refuses tokens older than this; the waits below are longer, so only a renewal passes. */
const MAX_AGE_MS = 3000
/**
 * kube-apiserver keeps every accepted token 10 s (its union token cache, not a flag) before it asks the
 * webhook again: a wait longer than that and the token age is one the old token cannot survive.
 */
const OUTLIVE_MS = 10_000 + MAX_AGE_MS + 1500
const credentials = { accessKeyId: 'AKIDEXAMPLETESTKEY01', secretAccessKey: 'test-secret-key' }
const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

describe('EKS token', () => {
  it('is a presigned STS GetCallerIdentity URL with the cluster header signed, base64url in the k8s-aws-v1. form', async () => {
    const token = await eksToken({ cluster: CLUSTER, region: 'eu-west-1', credentials, now: new Date('2026-03-02T10:00:00Z') })
    expect(token.startsWith(TOKEN_PREFIX)).toBe(true)
    const encoded = token.slice(TOKEN_PREFIX.length)
    expect(encoded).toMatch(/^[A-Za-z0-9_-]+$/)
    const url = new URL(Buffer.from(encoded, 'base64url').toString('utf8'))
    expect(url.origin).toBe('https://sts.eu-west-1.amazonaws.com')
    expect(url.searchParams.get('Action')).toBe('GetCallerIdentity')
    expect(url.searchParams.get('Version')).toBe('2011-06-15')
    expect(url.searchParams.get('X-Amz-Expires')).toBe('60')
    expect(url.searchParams.get('X-Amz-Date')).toBe('20260302T100000Z')
    expect(url.searchParams.get('X-Amz-Credential')).toBe('AKIDEXAMPLETESTKEY01/20260302/eu-west-1/sts/aws4_request')
    expect(url.searchParams.get('X-Amz-SignedHeaders')).toBe('host;x-k8s-aws-id')
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/)
    // The same inputs sign the same way; another cluster name changes the signature.
    expect(await eksToken({ cluster: CLUSTER, region: 'eu-west-1', credentials, now: new Date('2026-03-02T10:00:00Z') })).toBe(token)
    expect(await eksToken({ cluster: 'other', region: 'eu-west-1', credentials, now: new Date('2026-03-02T10:00:00Z') })).not.toBe(token)
  })
})

withCluster('EKS clusters by name, credentials that outlast the wait', () => {
  let webhook: TokenWebhook
  let apiserver: ExtraApiServer
  let eks: { url: string; close(): Promise<void> }
  const saved = { ...process.env }
  const sts = process.env.MOTO_ENDPOINT ?? ''

  beforeAll(async () => {
    webhook = await startTokenWebhook({ cluster: CLUSTER, maxAgeMs: MAX_AGE_MS, stsEndpoint: sts })
    apiserver = await startWebhookApiServer(webhook.url)
    eks = await startEksApi({ [CLUSTER]: { endpoint: apiserver.server, caData: apiserver.caData } })
    Object.assign(process.env, {
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      AWS_ENDPOINT_URL_EKS: eks.url,
      AWS_ENDPOINT_URL_STS: sts
    })
    delete process.env.AWS_SESSION_TOKEN
    delete process.env.AWS_PROFILE
  }, 180_000)

  afterAll(async () => {
    process.env = saved
    await eks?.close()
    await apiserver?.close()
    await webhook?.close()
  }, 60_000)

  const fresh = (): { accepted: number; refused: number } => ({ accepted: webhook.accepted.length, refused: webhook.refused.length })

  it('renews the EKS token before it is too old: requests and watches after the wait carry the new one', async () => {
    const before = fresh()
    const tokens = new EksTokenSource({ cluster: CLUSTER, region: 'us-east-1', credentials: () => Promise.resolve(credentials), stsEndpoint: sts, refreshAfterMs: 1000 })
    const api = new KubeApi(eksKubeConfig(CLUSTER, { server: apiserver.server, caData: apiserver.caData }, tokens))
    expect((await api.list('/api/v1/namespaces')).items.length).toBeGreaterThan(0)
    await sleep(OUTLIVE_MS)
    expect((await api.list('/api/v1/namespaces')).items.length).toBeGreaterThan(0)
    // A watch started after the wait is authenticated with the new token too.
    const stop = new AbortController()
    const watch = new CollectionWatch(api, '/api/v1/namespaces', {}, new Changes(), stop.signal)
    const running = watch.run()
    await sleep(OUTLIVE_MS)
    stop.abort()
    await running
    expect(watch.fatal).toBeUndefined()
    expect(watch.synced).toBe(true)
    const used = webhook.accepted.slice(before.accepted)
    expect(new Set(used).size).toBeGreaterThanOrEqual(2)
    expect(webhook.refused.length).toBe(before.refused)
  }, 120_000)

  it('a 401 to an old EKS token gets a new one once and goes on', async () => {
    const before = fresh()
    const tokens = new EksTokenSource({ cluster: CLUSTER, region: 'us-east-1', credentials: () => Promise.resolve(credentials), stsEndpoint: sts })
    const api = new KubeApi(eksKubeConfig(CLUSTER, { server: apiserver.server, caData: apiserver.caData }, tokens))
    // The default refresh age (10 minutes) keeps the first token: the server refuses it after the wait.
    await api.list('/api/v1/namespaces')
    await sleep(OUTLIVE_MS)
    expect((await api.list('/api/v1/namespaces')).items.length).toBeGreaterThan(0)
    expect(webhook.refused.slice(before.refused)).toEqual([expect.stringMatching(/signed \d+s ago/)])
    expect(new Set(webhook.accepted.slice(before.accepted)).size).toBe(2)
  }, 90_000)

  describe('the action with eks-cluster', () => {
    let ns = ''
    inNamespace('k8s-eks', name => (ns = name))

    it('reads the endpoint and CA by name, and its rollout outlasts the token', async () => {
      // A token is a presigned URL dated to the second: one made in the same second as the previous test's
      // is the same string, which kube-apiserver's token cache answers without asking the webhook.
      await sleep(1100)
      const before = fresh()
      const template = templateDir({ 'web.yaml': deployment('eks-web', 'registry.local/shop/web:1.0', { replicas: 1, annotations: '{deploy-service.test/ready-after: "8s"}' }) })
      const run = await deploy({ service: 'eks-web', 'image-tag': '1.0', template, namespace: ns, 'eks-cluster': CLUSTER, timeout: '3m' }, { KUBECONFIG: '/nonexistent' })
      expectStatus(run, 'succeeded')
      // Every request went through the webhook (the kubeconfig above does not exist) with EKS tokens.
      expect(webhook.accepted.length).toBeGreaterThan(before.accepted)
      expect(webhook.accepted.slice(before.accepted).every(t => t.startsWith(TOKEN_PREFIX))).toBe(true)
    }, 240_000)

    it('names the input and the fix for a cluster EKS does not know', async () => {
      const run = await deploy({ service: 'eks-web', 'image-tag': '1.0', namespace: ns, 'eks-cluster': 'no-such-cluster' }, { KUBECONFIG: '/nonexistent' })
      expect(run.error?.message).toMatch(/eks-cluster.*no EKS cluster 'no-such-cluster'/)
    }, 60_000)
  })

  const kubeconfigFor = (user: string): KubernetesSettings =>
    ({
      kubeconfig: `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: "${apiserver.server}", certificate-authority-data: ${apiserver.caData}}\nusers:\n- name: u\n  user:\n${user}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\n`,
      fieldManager: 'deploy-service',
      forceConflicts: false,
      helmValues: [],
      helmSet: {},
      prune: false,
      waitForLoadBalancers: true
    }) as KubernetesSettings

  it("a 401 to an exec plugin's token runs the plugin again and goes on", async () => {
    const before = fresh()
    // The plugin gives a token without expirationTimestamp: the client would keep it forever.
    const script = "console.log(JSON.stringify({apiVersion:'client.authentication.k8s.io/v1',kind:'ExecCredential',status:{token:'plain.'+Date.now()}}))"
    const exec = `    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: ${process.execPath}\n      args: ["-e", ${JSON.stringify(script)}]\n      interactiveMode: Never\n`
    const api = new KubeApi(loadKubeConfig(kubeconfigFor(exec)))
    await api.list('/api/v1/namespaces')
    await sleep(OUTLIVE_MS)
    expect((await api.list('/api/v1/namespaces')).items.length).toBeGreaterThan(0)
    expect(webhook.refused.slice(before.refused)).toEqual(['plain token too old'])
    expect(new Set(webhook.accepted.slice(before.accepted)).size).toBe(2)
  }, 90_000)

  it('a static token refused again after the renewal fails, saying what expired: requests and watches', async () => {
    const settings = kubeconfigFor(`    token: plain.${Date.now()}\n`)
    const api = new KubeApi(loadKubeConfig(settings))
    // Accepted once (a token refused from the first request is a wrong one: "check the kubeconfig's user"),
    // then too old for the webhook: the renewal reads the same token again, and that is refused too.
    await api.list('/api/v1/namespaces')
    await sleep(OUTLIVE_MS)
    await expect(api.list('/api/v1/namespaces')).rejects.toThrow(/kubeconfig.*401 Unauthorized to fresh credentials too; refused: the kubeconfig's token \(expired or revoked/)
    const watch = new CollectionWatch(api, '/api/v1/namespaces', {}, new Changes(), new AbortController().signal)
    // The list inside the watch is refused twice: the watch ends with the same explanation.
    await watch.run()
    expect(watch.fatal?.message).toMatch(/401 Unauthorized to fresh credentials too; refused: the kubeconfig's token/)
  }, 60_000)
})
