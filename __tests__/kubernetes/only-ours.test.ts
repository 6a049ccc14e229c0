// Issue 16 on the local cluster, for the workload itself: an apply that fails part-way leaves nothing
// rolling out unwatched; a controller that edits the pod template in fields we did not set (Reloader)
// leaves our rollout ours; the rollback patch is made only through a fresh proof, and carries its uid
// and resourceVersion, so the API server refuses it when the workload changed since.
import { expect, it } from '@jest/globals'
import type { KubernetesObject } from '@kubernetes/client-node'
import fs from 'node:fs'
import { parseInputs } from '../../src/inputs.js'
import { KubeApi, StaleObject, loadKubeConfig } from '../../src/platforms/kubernetes/api/client.js'
import { createKubernetesPlatform } from '../../src/platforms/kubernetes/index.js'
import type { LivePrecondition } from '../../src/platforms/kubernetes/workloads/ownership.js'
import { Deadline } from '../../src/rollout/deadline.js'
import { NotOurs, ifOurs } from '../../src/rollout/ownership.js'
import { Progress } from '../../src/rollout/progress.js'
import { createNamespace, deleteNamespace, deploy, deployment, expectStatus, getJson, inNamespace, kubeconfig, kubectl, kubectlOk, templateDir, until, withCluster } from './cluster.js'

const REGISTRY = 'registry.local/shop'

function api(): KubeApi {
  return new KubeApi(loadKubeConfig({ kubeconfig: fs.readFileSync(kubeconfig, 'utf8'), fieldManager: 'deploy-service', forceConflicts: false, helmValues: [], helmSet: {}, prune: false, waitForLoadBalancers: true }))
}

function configMap(name: string): string {
  return `---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata: {key: value}\n`
}

