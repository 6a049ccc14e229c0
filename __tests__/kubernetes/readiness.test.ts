// Every object of the set waited on by its kind's rules, on the local cluster: a Job that completes
// and one that fails (with its pod's log tail), a PVC bound to a PV the test made, a LoadBalancer
// Service whose address the test gives (acting as the load-balancer controller) or that is not waited
// for, and a custom resource whose conditions the test sets (acting as its controller).
import { afterAll, beforeAll, expect, it } from '@jest/globals'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { deploy, deployment, expectStatus, getJson, inNamespace, kubeconfig, kubectl, kubectlOk, stateOf, templateDir, until, withCluster, type Run } from './cluster.js'

const REGISTRY = 'registry.local/shop'

const configMap = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${name}}\ndata: {a: "1"}\n`
const job = (name: string, image: string, extra = '') => `apiVersion: batch/v1
kind: Job
metadata: {name: ${name}}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: OnFailure
      terminationGracePeriodSeconds: 0
      containers: [{name: ${name}, image: ${image}}]
${extra}`

/** Waits until `check` holds while `running` (a deploy) goes on; a deploy that ended first fails with its log. */
async function whileRunning(running: Promise<Run>, what: string, check: () => Promise<boolean>): Promise<void> {
  let ended: Run | undefined
  void running.then(run => (ended = run))
  await until(what, async () => ended !== undefined || (await check()))
  if (ended) throw new Error(`the deploy ended before ${what}: ${ended.error?.message ?? ended.result?.status}\n${ended.log}`)
}

withCluster('kubernetes readiness of every applied object', () => {
  let ns = ''
  inNamespace('k8s-ready', name => (ns = name))

  it('waits for a Job to complete and a PVC to bind to a pre-created PV, and lists every object with its state', async () => {
    const pv = `ready-pv-${ns}`
    // No provisioner here: the PV names its claim, and kube-controller-manager's PV binder binds them.
    await kubectlOk(['apply', '-f', '-'], `apiVersion: v1
kind: PersistentVolume
metadata: {name: ${pv}}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: manual
  persistentVolumeReclaimPolicy: Delete
  hostPath: {path: /tmp/${pv}}
  claimRef: {namespace: ${ns}, name: data}
`)
    try {
      const template = templateDir({
        'a-config.yaml': configMap('settings'),
        'b-pvc.yaml': `apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: manual
  resources: {requests: {storage: 1Gi}}
