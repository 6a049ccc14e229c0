// Pruning with an ApplySet on the local cluster: what an earlier deploy applied and the set dropped is
// deleted after the new set is healthy (a dry run only lists it), recorded as kubectl records an
// ApplySet; objects of another set (one kubectl made) and unlabelled objects are never touched.
import { expect, it } from '@jest/globals'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { deploy, deployment, expectStatus, getJson, kubeconfig, kubectl, kubectlOk, templateDir, withCluster, inNamespace } from './cluster.js'

const REGISTRY = 'registry.local/shop'
const configMap = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ${name}}\ndata: {a: "1"}\n`
const PART_OF = 'applyset.kubernetes.io/part-of'

/** The id kubectl gives a Secret parent (KEP-3659): base64url(sha256(name.namespace.kind.group)), computed here on its own. */
function kubectlStyleId(name: string, namespace: string): string {
  return `applyset-${createHash('sha256').update(`${name}.${namespace}.Secret.`).digest('base64url')}-v1`
}

/** kubectl 1.32 keeps ApplySets behind KUBECTL_APPLYSET=true (an environment variable of its own process). */
function kubectlWithApplySets(args: string[], input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('kubectl', ['--kubeconfig', kubeconfig, ...args], { env: { ...process.env, KUBECTL_APPLYSET: 'true' }, timeout: 60_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`kubectl ${args.join(' ')}: ${stderr}`)) : resolve(stdout)
    )
    child.stdin?.end(input)
  })
}

withCluster('kubernetes pruning with an ApplySet', () => {
  let ns = ''
  inNamespace('k8s-prune', name => (ns = name))

  const exists = async (kind: string, name: string): Promise<boolean> => (await kubectl(['-n', ns, 'get', kind, name])).code === 0

  it('deletes a removed ConfigMap and Deployment after the new set is healthy, and leaves other sets and unlabelled objects alone', async () => {
    const web = deployment('web', `${REGISTRY}/web:1.0`, { replicas: 1 })
    const first = templateDir({ 'a.yaml': configMap('settings'), 'b.yaml': configMap('old-settings'), 'c.yaml': deployment('worker', `${REGISTRY}/worker:1.0`, { replicas: 1 }), 'd.yaml': web })
    expectStatus(await deploy({ service: 'web', 'image-tag': '1.0', template: first, namespace: ns, prune: 'true' }), 'succeeded')
    const id = kubectlStyleId('web-applyset', ns)
    const parent = await getJson(ns, 'secret', 'web-applyset')
    expect(parent.metadata.labels).toEqual({ 'applyset.kubernetes.io/id': id })
    expect(parent.metadata.annotations).toMatchObject({
      'applyset.kubernetes.io/tooling': 'deploy-service/v1',
      'applyset.kubernetes.io/contains-group-kinds': 'ConfigMap,Deployment.apps',
      'applyset.kubernetes.io/additional-namespaces': ''
    })
    for (const [kind, name] of [['configmap', 'old-settings'], ['deployment', 'worker']]) expect((await getJson(ns, kind, name)).metadata.labels[PART_OF]).toBe(id)

    // Another ApplySet in the same namespace, made by kubectl itself, and an object of nobody's set.
    await kubectlWithApplySets(['-n', ns, 'apply', '--server-side', '--prune', '--applyset=other-set', '-f', '-'], configMap('other-settings'))
    await kubectlOk(['-n', ns, 'create', 'configmap', 'hand-made', '--from-literal=a=1'])
    const otherId = (await getJson(ns, 'configmap', 'other-settings')).metadata.labels[PART_OF]
    // Our id is computed as kubectl computes its own.
    expect(otherId).toBe(kubectlStyleId('other-set', ns))

    const second = templateDir({ 'a.yaml': configMap('settings'), 'd.yaml': web })
    const dryRun = await deploy({ service: 'web', 'image-tag': '1.1', template: second, namespace: ns, prune: 'true', 'dry-run': 'true' })
    expectStatus(dryRun, 'dry-run')
    expect(dryRun.result?.diff).toMatch(/ConfigMap\/old-settings \(would be pruned/)
    expect(dryRun.result?.diff).toMatch(/Deployment\/worker \(would be pruned/)
    expect(dryRun.result?.diff).not.toMatch(/other-settings|hand-made/)
    expect(await exists('configmap', 'old-settings')).toBe(true)
    expect(dryRun.result?.objects).toEqual([
      { ref: 'ConfigMap/settings', state: 'unchanged' },
      { ref: 'Deployment/web', state: 'would change' },
      { ref: 'ConfigMap/old-settings', state: 'would be pruned' },
      { ref: 'Deployment/worker', state: 'would be pruned' }
    ])

    const run = await deploy({ service: 'web', 'image-tag': '1.1', template: second, namespace: ns, prune: 'true' })
    expectStatus(run, 'succeeded')
    expect(await exists('configmap', 'old-settings')).toBe(false)
    expect(await exists('deployment', 'worker')).toBe(false)
    expect(await exists('configmap', 'other-settings')).toBe(true)
    expect(await exists('configmap', 'hand-made')).toBe(true)
    expect(run.result?.objects).toEqual([
      { ref: 'ConfigMap/settings', state: 'ready' },
      { ref: 'Deployment/web', state: expect.stringMatching(/^ready: /) },
      { ref: 'ConfigMap/old-settings', state: 'pruned' },
      { ref: 'Deployment/worker', state: 'pruned' }
    ])
    expect(run.log).toMatch(/pruned \(no longer in the set, ApplySet Secret\/web-applyset\): ConfigMap\/old-settings, Deployment\/worker/)
    expect(run.result?.reasons).toEqual([])
    expect((await getJson(ns, 'secret', 'web-applyset')).metadata.annotations['applyset.kubernetes.io/contains-group-kinds']).toBe('ConfigMap,Deployment.apps')
  }, 240_000)

  it('prunes nothing when the new set fails', async () => {
    const first = templateDir({ 'a.yaml': configMap('fail-extra'), 'b.yaml': deployment('failing', `${REGISTRY}/web:1.0`, { replicas: 1 }) })
    expectStatus(await deploy({ service: 'failing', 'image-tag': '1.0', template: first, namespace: ns, prune: 'true' }), 'succeeded')
    const second = templateDir({ 'b.yaml': deployment('failing', `${REGISTRY}/web:1.0`, { replicas: 1 }) })
    const run = await deploy({ service: 'failing', 'image-tag': 'missing', template: second, namespace: ns, prune: 'true', timeout: '3m' })
    expect(run.result?.status).toBe('rolled-back')
    expect(await exists('configmap', 'fail-extra')).toBe(true)
    expect(run.result?.objects?.some(o => o.state.includes('pruned'))).toBe(false)
  }, 240_000)

  it('with wait: false, prunes nothing: the next deploy that waits and succeeds does (the running pods and a rollback may still use what was dropped)', async () => {
    const web = deployment('nowait', `${REGISTRY}/web:1.0`, { replicas: 1 })
    expectStatus(await deploy({ service: 'nowait', 'image-tag': '1.0', template: templateDir({ 'a.yaml': configMap('nowait-extra'), 'b.yaml': web }), namespace: ns, prune: 'true', wait: 'false' }), 'applied')
    expect(await exists('configmap', 'nowait-extra')).toBe(true)
    const run = await deploy({ service: 'nowait', 'image-tag': '1.1', template: templateDir({ 'b.yaml': web }), namespace: ns, prune: 'true', wait: 'false' })
    expectStatus(run, 'applied')
    expect(await exists('configmap', 'nowait-extra')).toBe(true)
    expect(run.log).toMatch(/prune: not now \(wait: false: .*\); the next successful deploy that waits prunes ConfigMap\/nowait-extra \(ApplySet Secret\/nowait-applyset\)/)
    const waited = await deploy({ service: 'nowait', 'image-tag': '1.1', template: templateDir({ 'b.yaml': web }), namespace: ns, prune: 'true' })
    expectStatus(waited, 'succeeded')
    expect(await exists('configmap', 'nowait-extra')).toBe(false)
    expect(waited.log).toMatch(/pruned \(no longer in the set, ApplySet Secret\/nowait-applyset\): ConfigMap\/nowait-extra/)
  }, 120_000)

  it('never prunes a CustomResourceDefinition that left the set (that would delete every resource of its kind), and says so', async () => {
    const group = `p${ns.slice(-6)}.deploy-service.test`
    const crd = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.${group}}
spec:
  group: ${group}
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}]
`
    const web = deployment('crdkeeper', `${REGISTRY}/web:1.0`, { replicas: 1 })
    try {
      expectStatus(await deploy({ service: 'crdkeeper', 'image-tag': '1.0', template: templateDir({ 'a.yaml': crd, 'b.yaml': web }), namespace: ns, prune: 'true' }), 'succeeded')
      const run = await deploy({ service: 'crdkeeper', 'image-tag': '1.1', template: templateDir({ 'b.yaml': web }), namespace: ns, prune: 'true' })
      expectStatus(run, 'succeeded')
      expect((await kubectl(['get', 'crd', `gadgets.${group}`])).code).toBe(0)
      expect(run.log).toMatch(new RegExp(`prune: kept CustomResourceDefinition/gadgets\\.${group.replace(/\./g, '\\.')}: a CustomResourceDefinition is never pruned`))
      expect(run.result?.objects?.find(o => o.ref === `CustomResourceDefinition/gadgets.${group}`)?.state).toMatch(/^not pruned: /)
    } finally {
      await kubectl(['delete', 'crd', `gadgets.${group}`, '--wait=false'])
    }
  }, 120_000)

  it('keeps its own cluster-scoped objects that carry a namespace (as Helm charts write them), and members a controller owns', async () => {
    const roleName = `prune-keep-${ns}`
    const clusterRole = `apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: ${roleName}, namespace: ${ns}}\nrules: [{apiGroups: [""], resources: [configmaps], verbs: [get]}]\n`
    const template = templateDir({ 'a.yaml': clusterRole, 'b.yaml': deployment('rbac', `${REGISTRY}/web:1.0`, { replicas: 1 }) })
    try {
      expectStatus(await deploy({ service: 'rbac', 'image-tag': '1.0', template, namespace: ns, prune: 'true' }), 'succeeded')
      expect((await kubectl(['get', 'clusterrole', roleName])).code).toBe(0)
      // An operator copies the set's labels onto a child it owns (a controller ownerReference): not ours to delete.
      const id = kubectlStyleId('rbac-applyset', ns)
      const owner = await getJson(ns, 'deployment', 'rbac')
      const child = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'rbac-child', namespace: ns, labels: { [PART_OF]: id }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'rbac', uid: owner.metadata.uid, controller: true }] }, data: { a: '1' } }
      await kubectlOk(['apply', '-f', '-'], JSON.stringify(child))
      const dryRun = await deploy({ service: 'rbac', 'image-tag': '1.1', template, namespace: ns, prune: 'true', 'dry-run': 'true' })
      expectStatus(dryRun, 'dry-run')
      expect(dryRun.result?.objects?.filter(o => o.state.includes('pruned'))).toEqual([])
      const run = await deploy({ service: 'rbac', 'image-tag': '1.1', template, namespace: ns, prune: 'true' })
      expectStatus(run, 'succeeded')
      expect((await kubectl(['get', 'clusterrole', roleName])).code).toBe(0)
      expect(await exists('configmap', 'rbac-child')).toBe(true)
      expect(run.result?.objects?.some(o => o.state.includes('pruned'))).toBe(false)
    } finally {
      await kubectl(['delete', 'clusterrole', roleName, '--wait=false'])
    }
  }, 180_000)

  it('prunes a kind served only in a version that is not its group\'s preferred one', async () => {
    const group = `v${ns.slice(-6)}.deploy-service.test`
    const crd = (plural: string, kind: string, version: string) => `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: ${plural}.${group}}
spec:
  group: ${group}
  scope: Namespaced
  names: {plural: ${plural}, singular: ${kind.toLowerCase()}, kind: ${kind}}
  versions: [{name: ${version}, served: true, storage: true, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}]
`
    // The group is served in v1 and v2; v2 is its preferred version, and Gadget is only in v1.
    await kubectlOk(['apply', '-f', '-'], `${crd('gadgets', 'Gadget', 'v1')}---\n${crd('gizmos', 'Gizmo', 'v2')}`)
    try {
      await kubectlOk(['wait', '--for=condition=Established', `crd/gadgets.${group}`, `crd/gizmos.${group}`, '--timeout=60s'])
      const gadget = `apiVersion: ${group}/v1\nkind: Gadget\nmetadata: {name: old-gadget}\n`
      const web = deployment('versions', `${REGISTRY}/web:1.0`, { replicas: 1 })
      expectStatus(await deploy({ service: 'versions', 'image-tag': '1.0', template: templateDir({ 'a.yaml': gadget, 'b.yaml': web }), namespace: ns, prune: 'true' }), 'succeeded')
      expect(await exists(`gadgets.${group}`, 'old-gadget')).toBe(true)
      const run = await deploy({ service: 'versions', 'image-tag': '1.1', template: templateDir({ 'b.yaml': web }), namespace: ns, prune: 'true' })
      expectStatus(run, 'succeeded')
      expect(run.result?.objects).toContainEqual({ ref: 'Gadget/old-gadget', state: 'pruned' })
      expect(await exists(`gadgets.${group}`, 'old-gadget')).toBe(false)
    } finally {
      await kubectl(['delete', 'crd', `gadgets.${group}`, `gizmos.${group}`, '--wait=false'])
    }
  }, 180_000)

  it('refuses, before changing anything, a parent Secret that is not its own', async () => {
    await kubectlOk(['-n', ns, 'create', 'secret', 'generic', 'mine-applyset', '--from-literal=password=hunter22'])
    const template = templateDir({ 'a.yaml': configMap('mine-config'), 'b.yaml': deployment('mine', `${REGISTRY}/web:1.0`, { replicas: 1 }) })
    const run = await deploy({ service: 'mine', 'image-tag': '1.0', template, namespace: ns, prune: 'true' })
    expect(run.error?.message).toMatch(/prune.*Secret\/mine-applyset in namespace .* exists but is not an ApplySet parent/)
    expect(await exists('configmap', 'mine-config')).toBe(false)
    expect(await exists('deployment', 'mine')).toBe(false)
  }, 120_000)
})
