// Rollouts of other shapes than a template of their own, against the real Argo Rollouts controller. One
// that reads its pod template from a Deployment (spec.workloadRef): the new image goes into the
// Deployment's template (the Rollout has none), the previous image is read from it, and the wait counts
// the Rollout's verdict only once its controller has read our Deployment's generation
// (status.workloadObservedGeneration), never its older Healthy. And a live Rollout changed without a
// template (an image-only deploy): a JSON patch of its container's image, followed to Healthy.
import { expect, it } from '@jest/globals'
import { inArgoNamespace, type ArgoController } from './argo-controller.js'
import { deploy, expectStatus, getJson, templateDir, withCluster } from './cluster.js'

const REGISTRY = 'registry.local/shop'

/** Argo's own example shape: a Deployment with no replicas of its own, and a Rollout of the same name that refers to it. */
function files(name = 'web', pause = '{duration: 2s}'): string {
  return templateDir({
    'deployment.yaml': `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}}
spec:
  replicas: 0
  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: ${name}
        image: ${REGISTRY}/${name}:0
`,
    'rollout.yaml': `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: ${name}}
spec:
  replicas: 2
  workloadRef:
    apiVersion: apps/v1
    kind: Deployment
    name: ${name}
  strategy:
    canary:
      steps:
      - setWeight: 50
      - pause: ${pause}
`
  })
}

/** A Rollout with its own template, as another pipeline created it. */
function liveRollout(name: string, image: string): string {
  return templateDir({
    'rollout.yaml': `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: ${name}}
spec:
  replicas: 2
  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      terminationGracePeriodSeconds: 0
      initContainers:
      - {name: setup, image: ${REGISTRY}/setup:1}
      containers:
      - {name: sidecar, image: ${REGISTRY}/proxy:1}
      - {name: ${name}, image: ${image}}
  strategy:
    canary:
      steps:
      - setWeight: 50
      - pause: {duration: 2s}
`
  })
}

withCluster('Argo Rollouts: a Rollout with a workloadRef, and one changed without a template', () => {
  let ns = ''
  let controller: ArgoController | undefined
  inArgoNamespace('k8s-argo-ref', (name, started) => ((ns = name), (controller = started)))

  it('puts the image into the referenced Deployment and follows the Rollout through its canary of our generation to Healthy', async () => {
    const first = await deploy({ service: 'web', 'image-tag': '1.0', template: files(), namespace: ns })
    expectStatus(first, 'succeeded')
    const second = await deploy({ service: 'web', 'image-tag': '2.0', template: files(), namespace: ns })
    expectStatus(second, 'succeeded')
    expect(second.result?.images).toEqual([expect.objectContaining({ container: 'web', previous: `${REGISTRY}/web:1.0`, next: `${REGISTRY}/web:2.0` })])
    const deployment = await getJson<{ metadata: { generation: number }; spec: { template: { spec: { containers: Array<{ image: string }> } } } }>(ns, 'deployment', 'web')
    expect(deployment.spec.template.spec.containers[0].image).toBe(`${REGISTRY}/web:2.0`)
    // The canary's pause was waited through: the verdict is about the new template, not the first one's Healthy.
    expect(second.lines.some(l => l.includes('Rollout/web: Paused: CanaryPauseStep'))).toBe(true)
    const rollout = await getJson<{ status: { phase?: string; stableRS?: string; currentPodHash?: string; workloadObservedGeneration?: string } }>(ns, 'rollout.argoproj.io', 'web')
    expect(rollout.status.phase).toBe('Healthy')
    expect(rollout.status.stableRS).toBe(rollout.status.currentPodHash)
    expect(Number(rollout.status.workloadObservedGeneration)).toBeGreaterThanOrEqual(deployment.metadata.generation)
  }, 180_000)

  it('changes only the image of the service\'s container in a live Rollout when no template is given, and follows its canary to Healthy', async () => {
    expectStatus(await deploy({ service: 'api', 'image-tag': '1.0', template: liveRollout('api', `${REGISTRY}/api:1.0`), namespace: ns }), 'succeeded')
    const run = await deploy({ service: 'api', 'image-tag': '2.0', namespace: ns })
    expectStatus(run, 'succeeded')
    expect(run.result?.images).toEqual([expect.objectContaining({ container: 'api', previous: `${REGISTRY}/api:1.0`, next: `${REGISTRY}/api:2.0` })])
    expect(run.lines.some(l => l.includes('Rollout/api: Paused: CanaryPauseStep'))).toBe(true)
    const live = await getJson<{ spec: { template: { spec: { initContainers: Array<{ image: string }>; containers: Array<{ name: string; image: string }> } } }; status: { phase?: string; stableRS?: string; currentPodHash?: string } }>(ns, 'rollout.argoproj.io', 'api')
    expect(live.spec.template.spec.containers.map(c => c.image)).toEqual([`${REGISTRY}/proxy:1`, `${REGISTRY}/api:2.0`])
    expect(live.spec.template.spec.initContainers[0].image).toBe(`${REGISTRY}/setup:1`)
    expect(live.status.phase).toBe('Healthy')
    expect(live.status.stableRS).toBe(live.status.currentPodHash)
  }, 180_000)
  it('with on-pause: exit, ends paused at an indefinite pause of the Rollout that runs our Deployment\'s template', async () => {
    expectStatus(await deploy({ service: 'held', 'image-tag': '1.0', template: files('held', '{}'), namespace: ns, 'on-pause': 'exit' }), 'succeeded')
    const run = await deploy({ service: 'held', 'image-tag': '2.0', template: files('held', '{}'), namespace: ns, 'on-pause': 'exit' })
    expectStatus(run, 'paused')
    expect(`${run.result?.message}`).toMatch(/Rollout\/held paused at canary step 2\/2 \(pause without a duration\)/)
  }, 180_000)

  it('never takes the Rollout\'s older Healthy for ours while its controller has not read our Deployment (controller stopped)', async () => {
    // Our apply changes only the Deployment: the Rollout's own generation, observed long ago, stays as it was.
    await controller?.stop()
    const run = await deploy({ service: 'web', 'image-tag': '3.0', template: files(), namespace: ns, timeout: '20s', 'rollback-on-failure': 'false' })
    expectStatus(run, 'failed')
    expect(`${run.result?.message}\n${run.result?.reasons.join('\n')}`).toMatch(/Rollout\/web: Progressing: its controller has not read our Deployment\/web \(generation \d+\) yet/)
  }, 120_000)

})