`,
        'c-job.yaml': job('migrate', `${REGISTRY}/migrate:1.0`),
        'd-web.yaml': deployment('web', `${REGISTRY}/web:1.0`, { replicas: 1 })
      })
      const run = await deploy({ service: 'web', 'image-tag': '1.0', template, namespace: ns })
      expectStatus(run, 'succeeded')
      expect((await getJson(ns, 'pvc', 'data')).status.phase).toBe('Bound')
      expect(((await getJson(ns, 'job', 'migrate')).status.conditions as Array<{ type: string; status: string }>).some(c => c.type === 'Complete' && c.status === 'True')).toBe(true)
      expect(run.result?.objects).toEqual([
        { ref: 'ConfigMap/settings', state: 'ready' },
        { ref: 'PersistentVolumeClaim/data', state: `ready: Bound to ${pv}` },
        { ref: 'Job/migrate', state: expect.stringMatching(/^ready: complete: 1 succeeded$/) },
        { ref: 'Deployment/web', state: expect.stringMatching(/^ready: deployment "web" successfully rolled out$/) }
      ])
      expect(run.log).toMatch(/4\/4 objects ready/)
    } finally {
      await kubectl(['delete', 'pv', pv, '--wait=false'])
    }
  }, 180_000)

  it('fails when a Job fails, with the Job controller\'s reason and its pod\'s log tail', async () => {
    const template = templateDir({
      'a-job.yaml': job('bad-migrate', `${REGISTRY}/migrate:crashloop`),
      'b-web.yaml': deployment('jobfail', `${REGISTRY}/web:1.0`, { replicas: 1 })
    })
    const run = await deploy({ service: 'jobfail', 'image-tag': '1.0', template, namespace: ns, timeout: '90s' })
    expect(run.result?.status).toBe('failed')
    const reasons = run.result!.reasons.join('\n')
    expect(reasons).toMatch(/Job\/bad-migrate failed: BackoffLimitExceeded/)
    expect(reasons).toMatch(/last log lines of pod bad-migrate-\w+, container bad-migrate[^\n]*:\n[\s\S]*simulated crash/)
    // It failed on the Job's verdict, long before the timeout.
    expect(run.result!.progress.elapsedMs()).toBeLessThan(60_000)
    expect(stateOf(run, 'Job/bad-migrate')).toMatch(/^failed: failed: BackoffLimitExceeded/)
  }, 180_000)

  it('waits for a Pod of the set to be Ready, and fails one whose image does not exist', async () => {
    const pod = (name: string, image: string) => `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}}\nspec:\n  terminationGracePeriodSeconds: 0\n  containers: [{name: app, image: ${image}}]\n`
    const good = await deploy({ service: 'podweb', 'image-tag': '1.0', template: templateDir({ 'a.yaml': pod('helper', `${REGISTRY}/helper:1.0`), 'b.yaml': deployment('podweb', `${REGISTRY}/web:1.0`, { replicas: 1 }) }), namespace: ns })
    expectStatus(good, 'succeeded')
    expect(stateOf(good, 'Pod/helper')).toBe('ready: Ready')
    const bad = await deploy({ service: 'podweb2', 'image-tag': '1.0', template: templateDir({ 'a.yaml': pod('broken', `${REGISTRY}/helper:missing`), 'b.yaml': deployment('podweb2', `${REGISTRY}/web:1.0`, { replicas: 1 }) }), namespace: ns, timeout: '2m' })
    expect(bad.result?.status).toBe('failed')
    expect(bad.result!.reasons.join('\n')).toMatch(/Pod\/broken pod broken, container app: (ErrImagePull|ImagePullBackOff): .*not found.*\(this will not heal by itself\)/)
    expect(bad.result!.progress.elapsedMs()).toBeLessThan(60_000)
  }, 180_000)

  it('stops before applying anything when the user may not list a kind it would have to watch', async () => {
    // The limited user may deploy a Deployment and create Jobs, but not list them.
    await kubectlOk(['-n', ns, 'apply', '-f', '-'], `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: deployer}
