// Verdicts on a Flagger Canary that the step can trust, against the real Flagger (v1.36.1) on the local
// control plane: a re-run of an unchanged spec takes Flagger's word on it at once; a Failed canary is
// Flagger's own rollback (never undone again by us); a closed confirm-promotion gate ends the step
// `paused` with on-pause exit, and is refused with on-pause continue; a timeout while Flagger analyses
// rolls the target back and follows Flagger's analysis of the restored spec to Succeeded.
import http from 'node:http'
import { afterAll, beforeAll, expect, it } from '@jest/globals'
import { startFlagger, type Flagger } from '../../test/support/flagger.js'
import { freePort } from '../../test/support/moto.js'
import { deploy, deployment, expectStatus, getJson, kubeconfig, templateDir, until, withCluster, inNamespace, type Run } from './cluster.js'

const REGISTRY = 'registry.local/shop'

/** The analysis webhook (200 while `passing`, else 500) and a confirm-promotion gate (200 while `open`, else 403). */
interface Hooks {
  url: string
  passing: boolean
  open: boolean
  close(): Promise<void>
}

async function startHooks(): Promise<Hooks> {
  const port = await freePort()
  const hooks = { passing: true, open: true }
  const server = http.createServer((request, response) => {
    request.resume()
    const ok = request.url?.startsWith('/gate') ? hooks.open : hooks.passing
    response.writeHead(ok ? 200 : request.url?.startsWith('/gate') ? 403 : 500, { 'content-type': 'text/plain' })
    response.end(ok ? 'ok' : 'the test says no')
  })
  await new Promise<void>(resolve => server.listen(port, '127.0.0.1', resolve))
  return Object.assign(hooks, { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>(resolve => server.close(() => resolve())) })
}

/** Blue/Green (kubernetes provider): one iteration of one webhook every 10 s (Flagger's floor), then a promotion gate. */
function canary(name: string, url: string): string {
  return `apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: ${name}}
spec:
  provider: kubernetes
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: ${name}}
  progressDeadlineSeconds: 120
  service: {port: 80}
  analysis:
    interval: 10s
    threshold: 1
    iterations: 1
    webhooks:
    - {name: acceptance, type: rollout, url: '${url}/check', timeout: 5s}
    - {name: promotion-gate, type: confirm-promotion, url: '${url}/gate', timeout: 5s}
`
}

const imageOf = (object: Record<string, any>): string => (object as { spec: { template: { spec: { containers: Array<{ image: string }> } } } }).spec.template.spec.containers[0].image

