// A Rollout that reads its pod template from a Deployment (spec.workloadRef), against the real Argo
// Rollouts controller: the new image goes into the Deployment's template (the Rollout has none), the
// previous image is read from it, and the wait counts the Rollout's verdict only once its controller has
// read our Deployment's generation (status.workloadObservedGeneration), never its older Healthy.
import { afterAll, beforeAll, expect, it } from '@jest/globals'
import { BUILD_TIMEOUT_MS, startArgoRollouts, type ArgoController } from './argo-controller.js'
import { deploy, expectStatus, getJson, inNamespace, templateDir, withCluster } from './cluster.js'

const REGISTRY = 'registry.local/shop'

/** Argo's own example shape: a Deployment with no replicas of its own, and a Rollout of the same name that refers to it. */
function files(): string {
  return templateDir({
    'deployment.yaml': `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 0
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: web
        image: ${REGISTRY}/web:0
`,
    'rollout.yaml': `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  replicas: 2
  workloadRef:
    apiVersion: apps/v1
    kind: Deployment
    name: web
  strategy:
    canary:
      steps:
      - setWeight: 50
      - pause: {duration: 2s}
`
  })
}

withCluster('Argo Rollouts: a Rollout with a workloadRef', () => {
  let ns = ''
  let controller: ArgoController | undefined
  inNamespace('k8s-argo-ref', name => (ns = name))
  beforeAll(async () => {
    controller = await startArgoRollouts(ns)
  }, BUILD_TIMEOUT_MS)
  afterAll(async () => {
    await controller?.stop()
  })

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

  it('never takes the Rollout\'s older Healthy for ours while its controller has not read our Deployment (controller stopped)', async () => {
    // Our apply changes only the Deployment: the Rollout's own generation, observed long ago, stays as it was.
    await controller?.stop()
    const run = await deploy({ service: 'web', 'image-tag': '3.0', template: files(), namespace: ns, timeout: '20s', 'rollback-on-failure': 'false' })
    expectStatus(run, 'failed')
    expect(`${run.result?.message}\n${run.result?.reasons.join('\n')}`).toMatch(/Rollout\/web: Progressing: its controller has not read our Deployment\/web \(generation \d+\) yet/)
  }, 120_000)
})
