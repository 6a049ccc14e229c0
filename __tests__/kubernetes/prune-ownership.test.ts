// Pruning deletes only what this ApplySet applied, on the local cluster (issue 16): a label copied
// by `kubectl expose` or by the endpoints controller proves nothing; an object another ApplySet
// holds is refused unless adopted; kept objects (Helm's keep policy, our annotation, claims not
// named) stay; wait: false prunes nothing; an older run that finishes after a newer one prunes nothing.
import { expect, it } from '@jest/globals'
import type { KubernetesObject } from '@kubernetes/client-node'
import fs from 'node:fs'
import { KubeApi, loadKubeConfig, preconditionOf } from '../../src/platforms/kubernetes/api/client.js'
import { ifOurs } from '../../src/rollout/ownership.js'
import { deploy, deployment, expectStatus, getJson, kubeconfig, kubectl, kubectlOk, templateDir, until, withCluster, inNamespace } from './cluster.js'

const REGISTRY = 'registry.local/shop'
const PART_OF = 'applyset.kubernetes.io/part-of'
const configMap = (name: string, annotations = '') => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${name}${annotations ? `, annotations: {${annotations}}` : ''}}\ndata: {a: "1"}\n`
const service = (name: string, selector?: string) => `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}}\nspec:\n  ports: [{port: 80, targetPort: 8080}]\n${selector ? `  selector: {app: ${selector}}\n` : ''}`

withCluster('kubernetes prune: only what this set applied', () => {
  let ns = ''
  let other = ''
  inNamespace('k8s-prune-own', name => (ns = name))
  inNamespace('k8s-prune-other', name => (other = name))

  const uidOf = async (kind: string, name: string, namespace = ns): Promise<string | undefined> => {
    const got = await kubectl(['-n', namespace, 'get', kind, name, '-o', 'jsonpath={.metadata.uid}'])
    return got.code === 0 ? got.stdout : undefined
  }
  const pruned = (run: Awaited<ReturnType<typeof deploy>>) => (run.result?.objects ?? []).filter(o => o.state === 'pruned').map(o => o.ref)

  it('leaves alone a Service that kubectl expose made with the set label copied onto it, and says whose label it is', async () => {
    const template = templateDir({ 'a.yaml': deployment('exposed', `${REGISTRY}/web:1.0`, { replicas: 1 }), 'b.yaml': service('exposed-svc', 'exposed') })
    expectStatus(await deploy({ service: 'exposed', 'image-tag': '1.0', template, namespace: ns, prune: 'true' }), 'succeeded')
    // kubectl expose copies the Deployment's labels, our part-of label among them, onto the Service it makes.
    await kubectlOk(['-n', ns, 'expose', 'deployment', 'exposed', '--name=hand-made', '--port=80'])
    const handMade = await getJson(ns, 'service', 'hand-made')
    expect(handMade.metadata.labels[PART_OF]).toBe((await getJson(ns, 'deployment', 'exposed')).metadata.labels[PART_OF])

    const dryRun = await deploy({ service: 'exposed', 'image-tag': '1.1', template, namespace: ns, prune: 'true', 'dry-run': 'true' })
    expectStatus(dryRun, 'dry-run')
    expect(dryRun.result?.diff).not.toMatch(/Service\/hand-made \(would be pruned/)
    expect(dryRun.result?.diff).toMatch(/Service\/hand-made: .*this set's server-side apply \(field manager "deploy-service"\) did not write it \(the label was written by field manager "kubectl-expose" \(Update\)\) \(not this set's: left alone\)/)

    const run = await deploy({ service: 'exposed', 'image-tag': '1.1', template, namespace: ns, prune: 'true' })
    expectStatus(run, 'succeeded')
    expect(pruned(run)).toEqual([])
    expect(await uidOf('service', 'hand-made')).toBe(handMade.metadata.uid)
    expect(run.log).toMatch(/prune: left alone Service\/hand-made: .*field manager "kubectl-expose" \(Update\)/)
  }, 240_000)

  it('leaves alone the Endpoints and EndpointSlices that controllers made with a Service\'s labels copied', async () => {
    const endpoints = `apiVersion: v1\nkind: Endpoints\nmetadata: {name: ep-external}\nsubsets: [{addresses: [{ip: 10.1.2.3}], ports: [{port: 5432}]}]\n`
    const slice = `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: ep-manual, labels: {kubernetes.io/service-name: ep-manual}}\naddressType: IPv4\nendpoints: [{addresses: [10.1.2.4]}]\nports: [{port: 5432}]\n`
    const template = templateDir({
      'a.yaml': deployment('ep', `${REGISTRY}/web:1.0`, { replicas: 1 }),
      'b.yaml': service('ep', 'ep'),
      'c.yaml': service('ep-external'),
      'd.yaml': endpoints,
      'e.yaml': service('ep-manual'),
      'f.yaml': slice
    })
    expectStatus(await deploy({ service: 'ep', 'image-tag': '1.0', template, namespace: ns, prune: 'true' }), 'succeeded')
    const id = (await getJson(ns, 'service', 'ep')).metadata.labels[PART_OF]
    // The endpoints controller copies Service ep's labels onto its Endpoints; the EndpointSlice controllers onto their slices.
    const labelled = async (kind: string, selector?: string): Promise<Array<{ metadata: { name: string; uid: string } }>> =>
      (await getJson<{ items: Array<{ metadata: { name: string; uid: string } }> }>(ns, kind, '-l', [`${PART_OF}=${id}`, selector].filter(Boolean).join(','))).items
    await until('the controllers copied the label', async () => (await labelled('endpoints')).some(e => e.metadata.name === 'ep') && (await labelled('endpointslices', 'kubernetes.io/service-name=ep')).length > 0)
    const before = { endpoints: await uidOf('endpoints', 'ep'), slices: (await labelled('endpointslices', 'kubernetes.io/service-name in (ep,ep-external)')).map(s => s.metadata.uid).sort() }

    const run = await deploy({ service: 'ep', 'image-tag': '1.1', template, namespace: ns, prune: 'true' })
    expectStatus(run, 'succeeded')
    expect(pruned(run)).toEqual([])
    expect(await uidOf('endpoints', 'ep')).toBe(before.endpoints)
    expect((await labelled('endpointslices', 'kubernetes.io/service-name in (ep,ep-external)')).map(s => s.metadata.uid).sort()).toEqual(before.slices)
    expect(run.log).toMatch(/prune: left alone Endpoints\/ep: .*field manager "kube-controller-manager" \(Update\)/)
  }, 240_000)

  it('refuses, in the dry run and the deploy, a ClusterRole that another namespace\'s ApplySet holds, and takes it over only with adopt', async () => {
    const roleName = `held-reader-${ns}`
    const clusterRole = `apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: ${roleName}}\nrules: [{apiGroups: [""], resources: [configmaps], verbs: [get]}]\n`
    const template = templateDir({ 'role.yaml': clusterRole, 'web.yaml': deployment('shop', `${REGISTRY}/web:1.0`, { replicas: 1 }) })
    try {
      // "prod" (ns) deploys the chart first; "staging" (other) deploys the same chart.
      expectStatus(await deploy({ service: 'shop', 'image-tag': '1.0', template, namespace: ns, prune: 'true' }), 'succeeded')
      const prodId = (await getJson(ns, 'clusterrole', roleName)).metadata.labels[PART_OF]
      const refused = new RegExp(
        `role\\.yaml:\\d+(:\\d+)?: ClusterRole/${roleName} is held by the ApplySet whose parent is Secret/shop-applyset in namespace ${ns} \\(${PART_OF}: ${prodId}; its label was written by field manager "deploy-service" \\(Apply\\)\\)\\..*nothing was changed.*adopt: ClusterRole/${roleName}`
      )

      const dryRun = await deploy({ service: 'shop', 'image-tag': '1.0', template, namespace: other, prune: 'true', 'dry-run': 'true' })
      expect(dryRun.error?.message).toMatch(refused)
      const run = await deploy({ service: 'shop', 'image-tag': '1.0', template, namespace: other, prune: 'true' })
      expect(run.error?.message).toMatch(refused)
      expect((await kubectl(['-n', other, 'get', 'deployment', 'shop'])).code).not.toBe(0)
      expect((await getJson(ns, 'clusterrole', roleName)).metadata.labels[PART_OF]).toBe(prodId)

      const adopted = await deploy({ service: 'shop', 'image-tag': '1.0', template, namespace: other, prune: 'true', adopt: `ClusterRole/${roleName}` })
      expectStatus(adopted, 'succeeded')
      expect(adopted.log).toMatch(new RegExp(`adopting ClusterRole/${roleName} \\(adopt\\) from the ApplySet whose parent is Secret/shop-applyset in namespace ${ns}`))
      expect((await getJson(ns, 'clusterrole', roleName)).metadata.labels[PART_OF]).toBe((await getJson(other, 'secret', 'shop-applyset')).metadata.labels['applyset.kubernetes.io/id'])
    } finally {
      await kubectl(['delete', 'clusterrole', roleName, '--wait=false'])
    }
  }, 240_000)

  it('never prunes an object annotated helm.sh/resource-policy: keep or deploy-service/prune: never, and says so', async () => {
    const web = deployment('keeper', `${REGISTRY}/web:1.0`, { replicas: 1 })
    const first = templateDir({
      'a.yaml': web,
      'b.yaml': configMap('kept-helm', 'helm.sh/resource-policy: keep'),
      'c.yaml': configMap('kept-ours', 'deploy-service/prune: never'),
      'd.yaml': configMap('goes'),
      'e.yaml': configMap('stays')
    })
    expectStatus(await deploy({ service: 'keeper', 'image-tag': '1.0', template: first, namespace: ns, prune: 'true' }), 'succeeded')
    const run = await deploy({ service: 'keeper', 'image-tag': '1.1', template: templateDir({ 'a.yaml': web, 'e.yaml': configMap('stays') }), namespace: ns, prune: 'true' })
    expectStatus(run, 'succeeded')
    expect(pruned(run)).toEqual(['ConfigMap/goes'])
    expect(await uidOf('configmap', 'kept-helm')).toBeDefined()
    expect(await uidOf('configmap', 'kept-ours')).toBeDefined()
    expect(run.result?.objects).toContainEqual({ ref: 'ConfigMap/kept-helm', state: 'not pruned: annotated helm.sh/resource-policy: keep, so it is never pruned; delete it yourself if it should go' })
    expect(run.result?.objects).toContainEqual({ ref: 'ConfigMap/kept-ours', state: 'not pruned: annotated deploy-service/prune: never, so it is never pruned; delete it yourself if it should go' })
    expect(run.log).toMatch(/prune: kept ConfigMap\/kept-helm: annotated helm\.sh\/resource-policy: keep/)
  }, 240_000)

  it('prunes a PersistentVolumeClaim only when prune-volume-claims names it', async () => {
    const web = deployment('claims', `${REGISTRY}/web:1.0`, { replicas: 1 })
    const claim = `apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\nspec: {accessModes: [ReadWriteOnce], storageClassName: "", resources: {requests: {storage: 1Gi}}}\n`
    // No volume binds it on this cluster: applied without waiting.
    expectStatus(await deploy({ service: 'claims', 'image-tag': '1.0', template: templateDir({ 'a.yaml': web, 'b.yaml': claim }), namespace: ns, prune: 'true', wait: 'false' }), 'applied')
    const uid = await uidOf('pvc', 'data')
    expect(uid).toBeDefined()

    const run = await deploy({ service: 'claims', 'image-tag': '1.1', template: templateDir({ 'a.yaml': web }), namespace: ns, prune: 'true' })
    expectStatus(run, 'succeeded')
    expect(pruned(run)).toEqual([])
    expect(await uidOf('pvc', 'data')).toBe(uid)
    expect(run.result?.objects).toContainEqual({ ref: 'PersistentVolumeClaim/data', state: expect.stringMatching(/^not pruned: a PersistentVolumeClaim is pruned only when prune-volume-claims names it/) })

    const named = await deploy({ service: 'claims', 'image-tag': '1.2', template: templateDir({ 'a.yaml': web }), namespace: ns, prune: 'true', 'prune-volume-claims': 'data' })
    expectStatus(named, 'succeeded')
    expect(pruned(named)).toEqual(['PersistentVolumeClaim/data'])
    await until('the claim is gone', async () => (await uidOf('pvc', 'data')) === undefined)
  }, 240_000)

  it('with wait: false prunes nothing, says what the next deploy that waits will prune, and that one does', async () => {
    const web = deployment('later', `${REGISTRY}/web:1.0`, { replicas: 1 })
    expectStatus(await deploy({ service: 'later', 'image-tag': '1.0', template: templateDir({ 'a.yaml': configMap('later-old'), 'b.yaml': web }), namespace: ns, prune: 'true' }), 'succeeded')
    const second = templateDir({ 'a.yaml': configMap('later-new'), 'b.yaml': web })
    const nowait = await deploy({ service: 'later', 'image-tag': '1.1', template: second, namespace: ns, prune: 'true', wait: 'false' })
    expectStatus(nowait, 'applied')
    expect(await uidOf('configmap', 'later-old')).toBeDefined()
    expect(nowait.log).toMatch(/prune: not now \(wait: false: .*\); the next successful deploy that waits prunes ConfigMap\/later-old \(ApplySet Secret\/later-applyset\)/)
    const waited = await deploy({ service: 'later', 'image-tag': '1.1', template: second, namespace: ns, prune: 'true' })
    expectStatus(waited, 'succeeded')
    expect(pruned(waited)).toEqual(['ConfigMap/later-old'])
  }, 240_000)

  it('an older run that finishes after a newer one applied prunes nothing the newer one added, and says so', async () => {
    const group = `g${ns.slice(-6)}.deploy-service.test`
    const crd = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gates.${group}}
spec:
  group: ${group}
  scope: Namespaced
  names: {plural: gates, singular: gate, kind: Gate}
  versions: [{name: v1, served: true, storage: true, subresources: {status: {}}, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}]
`
    await kubectlOk(['apply', '-f', '-'], crd)
    try {
      await kubectlOk(['wait', '--for=condition=Established', `crd/gates.${group}`, '--timeout=60s'])
      // The gate holds the older run's wait until the test opens it (its Ready condition): no timing involved.
      const gate = `apiVersion: ${group}/v1\nkind: Gate\nmetadata: {name: hold}\nspec: {a: 1}\n`
      const web = deployment('raced', `${REGISTRY}/web:1.0`, { replicas: 1 })
      // Both sets hold a ConfigMap, so the older run lists ConfigMaps when it prunes.
      const older = templateDir({ 'a.yaml': web, 'b.yaml': gate, 'c.yaml': configMap('raced-settings') })
      const setGate = (status: string) => kubectlOk(['-n', ns, 'patch', `gates.${group}`, 'hold', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { conditions: [{ type: 'Ready', status, reason: 'Test' }] } })])
      expectStatus(await deploy({ service: 'raced', 'image-tag': '1.0', template: older, namespace: ns, prune: 'true' }), 'succeeded')
      await setGate('False')

      const running = deploy({ service: 'raced', 'image-tag': '1.1', template: older, namespace: ns, prune: 'true', timeout: '3m' })
      await until('the older run applied', async () => (await getJson(ns, 'deployment', 'raced')).spec.template.spec.containers[0].image === `${REGISTRY}/web:1.1`)
      // The newer run (same workload, so not a takeover of the rollout) adds a ConfigMap the older set does not hold.
      const newer = await deploy({ service: 'raced', 'image-tag': '1.1', template: templateDir({ 'a.yaml': web, 'b.yaml': gate, 'c.yaml': configMap('raced-settings'), 'd.yaml': configMap('newer-extra') }), namespace: ns, prune: 'true', wait: 'false' })
      expectStatus(newer, 'applied')
      await setGate('True')
      const run = await running
      expectStatus(run, 'succeeded')
      expect(await uidOf('configmap', 'newer-extra')).toBeDefined()
      expect(pruned(run)).toEqual([])
      expect(run.log).toMatch(/prune: nothing pruned by this run: the ApplySet parent Secret\/raced-applyset now carries the run token of a deploy that applied the set after this one \(deploy-service\/run-token: [0-9a-f-]+\); that deploy prunes what its set no longer holds/)
    } finally {
      await kubectl(['delete', 'crd', `gates.${group}`, '--wait=false'])
    }
  }, 300_000)

  it('deletes with the uid and resourceVersion of the proving read: an object changed since that read is not deleted', async () => {
    await kubectlOk(['-n', ns, 'create', 'configmap', 'changing', '--from-literal=a=1'])
    const api = new KubeApi(loadKubeConfig({ kubeconfig: fs.readFileSync(kubeconfig, 'utf8'), fieldManager: 'deploy-service', forceConflicts: false, helmValues: [], helmSet: {}, prune: false, waitForLoadBalancers: true }))
    const ref: KubernetesObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'changing', namespace: ns } }
    const proveFrom = (read: KubernetesObject | undefined) => async () => ({ ours: true as const, precondition: preconditionOf(read)!, evidence: 'read by the test' })
    const stale = await api.read(ref)
    await kubectlOk(['-n', ns, 'label', 'configmap', 'changing', 'changed=after-the-read'])
    await expect(ifOurs('delete ConfigMap/changing', proveFrom(stale), owned => api.delete(owned, ref))).rejects.toThrow(/the ResourceVersion in the precondition \(\d+\) does not match the ResourceVersion in record/)
    expect(await uidOf('configmap', 'changing')).toBe(stale?.metadata?.uid)
    const fresh = await api.read(ref)
    expect(await ifOurs('delete ConfigMap/changing', proveFrom(fresh), owned => api.delete(owned, ref))).toBe(true)
    expect(await uidOf('configmap', 'changing')).toBeUndefined()
  }, 60_000)
})