withCluster('Flagger verdicts the step can trust (real Flagger, kubernetes provider)', () => {
  let ns = ''
  let flagger: Flagger | undefined
  let hooks: Hooks
  inNamespace('k8s-flagger-verdicts', name => (ns = name))

  beforeAll(async () => {
    hooks = await startHooks()
    flagger = await startFlagger(kubeconfig, ns)
  }, 45 * 60_000)

  afterAll(async () => {
    await flagger?.stop()
    await hooks?.close()
  })

  const deployWeb = (tag: string, inputs: Record<string, string> = {}, lines: string[] = []): Promise<Run> =>
    deploy(
      {
        service: 'web',
        'image-tag': tag,
        // No replicas: Flagger scales the target, and our apply must not take that back.
        template: templateDir({ 'web.yaml': deployment('web', `${REGISTRY}/web:${tag}`).replace(/^ {2}replicas: \d+\n/m, ''), 'canary.yaml': canary('web', hooks.url) }),
        namespace: ns,
        timeout: '90s',
        ...inputs
      },
      {},
      lines
    )
  const canaryState = (run: Run): string | undefined => run.result?.objects?.find(o => o.ref === 'Canary/web')?.state

  it('takes Flagger’s word at once on a re-run whose apply left the pod template unchanged', async () => {
    expectStatus(await deployWeb('1.0'), 'succeeded')
    const started = Date.now()
    const again = await deployWeb('1.0')
    expectStatus(again, 'succeeded')
    expect(canaryState(again)).toMatch(/^ready: our apply left the pod template of deployment\/web unchanged, so Flagger's verdict on it stands: first deploy: Flagger initialized/)
    expect(Date.now() - started).toBeLessThan(30_000)
  }, 240_000)

  it('reports a Failed canary as Flagger’s own rollback (rolled-back) and leaves the target Deployment as we applied it', async () => {
    hooks.passing = false
    const run = await deployWeb('2.0')
    expectStatus(run, 'rolled-back')
    expect(run.result?.rollback).toMatchObject({ by: 'platform', healthy: true })
    expect(run.result?.message).toMatch(/Canary\/web Failed: Flagger rolled our spec back .*deployment\/web-primary revision \d+ \(Flagger's primary, serving the previous spec\) is back and healthy/)
    expect(run.log).not.toMatch(/\] rolling back to |rolled back to revision/)
    expect(imageOf(await getJson(ns, 'deployment', 'web'))).toBe(`${REGISTRY}/web:2.0`)
    expect(imageOf(await getJson(ns, 'deployment', 'web-primary'))).toBe(`${REGISTRY}/web:1.0`)
  }, 240_000)

  it('ends paused at a closed confirm-promotion gate with on-pause exit, naming the gate; refuses on-pause continue before anything changes', async () => {
    hooks.passing = true
    hooks.open = false
    const run = await deployWeb('3.0', { 'on-pause': 'exit' })
    expectStatus(run, 'paused')
    expect(run.result?.message).toMatch(/Canary\/web WaitingPromotion: the analysis of our spec passed; promotion waits for approval at Flagger's confirm-promotion gate, webhook 'promotion-gate' \(http:\/\/127\.0\.0\.1:\d+\/gate\); it opens when that webhook answers 200/)
    expect((await getJson(ns, 'canary', 'web')).status.phase).toBe('WaitingPromotion')

    const refused = await deployWeb('9.0', { 'on-pause': 'continue' })
    const said = `${refused.error?.message ?? ''} ${refused.result?.message ?? ''}`
    expect(said).toMatch(/on-pause/)
    expect(said).toMatch(/'continue' cannot be honoured: Canary\/web \(confirm-promotion webhook 'promotion-gate'\) holds the rollout at Flagger's gate/)
    expect(imageOf(await getJson(ns, 'deployment', 'web'))).toBe(`${REGISTRY}/web:3.0`)
  }, 240_000)

  it('at the timeout while Flagger analyses, rolls the target back and follows Flagger’s analysis of the restored spec to Succeeded', async () => {
    // The gate stays closed: our spec (4.0) never gets past WaitingPromotion, so the wait times out.
    const ours = (await getJson(ns, 'canary', 'web')).status.lastAppliedSpec as string
    const lines: string[] = []
    const running = deployWeb('4.0', { timeout: '75s' }, lines)
    let analysed = ''
    await until('Flagger analyses 4.0', async () => {
      const [web, status] = [await getJson(ns, 'deployment', 'web'), (await getJson(ns, 'canary', 'web')).status]
      if (imageOf(web) === `${REGISTRY}/web:4.0` && status.lastAppliedSpec !== ours) analysed = status.lastAppliedSpec
      return analysed !== ''
    }, 90_000)
    // Once our rollback put 3.0 back and Flagger took it up, the gate opens: only 3.0 can be promoted now.
    await until('Flagger takes up the restored spec', async () => {
      const [web, status] = [await getJson(ns, 'deployment', 'web'), (await getJson(ns, 'canary', 'web')).status]
      return imageOf(web) === `${REGISTRY}/web:3.0` && status.lastAppliedSpec !== analysed
    }, 150_000)
    hooks.open = true
    const run = await running
    expectStatus(run, 'rolled-back')
    expect(run.result?.rollback).toMatchObject({ by: 'action', healthy: true })
    expect(run.result?.message).toMatch(/not ready: .*Canary\/web: WaitingPromotion: the analysis of our spec passed/)
    const canaryNow = (await getJson(ns, 'canary', 'web')).status
    expect(canaryNow.phase).toBe('Succeeded')
    expect(imageOf(await getJson(ns, 'deployment', 'web-primary'))).toBe(`${REGISTRY}/web:3.0`)
  }, 300_000)
})
