// Per-object wait rules on the local cluster, with CRDs the test makes and statuses the test writes
// (acting as the controller): the first-status grace of a CRD with a status subresource (and none
// without one), the annotations deploy-service/wait, fail-after and ready-when, and CEL health-checks.
import { afterAll, beforeAll, expect, it } from '@jest/globals'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { deploy, deployment, expectStatus, getJson, kubectl, kubectlOk, templateDir, until, withCluster, inNamespace, type Run } from './cluster.js'

const REGISTRY = 'registry.local/shop'
const group = `w${randomBytes(3).toString('hex')}.deploy-service.test`

const crd = (plural: string, kind: string, statusSubresource: boolean) => `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: ${plural}.${group}}
spec:
  group: ${group}
  scope: Namespaced
  names: {plural: ${plural}, singular: ${kind.toLowerCase()}, kind: ${kind}, listKind: ${kind}List}
  versions:
  - name: v1
    served: true
    storage: true
${statusSubresource ? '    subresources: {status: {}}\n' : ''}    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}}}
          status: {type: object, x-kubernetes-preserve-unknown-fields: true}
`
const gadget = (name: string, annotations = '') => `apiVersion: ${group}/v1\nkind: Gadget\nmetadata:\n  name: ${name}\n${annotations ? `  annotations: {${annotations}}\n` : ''}spec: {size: 1}\n`
const plain = (name: string) => `apiVersion: ${group}/v1\nkind: Plain\nmetadata: {name: ${name}}\nspec: {size: 1}\n`

async function whileRunning(running: Promise<Run>, what: string, check: () => Promise<boolean>): Promise<void> {
  let ended: Run | undefined
  void running.then(run => (ended = run))
  await until(what, async () => ended !== undefined || (await check()))
  if (ended) throw new Error(`the deploy ended before ${what}: ${ended.error?.message ?? ended.result?.status}\n${ended.log}`)
}
const stateOf = (run: Run, ref: string): string | undefined => run.result?.objects?.find(o => o.ref === ref)?.state