rules:
- {apiGroups: [apps], resources: [deployments, replicasets, controllerrevisions], verbs: [get, list, watch, create, patch]}
- {apiGroups: [""], resources: [pods, events], verbs: [get, list, watch]}
- {apiGroups: [batch], resources: [jobs], verbs: [get, create, patch]}
- {apiGroups: [autoscaling], resources: [horizontalpodautoscalers], verbs: [list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: deployer}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: deployer}
subjects: [{kind: User, name: limited, apiGroup: rbac.authorization.k8s.io}]
`)
    const template = templateDir({ 'a-job.yaml': job('unlisted', `${REGISTRY}/migrate:1.0`), 'b-web.yaml': deployment('rbacweb', `${REGISTRY}/web:1.0`, { replicas: 1 }) })
    const run = await deploy({ service: 'rbacweb', 'image-tag': '1.0', template, namespace: ns }, { KUBECONFIG: path.join(path.dirname(kubeconfig), 'kubeconfig-limited') })
    expect(run.error?.message).toMatch(/a-job\.yaml:1:1: waiting for Job\/unlisted watches \/apis\/batch\/v1\/namespaces\/.*\/jobs, which the kubeconfig's user may not list: .*forbidden.*Grant list and watch on it, or deploy with wait: false/)
    expect((await kubectl(['-n', ns, 'get', 'job', 'unlisted'])).code).not.toBe(0)
    expect((await kubectl(['-n', ns, 'get', 'deployment', 'rbacweb'])).code).not.toBe(0)
  }, 120_000)

  it('waits for a LoadBalancer Service to get an ingress address (the test acting as its controller)', async () => {
    const template = templateDir({
      'a-lb.yaml': 'apiVersion: v1\nkind: Service\nmetadata: {name: web-lb}\nspec:\n  type: LoadBalancer\n  selector: {app: lbweb}\n  ports: [{port: 80}]\n',
      'b-web.yaml': deployment('lbweb', `${REGISTRY}/web:1.0`, { replicas: 1 })
    })
    const running = deploy({ service: 'lbweb', 'image-tag': '1.0', template, namespace: ns })
    // The Deployment is ready within seconds; the Service stays unready until it has an address.
    await until('the Deployment is rolled out', async () => ((await getJson(ns, 'deployment', 'lbweb').catch(() => ({}))) as { status?: { availableReplicas?: number } }).status?.availableReplicas === 1)
    await new Promise(resolve => setTimeout(resolve, 1500))
    await kubectlOk(['-n', ns, 'patch', 'service', 'web-lb', '--subresource=status', '--type=merge', '-p', '{"status":{"loadBalancer":{"ingress":[{"ip":"203.0.113.10"}]}}}'])
    const run = await running
    expectStatus(run, 'succeeded')
    expect(run.log).toMatch(/1\/2 objects ready; waiting for Service\/web-lb: no ingress address yet/)
    expect(stateOf(run, 'Service/web-lb')).toBe('ready: load balancer at 203.0.113.10')
  }, 180_000)

  it('does not wait for a load balancer\'s address with wait-for-load-balancers: false', async () => {
    const template = templateDir({
      'a-lb.yaml': 'apiVersion: v1\nkind: Service\nmetadata: {name: nolb}\nspec:\n  type: LoadBalancer\n  selector: {app: nolbweb}\n  ports: [{port: 80}]\n',
      'b-web.yaml': deployment('nolbweb', `${REGISTRY}/web:1.0`, { replicas: 1 })
    })
    const run = await deploy({ service: 'nolbweb', 'image-tag': '1.0', template, namespace: ns, 'wait-for-load-balancers': 'false' })
    expectStatus(run, 'succeeded')
    expect((await getJson(ns, 'service', 'nolb')).status.loadBalancer).toEqual({})
    expect(stateOf(run, 'Service/nolb')).toMatch(/not waited for \(wait-for-load-balancers: false\)/)
  }, 120_000)

  describe_customResources()

  function describe_customResources(): void {
    const group = `t${randomBytes(3).toString('hex')}.deploy-service.test`
    const crdName = `widgets.${group}`
    const crd = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: ${crdName}}
spec:
  group: ${group}
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}}}
          status: {type: object, x-kubernetes-preserve-unknown-fields: true}
`
    const widget = (name: string, size: number) => `apiVersion: ${group}/v1\nkind: Widget\nmetadata: {name: ${name}}\nspec: {size: ${size}}\n`
    beforeAll(async () => {
      await kubectlOk(['apply', '-f', '-'], crd)
      await kubectlOk(['wait', '--for=condition=Established', `crd/${crdName}`, '--timeout=60s'])
    }, 90_000)
    afterAll(async () => {
      await kubectl(['delete', 'crd', crdName, '--wait=false'])
    })

    /** A widget that exists already, with the status its controller gave it for generation 1. */
    async function existingWidget(name: string): Promise<void> {
      // As an earlier deploy made it (the same field manager), so this deploy's change is no conflict.
      await kubectlOk(['-n', ns, 'apply', '--server-side', '--field-manager=deploy-service', '-f', '-'], widget(name, 1))
      await setStatus(name, 1, [{ type: 'Ready', status: 'True', reason: 'Ready', message: 'all good' }])
    }
    async function setStatus(name: string, observedGeneration: number, conditions: Array<Record<string, string>>): Promise<void> {
      const stamped = conditions.map(c => ({ lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), ...c }))
      await kubectlOk(['-n', ns, 'patch', `widgets.${group}`, name, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { observedGeneration, conditions: stamped } })])
    }
    const generationOf = async (name: string): Promise<number> => ((await getJson(ns, `widgets.${group}`, name)).metadata.generation as number)

    it('waits until the controller of a custom resource saw our generation and says Ready=True', async () => {
      await existingWidget('good')
      const template = templateDir({ 'a-crd.yaml': crd, 'b-widget.yaml': widget('good', 2), 'c-web.yaml': deployment('crgood', `${REGISTRY}/web:1.0`, { replicas: 1 }) })
      const running = deploy({ service: 'crgood', 'image-tag': '1.0', template, namespace: ns })
      await whileRunning(running, 'the deploy changed the widget', async () => (await generationOf('good')) === 2)
      await new Promise(resolve => setTimeout(resolve, 2000))
      await setStatus('good', 2, [{ type: 'Ready', status: 'True', reason: 'Ready', message: 'size 2 in place' }])
      const run = await running
      expectStatus(run, 'succeeded')
      expect(run.log).toMatch(/waiting for Widget\/good: its controller has not seen generation 2 yet \(status.observedGeneration is 1\)/)
      expect(stateOf(run, 'Widget/good')).toBe('ready: Ready')
      expect(stateOf(run, 'CustomResourceDefinition/' + crdName)).toBe('ready: Established')
    }, 180_000)

    it('fails at once on Stalled=True with its reason and message', async () => {
      await existingWidget('stuck')
      const template = templateDir({ 'a-widget.yaml': widget('stuck', 5), 'b-web.yaml': deployment('crstuck', `${REGISTRY}/web:1.0`, { replicas: 1 }) })
      const running = deploy({ service: 'crstuck', 'image-tag': '1.0', template, namespace: ns, timeout: '2m' })
      await whileRunning(running, 'the deploy changed the widget', async () => (await generationOf('stuck')) === 2)
      await setStatus('stuck', 2, [
        { type: 'Ready', status: 'False', reason: 'InvalidSize', message: 'size 5 is more than the quota of 3' },
        { type: 'Stalled', status: 'True', reason: 'InvalidSize', message: 'size 5 is more than the quota of 3' }
      ])
      const run = await running
      expect(run.result?.status).toBe('failed')
      expect(run.result!.reasons.join('\n')).toMatch(/Widget\/stuck Stalled: InvalidSize: size 5 is more than the quota of 3/)
      expect(run.result!.progress.elapsedMs()).toBeLessThan(60_000)
    }, 180_000)

    it('reports Ready=False with its reason while waiting, and names it when the deadline passes', async () => {
      await existingWidget('unready')
      const template = templateDir({ 'a-widget.yaml': widget('unready', 4), 'b-web.yaml': deployment('crunready', `${REGISTRY}/web:1.0`, { replicas: 1 }) })
      const running = deploy({ service: 'crunready', 'image-tag': '1.0', template, namespace: ns, timeout: '20s' })
      await whileRunning(running, 'the deploy changed the widget', async () => (await generationOf('unready')) === 2)
      await setStatus('unready', 2, [{ type: 'Ready', status: 'False', reason: 'WaitingForQuota', message: 'size 4 needs a larger quota' }])
      const run = await running
      expect(run.result?.status).toBe('failed')
      expect(run.result!.reasons.join('\n')).toMatch(/did not finish within 20s; it stood at: 1\/2 objects ready; not ready: Widget\/unready: Ready=False: WaitingForQuota: size 4 needs a larger quota/s)
      expect(stateOf(run, 'Widget/unready')).toBe('not ready: Ready=False: WaitingForQuota: size 4 needs a larger quota')
    }, 180_000)
  }
})
