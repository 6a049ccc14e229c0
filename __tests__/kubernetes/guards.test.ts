// What is refused or adjusted before anything changes, on the local cluster: workloads whose rollout
// cannot be followed (OnDelete, paused) and replicas an HPA owns.
import { expect, it } from '@jest/globals'
import { deploy, deployment, expectStatus, getJson, kubectl, kubectlOk, templateDir, withCluster, until, inNamespace } from './cluster.js'

const REGISTRY = 'registry.local/shop'

const hpa = (name: string, min: number) => `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: ${name}}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: ${name}}
  minReplicas: ${min}
  maxReplicas: 6
  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}}]
`

withCluster('refused or adjusted before anything changes', () => {
  let ns = ''
  inNamespace('k8s-guards', name => (ns = name))

  const exists = async (kind: string, name: string) => (await kubectl(['-n', ns, 'get', kind, name])).code === 0

  it('refuses a StatefulSet with updateStrategy OnDelete at its file:line, applying nothing', async () => {
    const sts = deployment('db', `${REGISTRY}/db:1.0`, { kind: 'StatefulSet', replicas: 1 }).replace('  selector:', '  updateStrategy: {type: OnDelete}\n  selector:')
    const template = templateDir({ 'a-config.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: db-config}\ndata: {a: "1"}\n', 'db.yaml': sts })
    const run = await deploy({ service: 'db', 'image-tag': '1.1', template, namespace: ns })
    expect(run.error?.name).toBe('UserError')
    expect(run.error?.message).toMatch(/db\.yaml:8:\d+: statefulset\/db uses updateStrategy OnDelete \(the template sets it\): its pods change only when someone deletes them, so its rollout cannot be followed \(kubectl rollout status refuses it too\)\. Set spec\.updateStrategy\.type: RollingUpdate, or deploy it with wait: false/)
    expect(await exists('statefulset', 'db')).toBe(false)
    expect(await exists('configmap', 'db-config')).toBe(false)
    // Not waiting, it may be applied: nothing to follow, nothing to roll back.
    expectStatus(await deploy({ service: 'db', 'image-tag': '1.1', template, namespace: ns, wait: 'false' }), 'applied')
  }, 120_000)

  it('refuses a paused Deployment: paused in the template, or paused live with no template', async () => {
    const paused = deployment('held', `${REGISTRY}/held:1.0`).replace('  selector:', '  paused: true\n  selector:')
    const run = await deploy({ service: 'held', 'image-tag': '1.1', template: templateDir({ 'held.yaml': paused }), namespace: ns })
    expect(run.error?.message).toMatch(/held\.yaml:8:\d+: deployment\/held is paused \(spec\.paused: true in the template\): a paused Deployment does not roll out, so this deploy would only wait and then roll back\. Remove spec\.paused from the template, or deploy with wait: false/)
    expect(await exists('deployment', 'held')).toBe(false)

    await kubectlOk(['-n', ns, 'apply', '-f', '-'], deployment('held', `${REGISTRY}/held:1.0`))
    await kubectlOk(['-n', ns, 'rollout', 'pause', 'deployment/held'])
    const before = await getJson(ns, 'deployment', 'held')
    const bare = await deploy({ service: 'held', 'image-tag': '1.1', namespace: ns })
    expect(bare.error?.message).toMatch(/input 'service': deployment\/held is paused \(spec\.paused: true on the live Deployment\): .*Resume it first \(kubectl rollout resume deployment\/held\)/)
    // A template without spec.paused does not unpause it (another manager set it): refused as well.
    const templated = await deploy({ service: 'held', 'image-tag': '1.0', template: templateDir({ 'held.yaml': deployment('held', `${REGISTRY}/held:1.0`) }), namespace: ns })
    expect(templated.error?.message).toMatch(/held\.yaml:1:1: deployment\/held is paused \(spec\.paused: true, set on the live Deployment, not in the template\)/)
    const after = await getJson(ns, 'deployment', 'held')
    expect(after.metadata.generation).toBe(before.metadata.generation)
    expect(after.spec.template.spec.containers[0].image).toBe(`${REGISTRY}/held:1.0`)
  }, 120_000)

  it('leaves spec.replicas to a HorizontalPodAutoscaler that scaled the workload (live), and says so', async () => {
    const name = 'scaled'
    const template = templateDir({ 'web.yaml': deployment(name, `${REGISTRY}/${name}:1.0`, { replicas: 2 }) })
    expectStatus(await deploy({ service: name, 'image-tag': '1.0', template, namespace: ns }), 'succeeded')
    // No metrics server here, but the HPA still enforces minReplicas: it scales 2 -> 3 and owns the field.
    await kubectlOk(['-n', ns, 'apply', '-f', '-'], hpa(name, 3))
    await until('the HPA scaled to 3', async () => (await getJson(ns, 'deployment', name)).spec.replicas === 3)
    const run = await deploy({ service: name, 'image-tag': '1.1', template, namespace: ns })
    expectStatus(run, 'succeeded')
    expect(run.log).toMatch(/deployment\/scaled: spec\.replicas \(2 in the template\) is left to HorizontalPodAutoscaler scaled, which keeps its 3 replica\(s\)/)
    const live = await getJson(ns, 'deployment', name)
    expect(live.spec.replicas).toBe(3)
    expect(live.spec.template.spec.containers[0].image).toBe(`${REGISTRY}/${name}:1.1`)
  }, 180_000)

  it('keeps the replicas we still own when an HPA in the set has not scaled yet (no drop to 1)', async () => {
    const name = 'owned-replicas'
    const web = deployment(name, `${REGISTRY}/${name}:1.0`, { replicas: 2 })
    expectStatus(await deploy({ service: name, 'image-tag': '1.0', template: templateDir({ 'web.yaml': web }), namespace: ns }), 'succeeded')
    // The HPA comes in the set itself, with minReplicas equal to what runs: it never writes the field.
    const run = await deploy({ service: name, 'image-tag': '1.1', template: templateDir({ 'web.yaml': web, 'hpa.yaml': hpa(name, 2) }), namespace: ns })
    expectStatus(run, 'succeeded')
    expect(run.log).toMatch(/is left to HorizontalPodAutoscaler owned-replicas, which keeps its 2 replica\(s\)/)
    expect((await getJson(ns, 'deployment', name)).spec.replicas).toBe(2)
    // The new ReplicaSet was made for 2 replicas: dropping the field we owned would have made it 1.
    const replicaSets = (await getJson(ns, 'replicasets', '-l', `app=${name}`)).items as Array<{ metadata: { annotations: Record<string, string> } }>
    const newest = replicaSets.find(rs => rs.metadata.annotations['deployment.kubernetes.io/revision'] === '2')
    expect(newest?.metadata.annotations['deployment.kubernetes.io/desired-replicas']).toBe('2')
  }, 180_000)
})