withCluster('per-object wait rules', () => {
  let ns = ''
  inNamespace('k8s-waitrules', name => (ns = name))
  beforeAll(async () => {
    await kubectlOk(['apply', '-f', '-'], crd('gadgets', 'Gadget', true) + '---\n' + crd('plains', 'Plain', false))
    await kubectlOk(['wait', '--for=condition=Established', `crd/gadgets.${group}`, `crd/plains.${group}`, '--timeout=60s'])
    // Established comes before the API server's discovery lists the new kinds (slower on a busy server, with
    // other suites installing CRDs): the deploy reads discovery to know that a kind has a status subresource.
    await until('discovery lists gadgets/status', async () => (await kubectl(['get', '--raw', `/apis/${group}/v1`])).stdout.includes('"gadgets/status"'))
  }, 90_000)
  afterAll(async () => {
    await kubectl(['delete', 'crd', `gadgets.${group}`, `plains.${group}`, '--wait=false'])
  })

  async function setStatus(name: string, status: Record<string, unknown>): Promise<void> {
    await kubectlOk(['-n', ns, 'patch', `gadgets.${group}`, name, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status })])
  }
  const exists = async (name: string): Promise<boolean> => (await kubectl(['-n', ns, 'get', `gadgets.${group}`, name])).code === 0
  const ready = (reason: string) => ({ observedGeneration: 1, conditions: [{ type: 'Ready', status: 'True', reason, message: 'done', lastTransitionTime: '2026-01-01T00:00:00Z' }] })

  it('waits for the first status of a new custom resource, then judges it by it', async () => {
    const template = templateDir({ 'a.yaml': gadget('late'), 'b.yaml': deployment('wlate', `${REGISTRY}/web:1.0`, { replicas: 1 }) })
    const lines: string[] = []
    const running = deploy({ service: 'wlate', 'image-tag': '1.0', template, namespace: ns }, {}, lines)
    // The deploy is still going when the controller (the test) writes the first status: it waited for it.
    await whileRunning(running, 'the gadget was applied', () => exists('late'))
    await whileRunning(running, 'the run waits for the first status', async () => lines.some(l => l.includes('waiting for Gadget/late: no status yet')))
    await whileRunning(running, 'the workload is ready', async () => ((await getJson(ns, 'deployment', 'wlate')).status?.availableReplicas ?? 0) >= 1)
    await setStatus('late', ready('Reconciled'))
    const run = await running
    expectStatus(run, 'succeeded')
    expect(run.log).toMatch(/waiting for Gadget\/late: no status yet: waiting up to 30s after the apply for its controller's first status \(rule: first-status grace\)/)
    expect(stateOf(run, 'Gadget/late')).toBe('ready: Ready')
  }, 120_000)

  it('judges a custom resource that never gets a status by kstatus after the grace, and says so', async () => {
    const template = templateDir({ 'a.yaml': gadget('silent'), 'b.yaml': plain('free'), 'c.yaml': deployment('wsilent', `${REGISTRY}/web:1.0`, { replicas: 1 }) })
    const run = await deploy({ service: 'wsilent', 'image-tag': '1.0', template, namespace: ns })
    expectStatus(run, 'succeeded')
    expect(stateOf(run, 'Gadget/silent')).toBe('ready: no Ready, Stalled or Reconciling condition to wait for (rule: kstatus, after no status in the 30s first-status grace)')
    expect(run.result!.progress.elapsedMs()).toBeGreaterThanOrEqual(30_000)
    // Without a status subresource the apply owns the status too: no grace, kstatus at once.
    expect(stateOf(run, 'Plain/free')).toBe('ready: no Ready, Stalled or Reconciling condition to wait for')
  }, 120_000)

  it('does not wait for wait: "false", nor hold for a Ready=False by design with ready-when: not-failed', async () => {
    const template = templateDir({
      'a.yaml': gadget('skipped', '"deploy-service/wait": "false"'),
      'b.yaml': gadget('store', '"deploy-service/ready-when": not-failed'),
      'c.yaml': deployment('wskip', `${REGISTRY}/web:1.0`, { replicas: 1 })
    })
    // Its controller (the test) says Ready=False before the deploy: a store that is not there yet.
    await kubectlOk(['-n', ns, 'apply', '--server-side', '--field-manager=deploy-service', '-f', '-'], gadget('store'))
    await setStatus('store', { observedGeneration: 1, conditions: [{ type: 'Ready', status: 'False', reason: 'SecretStoreNotReady', message: 'store unreachable', lastTransitionTime: '2026-01-01T00:00:00Z' }] })
    const run = await deploy({ service: 'wskip', 'image-tag': '1.0', template, namespace: ns })
    expectStatus(run, 'succeeded')
    expect(stateOf(run, 'Gadget/skipped')).toBe('ready: not waited for (deploy-service/wait: "false")')
    expect(stateOf(run, 'Gadget/store')).toBe('ready: not failed, which is enough (deploy-service/ready-when: not-failed): Ready=False: SecretStoreNotReady: store unreachable')
  }, 120_000)

  it('fails a Stalled resource only once it stayed failed for deploy-service/fail-after', async () => {
    await kubectlOk(['-n', ns, 'apply', '--server-side', '--field-manager=deploy-service', '-f', '-'], gadget('flaky'))
    await setStatus('flaky', { observedGeneration: 1, conditions: [{ type: 'Stalled', status: 'True', reason: 'QuotaExceeded', message: 'no room', lastTransitionTime: '2026-01-01T00:00:00Z' }] })
    const template = templateDir({ 'a.yaml': gadget('flaky', '"deploy-service/fail-after": 5s'), 'b.yaml': deployment('wflaky', `${REGISTRY}/web:1.0`, { replicas: 1 }) })
    const run = await deploy({ service: 'wflaky', 'image-tag': '1.0', template, namespace: ns, 'rollback-on-failure': 'false' })
    expect(run.result?.status).toBe('failed')
    expect(run.log).toMatch(/Gadget\/flaky: failing for \d+s, not failed before deploy-service\/fail-after: 5s: Stalled: QuotaExceeded: no room/)
    expect(run.result!.reasons.join('\n')).toMatch(/Gadget\/flaky Stalled: QuotaExceeded: no room \(still failing after deploy-service\/fail-after: 5s\)/)
    expect(run.result!.progress.elapsedMs()).toBeGreaterThanOrEqual(5000)
  }, 120_000)

  /** A health-checks file for Gadget by its phase (no conditions), as a Flux user writes one. */
  function checksFile(current: string): string {
    return path.join(templateDir({ 'checks.yaml': `healthCheckExprs:
- apiVersion: ${group}/v1
  kind: Gadget
  failed: "status.?phase.orValue('') == 'Broken'"
  current: "${current}"
` }), 'checks.yaml')
  }

  for (const [phase, status] of [['Done', 'succeeded'], ['Broken', 'failed']] as const) {
    it(`judges a kind by the CEL rules of health-checks: phase ${phase} is ${status}`, async () => {
      const name = `dial-${phase.toLowerCase()}`
      const template = templateDir({ 'a.yaml': gadget(name), 'b.yaml': deployment(`w${name}`, `${REGISTRY}/web:1.0`, { replicas: 1 }) })
      const lines: string[] = []
      const running = deploy({ service: `w${name}`, 'image-tag': '1.0', template, namespace: ns, 'health-checks': checksFile("status.?phase.orValue('') == 'Done'"), 'rollback-on-failure': 'false' }, {}, lines)
      await whileRunning(running, 'the gadget was applied', () => exists(name))
      // A status kstatus would call ready (no conditions): the rule keeps it waiting. The run must have
      // seen it (said so) before the next status: a busy machine's watch may otherwise see only the last.
      await setStatus(name, { phase: 'Working' })
      await whileRunning(running, 'the rule kept the gadget waiting', async () => lines.some(l => l.includes(`waiting for Gadget/${name}: neither inProgress`)))
      await whileRunning(running, 'the workload is ready', async () => ((await getJson(ns, 'deployment', `w${name}`)).status?.availableReplicas ?? 0) >= 1)
      await setStatus(name, { phase })
      const run = await running
      expect(run.result?.status).toBe(status)
      expect(run.log).toMatch(new RegExp(`waiting for Gadget/${name}: neither inProgress, failed nor current is true \\(rule: health-checks .*checks\\.yaml:\\d+`))
      if (status === 'succeeded') expect(stateOf(run, `Gadget/${name}`)).toMatch(/^ready: current is true \(rule: health-checks .*checks\.yaml:5:\d+\)$/)
      else expect(run.result!.reasons.join('\n')).toMatch(/Gadget\/dial-broken failed is true \(rule: health-checks .*checks\.yaml:4:\d+\)/)
    }, 120_000)
  }

  it('refuses a CEL expression that does not compile at its file and line before anything changes', async () => {
    const template = templateDir({ 'a.yaml': gadget('badcel'), 'b.yaml': deployment('wbadcel', `${REGISTRY}/web:1.0`, { replicas: 1 }) })
    const run = await deploy({ service: 'wbadcel', 'image-tag': '1.0', template, namespace: ns, 'health-checks': checksFile("status.phase ==") })
    expect(run.error?.message).toMatch(/checks\.yaml:5:\d+.*Gadget current: /s)
    expect(await exists('badcel')).toBe(false)
  }, 60_000)

  it('refuses a wrong annotation value at its file and line before anything changes', async () => {
    const template = templateDir({ 'a.yaml': gadget('typo', '"deploy-service/fail-after": soon'), 'b.yaml': deployment('wtypo', `${REGISTRY}/web:1.0`, { replicas: 1 }) })
    const run = await deploy({ service: 'wtypo', 'image-tag': '1.0', template, namespace: ns })
    expect(run.error?.message).toMatch(/a\.yaml:\d+.*deploy-service\/fail-after: 'soon' is not a duration/s)
    expect(await exists('typo')).toBe(false)
  }, 60_000)
})