withCluster('only what is provably ours: the workload', () => {
  let ns = ''
  inNamespace('k8s-ours', name => (ns = name))

  const live = (namespace: string, name: string) => getJson(namespace, 'deployment', name)
  const imageOf = async (namespace: string, name: string): Promise<string> => (await live(namespace, name)).spec.template.spec.containers[0].image as string
  const revisionOf = async (namespace: string, name: string): Promise<string> => (await live(namespace, name)).metadata.annotations['deployment.kubernetes.io/revision'] as string

  /**
   * A namespace whose quota holds one ConfigMap beside kube-root-ca.crt: the server dry run accepts
   * each of two ConfigMaps alone (it charges nothing), the real apply refuses the second.
   */
  async function quotaNamespace(prefix: string): Promise<string> {
    const namespace = await createNamespace(prefix)
    await until('kube-root-ca.crt is published', async () => (await getJson<{ items: unknown[] }>(namespace, 'configmaps')).items.length === 1, 30_000)
    await kubectlOk(['-n', namespace, 'create', 'quota', 'two-configmaps', '--hard=count/configmaps=2'])
    await until('the quota counts what is used', async () => (await getJson(namespace, 'resourcequota', 'two-configmaps')).status?.used?.['count/configmaps'] === '1', 30_000)
    return namespace
  }

  it('an apply refused part-way (a quota) after the workload was applied rolls the workload back and names what was applied', async () => {
    const namespace = await quotaNamespace('k8s-ours-quota')
    try {
      const name = 'halfway'
      expectStatus(await deploy({ service: name, 'image-tag': '1.0', template: templateDir({ 'web.yaml': deployment(name, `${REGISTRY}/${name}:1.0`, { replicas: 1 }) }), namespace }), 'succeeded')
      const template = templateDir({ 'web.yaml': deployment(name, `${REGISTRY}/${name}:1.0`, { replicas: 1 }) + configMap('first') + configMap('second') })
      const run = await deploy({ service: name, 'image-tag': '2.0', template, namespace })
      expectStatus(run, 'rolled-back')
      expect(run.result?.message).toMatch(/the apply stopped at ConfigMap\/second \(object 3 of 3\): .*exceeded quota: two-configmaps.*; applied before it: Deployment\/halfway, ConfigMap\/first/)
      expect(run.result?.message).toMatch(/is back and healthy/)
      expect(await imageOf(namespace, name)).toBe(`${REGISTRY}/${name}:1.0`)
    } finally {
      await deleteNamespace(namespace)
    }
  }, 240_000)

  it('without rollback-on-failure the workloads an interrupted apply changed are followed to the end, and the step fails naming the apply', async () => {
    const namespace = await quotaNamespace('k8s-ours-follow')
    try {
      const name = 'followed'
      expectStatus(await deploy({ service: name, 'image-tag': '1.0', template: templateDir({ 'web.yaml': deployment(name, `${REGISTRY}/${name}:1.0`, { replicas: 1 }) }), namespace }), 'succeeded')
      const template = templateDir({ 'web.yaml': deployment(name, `${REGISTRY}/${name}:1.0`, { replicas: 1 }) + configMap('first') + configMap('second') })
      const run = await deploy({ service: name, 'image-tag': '2.0', template, namespace, 'rollback-on-failure': 'false' })
      expectStatus(run, 'failed')
      expect(run.log).toMatch(/following what was applied, since it rolls out all the same/)
      expect(run.result?.message).toMatch(/the apply stopped at ConfigMap\/second \(object 3 of 3\): .*; applied before it: Deployment\/followed, ConfigMap\/first; the workloads applied before it rolled out \(deployment\/followed revision 2\), but the set is incomplete/)
      expect(await imageOf(namespace, name)).toBe(`${REGISTRY}/${name}:2.0`)
      const status = (await live(namespace, name)).status
      expect(status.updatedReplicas).toBe(1)
      expect(status.readyReplicas).toBe(1)
    } finally {
      await deleteNamespace(namespace)
    }
  }, 240_000)

  it('an apply refused part-way before any workload says what it applied and that nothing rolls out', async () => {
    const namespace = await quotaNamespace('k8s-ours-noworkload')
    try {
      const name = 'configs-first'
      const template = templateDir({ 'a-config.yaml': configMap('first') + configMap('second'), 'b-web.yaml': deployment(name, `${REGISTRY}/${name}:1.0`, { replicas: 1 }) })
      const run = await deploy({ service: name, 'image-tag': '1.0', template, namespace })
      expect(run.result).toBeUndefined()
      expect(run.error?.message).toMatch(/could not apply ConfigMap\/second .*exceeded quota: two-configmaps.*; applied before it: ConfigMap\/first; not applied: Deployment\/configs-first; no workload was changed, so nothing rolls out/)
      expect((await kubectl(['-n', namespace, 'get', 'deployment', name])).code).not.toBe(0)
    } finally {
      await deleteNamespace(namespace)
    }
  }, 120_000)

  it('a controller that edits the pod template in fields we did not set (Reloader) leaves our rollout ours: followed, succeeded', async () => {
    const name = 'reloaded'
    const slow = templateDir({ 'web.yaml': deployment(name, `${REGISTRY}/${name}:1.0`, { annotations: '{deploy-service.test/ready-after: "10s"}' }) })
    expectStatus(await deploy({ service: name, 'image-tag': '1.0', template: slow, namespace: ns }), 'succeeded')
    const running = deploy({ service: name, 'image-tag': '2.0', template: slow, namespace: ns, timeout: '2m' })
    await until('our revision 2 is numbered', async () => (await imageOf(ns, name)) === `${REGISTRY}/${name}:2.0` && (await revisionOf(ns, name)) === '2')
    await new Promise(resolve => setTimeout(resolve, 1000))
    // What Stakater Reloader does when a ConfigMap the pods use changes: an annotation on the template.
    const reload = { spec: { template: { metadata: { annotations: { 'reloader.stakater.com/last-reloaded-from': '{"kind":"ConfigMap","name":"settings"}' } } } } }
    await kubectlOk(['-n', ns, 'patch', 'deployment', name, '--type=strategic', '--field-manager=reloader', '-p', JSON.stringify(reload)])
    const run = await running
    expectStatus(run, 'succeeded')
    expect(run.result?.message).toMatch(/deployment\/reloaded's pod template was edited by field manager "reloader \(Update\)" while we waited, in fields we did not set: revision 3 keeps every field we applied, so it was followed instead of revision 2/)
    expect(await imageOf(ns, name)).toBe(`${REGISTRY}/${name}:2.0`)
    expect(await revisionOf(ns, name)).toBe('3')
  }, 240_000)

  it('another apply under our own field manager that changes our image is still superseded', async () => {
    const name = 'same-manager'
    const slow = templateDir({ 'web.yaml': deployment(name, `${REGISTRY}/${name}:1.0`, { annotations: '{deploy-service.test/ready-after: "30s"}' }) })
    expectStatus(await deploy({ service: name, 'image-tag': '1.0', template: templateDir({ 'web.yaml': deployment(name, `${REGISTRY}/${name}:1.0`) }), namespace: ns }), 'succeeded')
    const running = deploy({ service: name, 'image-tag': '2.0', template: slow, namespace: ns, timeout: '2m' })
    await until('our revision 2 is numbered', async () => (await imageOf(ns, name)) === `${REGISTRY}/${name}:2.0` && (await revisionOf(ns, name)) === '2')
    // Another deploy of the same service (same field manager, so the ownership stays), another image.
    const other = deployment(name, `${REGISTRY}/${name}:3.0`, { annotations: '{deploy-service.test/ready-after: "30s"}' })
    await kubectlOk(['-n', ns, 'apply', '--server-side', '--field-manager=deploy-service', '-f', '-'], other)
    const run = await running
    expectStatus(run, 'superseded')
    expect(run.result?.message).toMatch(/moved on to revision 3 \(same-manager=registry\.local\/shop\/same-manager:3\.0\), which is not ours \(revision 2\).*containers\[name=same-manager\]\.image no longer has the value we applied/)
    expect(await imageOf(ns, name)).toBe(`${REGISTRY}/${name}:3.0`)
  }, 240_000)

  /** Our deploy of `name` to 2.0, applied through the platform but not waited for: its rollout. */
  async function appliedRollout(name: string) {
    const template = templateDir({ 'web.yaml': deployment(name, `${REGISTRY}/${name}:1.0`, { replicas: 1 }) })
    expectStatus(await deploy({ service: name, 'image-tag': '1.0', template, namespace: ns }), 'succeeded')
    const request = parseInputs({ GITHUB_SHA: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678', INPUT_SERVICE: name, 'INPUT_IMAGE-TAG': '2.0', INPUT_TEMPLATE: template, INPUT_NAMESPACE: ns, INPUT_PLATFORM: 'kubernetes' })
    const previous = process.env.KUBECONFIG
    process.env.KUBECONFIG = kubeconfig
    const plan = await createKubernetesPlatform(request)
      .prepareDeploy()
      .finally(() => {
        if (previous === undefined) delete process.env.KUBECONFIG
        else process.env.KUBECONFIG = previous
      })
    return plan.apply(new Progress({ info: () => {}, warning: () => {} }), new AbortController().signal)
  }

  it('the rollback of a workload someone else moved on (kubectl set image) is refused as NotOurs, superseded, and nothing is patched', async () => {
    const name = 'set-image'
    const rollout = await appliedRollout(name)
    await kubectlOk(['-n', ns, 'set', 'image', `deployment/${name}`, `${name}=${REGISTRY}/${name}:someone-else`])
    await until('their revision is numbered', async () => (await revisionOf(ns, name)) === '3')
    const deadline = new Deadline(60_000)
    const progress = new Progress({ info: () => {}, warning: () => {} })
    try {
      const refused = await rollout.undo({ deadline, progress, cancel: new AbortController().signal }).then(
        () => undefined,
        (error: unknown) => error
      )
      expect(refused).toBeInstanceOf(NotOurs)
      expect((refused as NotOurs).superseded).toBe(true)
      expect((refused as NotOurs).found).toMatch(/deployment\/set-image moved on to revision 3 \(set-image=registry\.local\/shop\/set-image:someone-else\), which is not ours \(revision 2\).*containers\[name=set-image\]\.image is no longer owned by our field manager "deploy-service" \(now field manager "kubectl-set \(Update\)"\)/)
    } finally {
      deadline.dispose()
    }
    expect(await imageOf(ns, name)).toBe(`${REGISTRY}/${name}:someone-else`)
    expect(await revisionOf(ns, name)).toBe('3')
  }, 120_000)

  it('a rollback patch whose proof is stale (the workload changed after the read) is refused by the API server', async () => {
    const name = 'stale-proof'
    const template = templateDir({ 'web.yaml': deployment(name, `${REGISTRY}/${name}:1.0`, { replicas: 1 }) })
    expectStatus(await deploy({ service: name, 'image-tag': '1.0', template, namespace: ns }), 'succeeded')
    const kube = api()
    const target = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: ns } } as KubernetesObject
    const read = (await kube.read(target))!
    const proof = { uid: read.metadata!.uid!, resourceVersion: read.metadata!.resourceVersion! }
    // Someone changes it after our read.
    await kubectlOk(['-n', ns, 'set', 'image', `deployment/${name}`, `${name}=${REGISTRY}/${name}:hotfix`])
    const undo = [{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: `${REGISTRY}/${name}:0.9` }]
    const patched = ifOurs<LivePrecondition, KubernetesObject>('roll back', async () => ({ ours: true, precondition: proof, evidence: 'read before the change' }), owned =>
      kube.patch(owned, target, undo, 'application/json-patch+json', { fieldManager: 'deploy-service' })
    )
    await expect(patched).rejects.toBeInstanceOf(StaleObject)
    // The same for a strategic-merge patch (StatefulSet and DaemonSet rollbacks), and for a uid that is not the object's.
    const smp = { spec: { template: { spec: { containers: [{ name, image: `${REGISTRY}/${name}:0.9` }] } } } }
    const stale = ifOurs<LivePrecondition, KubernetesObject>('roll back', async () => ({ ours: true, precondition: proof, evidence: 'read before the change' }), owned =>
      kube.patch(owned, target, smp, 'application/strategic-merge-patch+json', { fieldManager: 'deploy-service' })
    )
    await expect(stale).rejects.toBeInstanceOf(StaleObject)
    const fresh = (await kube.read(target))!
    const otherUid = ifOurs<LivePrecondition, KubernetesObject>('roll back', async () => ({ ours: true, precondition: { uid: '00000000-0000-0000-0000-000000000000', resourceVersion: fresh.metadata!.resourceVersion! }, evidence: 'test' }), owned =>
      kube.patch(owned, target, undo, 'application/json-patch+json', { fieldManager: 'deploy-service' })
    )
    await expect(otherUid).rejects.toBeInstanceOf(StaleObject)
    expect(await imageOf(ns, name)).toBe(`${REGISTRY}/${name}:hotfix`)
    // With the current uid and resourceVersion, the same patch goes through. The deployment controller
    // may still write the hotfix's status after our read (a new resourceVersion): read again then, as undo does.
    await kubectlOk(['-n', ns, 'rollout', 'status', `deployment/${name}`, '--timeout=60s'])
    for (let attempt = 1; ; attempt++) {
      const current = (await kube.read(target))!
      const precondition = { uid: current.metadata!.uid!, resourceVersion: current.metadata!.resourceVersion! }
      try {
        await ifOurs<LivePrecondition, KubernetesObject>('roll back', async () => ({ ours: true, precondition, evidence: 'fresh read' }), owned =>
          kube.patch(owned, target, undo, 'application/json-patch+json', { fieldManager: 'deploy-service' })
        )
        break
      } catch (error) {
        if (!(error instanceof StaleObject) || attempt === 5) throw error
      }
    }
    expect(await imageOf(ns, name)).toBe(`${REGISTRY}/${name}:0.9`)
  }, 120_000)
})
