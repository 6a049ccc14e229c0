// A Flagger Canary followed as Flagger's own status says, against the real Flagger (v1.36.1, built from Go
// modules by scripts/controllers.sh) on the local control plane: a first deploy is Initialized (no analysis),
// a passing webhook analysis ends Succeeded, a failing one Failed (the step fails naming the check), and an
// old Succeeded never counts for a spec Flagger has not picked up.
import { afterAll, beforeAll, expect, it } from '@jest/globals'
import { startCheckServer, startFlagger, type CheckServer, type Flagger } from '../../test/support/flagger.js'
import { deploy, deployment, expectStatus, getJson, inNamespace, kubeconfig, stateOf, templateDir, withCluster } from './cluster.js'

const REGISTRY = 'registry.local/shop'

/** Blue/Green (the kubernetes provider has no traffic shifting): one iteration of one webhook, every 10 s (Flagger's floor). */
function canary(name: string, checkUrl: string, options: { suspend?: boolean } = {}): string {
  return `apiVersion: flagger.app/v1beta1
kind: Canary
metadata: {name: ${name}}
spec:
  provider: kubernetes
${options.suspend ? '  suspend: true\n' : ''}  targetRef: {apiVersion: apps/v1, kind: Deployment, name: ${name}}
  progressDeadlineSeconds: 60
  service: {port: 80}
  analysis:
    interval: 10s
    threshold: 1
    iterations: 1
    webhooks:
    - name: acceptance
      type: rollout
      url: ${checkUrl}
      timeout: 5s
`
}

/** The Deployment without replicas: Flagger scales the target, and our apply must not take that back. */
function target(name: string, tag: string): string {
  return deployment(name, `${REGISTRY}/${name}:${tag}`).replace(/^ {2}replicas: \d+\n/m, '')
}

withCluster('Flagger Canary (real Flagger, kubernetes provider, webhook analysis)', () => {
  let ns = ''
  let flagger: Flagger | undefined
  let check: CheckServer
  inNamespace('k8s-flagger', name => (ns = name))

  beforeAll(async () => {
    check = await startCheckServer()
    flagger = await startFlagger(kubeconfig, ns)
  }, 45 * 60_000)

  afterAll(async () => {
    await flagger?.stop()
    await check?.close()
  })

  const deployWeb = (tag: string, options: { suspend?: boolean; timeout?: string } = {}) =>
    deploy({
      service: 'web',
      'image-tag': tag,
      template: templateDir({ 'web.yaml': target('web', tag), 'canary.yaml': canary('web', check.url, options) }),
      namespace: ns,
      'rollback-on-failure': 'false',
      timeout: options.timeout ?? '2m'
    })

  it('says a first deploy is Initialized by Flagger, with no analysis', async () => {
    const run = await deployWeb('1.0')
    expectStatus(run, 'succeeded')
    expect(stateOf(run, 'Canary/web')).toMatch(/^ready: first deploy: Flagger initialized deployment\/web-primary from our spec \(Initialized; no analysis/)
    expect((await getJson(ns, 'canary', 'web')).status.phase).toBe('Initialized')
    expect(check.calls).toBe(0)
  }, 180_000)

  it('follows the analysis of our spec to Succeeded when the webhook passes', async () => {
    check.passing = true
    const before = check.calls
    const run = await deployWeb('2.0')
    expectStatus(run, 'succeeded')
    expect(stateOf(run, 'Canary/web')).toBe('ready: Succeeded: Flagger promoted our spec')
    expect(run.log).toMatch(/Progressing: analysis of our spec, iteration \d of 1/)
    expect(check.calls).toBeGreaterThan(before)
    const primary = await getJson(ns, 'deployment', 'web-primary')
    expect(primary.spec.template.spec.containers[0].image).toBe(`${REGISTRY}/web:2.0`)
  }, 180_000)

  it('never counts the old Succeeded for a spec Flagger has not picked up (a suspended Canary)', async () => {
    const run = await deployWeb('3.0', { suspend: true, timeout: '20s' })
    expect(run.result?.status).toBe('failed')
    expect(stateOf(run, 'Canary/web')).toMatch(/^not ready: Flagger has not picked up our spec of deployment\/web yet \(its phase Succeeded is about the spec before ours\)/)
    expect((await getJson(ns, 'canary', 'web')).status.phase).toBe('Succeeded')
  }, 180_000)

  it('fails the step naming the failed check when Flagger fails the analysis and rolls back', async () => {
    check.passing = false
    const run = await deployWeb('4.0')
    // Flagger rolled back on its own (rollback-on-failure is off here): said as the platform's rollback, as on ECS.
    expect(run.result?.status).toBe('rolled-back')
    const reasons = `${run.result?.message ?? ''}\n${run.result?.reasons.join('\n') ?? ''}`
    expect(reasons).toMatch(/Canary\/web Failed: Flagger rolled our spec back \(failed-checks threshold 1, or its progress deadline\); deployment\/web-primary serves the previous spec; Flagger said: /)
    expect(reasons).toMatch(/Flagger said: .*advancement external check acceptance failed .*; Rolling back .* failed checks threshold reached 1/)
    expect((await getJson(ns, 'canary', 'web')).status.phase).toBe('Failed')
    const primary = await getJson(ns, 'deployment', 'web-primary')
    expect(primary.spec.template.spec.containers[0].image).toBe(`${REGISTRY}/web:2.0`)
  }, 180_000)

  it('follows a Canary found targeting the workload on an image-only change, past the Failed that Flagger re-labels with our hash before analysing it', async () => {
    check.passing = true
    const run = await deploy({ service: 'web', 'image-tag': '5.0', namespace: ns, 'rollback-on-failure': 'false' })
    expectStatus(run, 'succeeded')
    expect(stateOf(run, 'Canary/web')).toBe('ready: Succeeded: Flagger promoted our spec')
    const primary = await getJson(ns, 'deployment', 'web-primary')
    expect(primary.spec.template.spec.containers[0].image).toBe(`${REGISTRY}/web:5.0`)
  }, 180_000)
})
