// What the wait says about an Argo Rollout, against the real controller (argo-controller.ts): a first
// revision (Argo runs no steps), a canary whose analysis step measures a metric with the `web` provider
// from a small HTTP server of this test (the controller runs on this machine and reaches 127.0.0.1) that
// fails (Argo aborts: the failure names the step, the metric and a measured value) or passes (a progress
// line names the analysis run), and a timeout at an indefinite pause rolled back by Argo's abort.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, expect, it } from '@jest/globals'
import { BUILD_TIMEOUT_MS, canaryRollout, startArgoRollouts, type ArgoController } from './argo-controller.js'
import { limitedKubeconfigPath } from '../cluster/kube.js'
import { deploy, expectStatus, getJson, inNamespace, kubectlOk, stateOf, templateDir, withCluster } from './cluster.js'

const REGISTRY = 'registry.local/shop'

/** A canary Rollout: half, then the given step (an analysis of template `score`, or a pause). */
function rollout(name: string, step: string, image = `${REGISTRY}/${name}:0`): string {
  return canaryRollout(name, image, { steps: [step] })
}

/** Two measurements a second apart; the first below 90 fails the run (failureLimit 0). */
function analysisTemplate(url: string): string {
  return `apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: score}
spec:
  metrics:
  - name: score
    interval: 1s
    count: 2
    failureLimit: 0
    successCondition: result.score >= 90
    provider:
      web:
        url: ${url}
        jsonPath: "{$.data}"
`
}

withCluster('Argo Rollouts: what the wait says (steps, analysis runs, first revision, a pause that times out)', () => {
  let ns = ''
  let controller: ArgoController | undefined
  let server: http.Server | undefined
  /** What the metric server answers: the test sets it before each deploy. */
  let score = 0
  inNamespace('k8s-argo-an', name => (ns = name))
  beforeAll(async () => {
    server = http.createServer((_request, response) => {
      response.setHeader('content-type', 'application/json')
      response.end(JSON.stringify({ data: { score } }))
    })
    await new Promise<void>(resolve => server!.listen(0, '127.0.0.1', resolve))
    controller = await startArgoRollouts(ns)
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/score`
    await kubectlOk(['-n', ns, 'apply', '-f', '-'], analysisTemplate(url))
  }, BUILD_TIMEOUT_MS)
  afterAll(async () => {
    await controller?.stop()
    await new Promise(resolve => server?.close(resolve))
  })

  const shop = () => templateDir({ 'shop.yaml': rollout('shop', 'analysis: {templates: [{templateName: score}]}') })

  it('says a Rollout applied for the first time is its first revision, which Argo makes Healthy without steps', async () => {
    const run = await deploy({ service: 'shop', 'image-tag': '1.0', template: shop(), namespace: ns })
    expectStatus(run, 'succeeded')
    expect(stateOf(run, 'Rollout/shop')).toMatch(/^ready: Healthy .*the first revision of this Rollout \(Argo runs no canary steps on a first deploy\)/)
  }, 120_000)

  it('fails a canary whose analysis fails, naming the step, the metric, its condition and the value measured; Argo aborted it', async () => {
    score = 42
    const run = await deploy({ service: 'shop', 'image-tag': '2.0', template: shop(), namespace: ns })
    expect(run.result?.status).toBe('rolled-back')
    const reasons = run.result!.reasons.join('\n')
    expect(reasons).toMatch(/Rollout\/shop Degraded: RolloutAborted/)
    expect(reasons).toMatch(/failed at step 2\/2: analysis \(score\)/)
    expect(reasons).toMatch(/analysis run shop-[^ ]+ Failed; metric "score" Failed/)
    expect(reasons).toMatch(/successCondition `result.score >= 90`.*last measurements: Failed value \{"score":42\}/)
    expect(reasons).toMatch(/Argo aborted the update: its own rollback/)
    const live = await getJson<{ status: { abort?: boolean; stableRS?: string } }>(ns, 'rollout.argoproj.io', 'shop')
    expect(live.status.abort).toBe(true)
  }, 120_000)

  it('follows a passing analysis to Healthy, with a progress line per step and for the analysis run', async () => {
    score = 99
    const run = await deploy({ service: 'shop', 'image-tag': '3.0', template: shop(), namespace: ns })
    expectStatus(run, 'succeeded')
    expect(stateOf(run, 'Rollout/shop')).toMatch(/^ready: Healthy/)
    expect(stateOf(run, 'Rollout/shop')).not.toMatch(/first revision/)
    expect(run.log).toMatch(/Rollout\/shop: step 1\/2: setWeight 50% \(stable \d+, canary \d+/)
    expect(run.log).toMatch(/Rollout\/shop: analysis run shop-\S+: (Running|Successful): metric "score"/)
    const live = await getJson<{ status: { phase?: string; stableRS?: string; currentPodHash?: string } }>(ns, 'rollout.argoproj.io', 'shop')
    expect(live.status.phase).toBe('Healthy')
    expect(live.status.stableRS).toBe(live.status.currentPodHash)
  }, 120_000)

  it('rolls back every Rollout of ours in the set by Argo\'s abort when one of them fails its analysis', async () => {
    const files = (tag: string) => templateDir({ 'a-duo.yaml': rollout('duo', 'analysis: {templates: [{templateName: score}]}'), 'b-side.yaml': rollout('side', 'pause: {}', `${REGISTRY}/side:${tag}`) })
    expectStatus(await deploy({ service: 'duo', 'image-tag': '1.0', template: files('1.0'), namespace: ns }), 'succeeded')
    score = 42
    const run = await deploy({ service: 'duo', 'image-tag': '2.0', template: files('2.0'), namespace: ns })
    expect(run.result?.status).toBe('rolled-back')
    expect(run.result!.reasons.join('\n')).toMatch(/Rollout\/duo Degraded: RolloutAborted.*metric "score" Failed/)
    expect(run.log).toMatch(/aborted rollout\/duo \(Argo's rollback/)
    expect(run.log).toMatch(/aborted rollout\/side \(Argo's rollback/)
    for (const name of ['duo', 'side']) {
      const live = await getJson<{ status: { abort?: boolean; updatedReplicas?: number; availableReplicas?: number } }>(ns, 'rollout.argoproj.io', name)
      expect(live.status.abort).toBe(true)
      // Back to the stable ReplicaSet: no pod of the aborted revision left, both stable pods available.
      expect(live.status.updatedReplicas ?? 0).toBe(0)
      expect(live.status.availableReplicas).toBe(2)
    }
  }, 120_000)

  it('says once that the kubeconfig may not read AnalysisRuns, and follows the Rollout by its status alone', async () => {
    // The limited user may deploy and follow a Rollout, but not read AnalysisRuns.
    await kubectlOk(['-n', ns, 'apply', '-f', '-'], `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: rollout-deployer}
rules:
- {apiGroups: [argoproj.io], resources: [rollouts, rollouts/status], verbs: [get, list, watch, create, patch]}
- {apiGroups: [apps], resources: [deployments, replicasets, controllerrevisions], verbs: [get, list, watch]}
- {apiGroups: [""], resources: [pods, pods/log, events], verbs: [get, list, watch]}
- {apiGroups: [autoscaling], resources: [horizontalpodautoscalers], verbs: [list]}
- {apiGroups: [flagger.app], resources: [canaries], verbs: [list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rollout-deployer}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: rollout-deployer}
subjects: [{kind: User, name: limited, apiGroup: rbac.authorization.k8s.io}]
`)
    const files = () => templateDir({ 'lim.yaml': rollout('lim', 'analysis: {templates: [{templateName: score}]}') })
    expectStatus(await deploy({ service: 'lim', 'image-tag': '1.0', template: files(), namespace: ns }), 'succeeded')
    score = 99
    const run = await deploy({ service: 'lim', 'image-tag': '2.0', template: files(), namespace: ns }, { KUBECONFIG: limitedKubeconfigPath() })
    expectStatus(run, 'succeeded')
    expect(run.lines.filter(l => l.includes('cannot read AnalysisRuns')).length).toBe(1)
    expect(run.log).toMatch(/cannot read AnalysisRuns \(.*forbidden.*\); the wait goes on by the Rollouts' status alone/)
  }, 120_000)

  it('times out at an indefinite pause with on-pause: wait, saying it waits there, and rolls back by Argo\'s abort', async () => {
    const held = () => templateDir({ 'held.yaml': rollout('held', 'pause: {}') })
    expectStatus(await deploy({ service: 'held', 'image-tag': '1.0', template: held(), namespace: ns }), 'succeeded')
    const run = await deploy({ service: 'held', 'image-tag': '2.0', template: held(), namespace: ns, 'on-pause': 'wait', timeout: '15s' })
    if (run.result?.status !== 'rolled-back') throw new Error(`${run.result?.status}: ${run.result?.message}\n${run.log}\n${String(run.error)}`)
    expect(run.result?.status).toBe('rolled-back')
    const said = `${run.result?.message ?? ''}\n${run.result!.reasons.join('\n')}`
    expect(said).toMatch(/the rollout did not finish within 15s/)
    expect(said).toMatch(/Rollout\/held: Paused: CanaryPauseStep \(step 1\/2 done, now 2: pause without a duration \(waits to be promoted\)/)
    expect(run.log).toMatch(/aborted rollout\/held \(Argo's rollback/)
    const live = await getJson<{ status: { abort?: boolean; stableRS?: string; updatedReplicas?: number } }>(ns, 'rollout.argoproj.io', 'held')
    expect(live.status.abort).toBe(true)
  }, 120_000)
})
