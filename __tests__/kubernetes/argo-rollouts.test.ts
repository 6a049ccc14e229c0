// Argo Rollouts' Rollout applied by a deploy, followed by Argo's own rules against the real controller
// (argo-controller.ts builds and runs it): a canary whose steps (setWeight, a timed pause) complete is a
// success; one whose new pods crash ends Degraded (ProgressDeadlineExceeded) and fails naming it; another
// apply that replaces our pod template while we wait is `superseded`, not a verdict on someone else's revision.
import { expect, it } from '@jest/globals'
import { canaryRollout, inArgoNamespace } from './argo-controller.js'
import { deploy, deployment, expectStatus, getJson, kubectlOk, stateOf, templateDir, until, withCluster, type Run } from './cluster.js'

const REGISTRY = 'registry.local/shop'

/** A canary Rollout beside the service's Deployment: two replicas, half then all, a pause between. */
function rollout(name: string, image: string, options: { pause?: string; deadline?: number } = {}): string {
  return canaryRollout(name, image, { steps: [`pause: ${options.pause ?? '{duration: 2s}'}`], deadline: options.deadline })
}

function template(rolloutImage: string, options: { pause?: string; deadline?: number } = {}): string {
  return templateDir({ 'a-web.yaml': deployment('web', `${REGISTRY}/web:1.0`, { replicas: 1 }), 'b-canary.yaml': rollout('canary', rolloutImage, options) })
}

const liveRollout = (ns: string) => getJson<{ spec: { template: { spec: { containers: Array<{ image: string }> } } }; status: { phase?: string; stableRS?: string; currentPodHash?: string; message?: string } }>(ns, 'rollout.argoproj.io', 'canary')

withCluster('Argo Rollouts: a Rollout followed by its controller for our revision', () => {
  let ns = ''
  inArgoNamespace('k8s-argo', name => (ns = name))

  it('waits through a canary (setWeight 50, pause 2s) of our new revision until Healthy, then succeeds', async () => {
    // First deploy: no stable revision yet, so Argo goes straight to Healthy without steps.
    const first = await deploy({ service: 'web', 'image-tag': '1.0', template: template(`${REGISTRY}/canary:1.0`), namespace: ns })
    expectStatus(first, 'succeeded')
    expect(stateOf(first, 'Rollout/canary')).toMatch(/^ready: Healthy/)

    const second = await deploy({ service: 'web', 'image-tag': '1.0', template: template(`${REGISTRY}/canary:2.0`), namespace: ns })
    expectStatus(second, 'succeeded')
    expect(stateOf(second, 'Rollout/canary')).toMatch(/^ready: Healthy/)
    // The wait went through the canary's pause (Argo's phase Paused, CanaryPauseStep) before it ended.
    const paused = second.lines.findIndex(l => l.includes('Rollout/canary: Paused: CanaryPauseStep (step 1/2'))
    expect(paused).toBeGreaterThan(-1)
    expect(second.lines.findIndex(l => l.includes('rolled out:'))).toBeGreaterThan(paused)
    const live = await liveRollout(ns)
    // Done means our revision is the stable one: the steps ran to the end, not just the first 50%.
    expect(live.spec.template.spec.containers[0].image).toBe(`${REGISTRY}/canary:2.0`)
    expect(live.status.phase).toBe('Healthy')
    expect(live.status.stableRS).toBe(live.status.currentPodHash)
  }, 180_000)

  it('accepts a Rollout named as the service: the new image goes into its pod template, and its canary is followed to Healthy', async () => {
    const files = () => templateDir({ 'shop.yaml': rollout('shop', `${REGISTRY}/shop:0`) })
    const first = await deploy({ service: 'shop', 'image-tag': '1.0', template: files(), namespace: ns })
    expectStatus(first, 'succeeded')
    const second = await deploy({ service: 'shop', 'image-tag': '2.0', template: files(), namespace: ns })
    expectStatus(second, 'succeeded')
    expect(stateOf(second, 'Rollout/shop')).toMatch(/^ready: Healthy/)
    expect(second.lines.some(l => l.includes('Rollout/shop: Paused: CanaryPauseStep'))).toBe(true)
    const live = await getJson<{ spec: { template: { spec: { containers: Array<{ image: string }> } } }; status: { stableRS?: string; currentPodHash?: string } }>(ns, 'rollout.argoproj.io', 'shop')
    expect(live.spec.template.spec.containers[0].image).toBe(`${REGISTRY}/shop:2.0`)
    expect(live.status.stableRS).toBe(live.status.currentPodHash)
  }, 180_000)

  it('with on-pause: exit, ends with status paused at a canary pause without a duration, saying how to promote it', async () => {
    const files = () => templateDir({ 'held.yaml': rollout('held', `${REGISTRY}/held:0`, { pause: '{}' }) })
    expectStatus(await deploy({ service: 'held', 'image-tag': '1.0', template: files(), namespace: ns, 'on-pause': 'exit' }), 'succeeded')
    const run = await deploy({ service: 'held', 'image-tag': '2.0', template: files(), namespace: ns, 'on-pause': 'exit' })
    expectStatus(run, 'paused')
    expect(`${run.result?.message ?? ''}\n${run.result!.reasons.join('\n')}\n${run.log}`).toMatch(/Rollout\/held paused at canary step 2\/2 \(pause without a duration\): promote it with `kubectl argo rollouts promote held`/)
    const live = await getJson<{ status: { phase?: string; currentStepIndex?: number } }>(ns, 'rollout.argoproj.io', 'held')
    expect(live.status.phase).toBe('Paused')
    expect(live.status.currentStepIndex).toBe(1)
  }, 180_000)

  it('with on-pause: continue, promotes our Rollout at its pause (proved ours by a fresh read) and follows it to Healthy', async () => {
    const files = () => templateDir({ 'go.yaml': rollout('go', `${REGISTRY}/go:0`, { pause: '{}' }) })
    expectStatus(await deploy({ service: 'go', 'image-tag': '1.0', template: files(), namespace: ns, 'on-pause': 'continue' }), 'succeeded')
    const run = await deploy({ service: 'go', 'image-tag': '2.0', template: files(), namespace: ns, 'on-pause': 'continue' })
    expectStatus(run, 'succeeded')
    expect(run.log).toMatch(/on-pause: continue: promoted rollout\/go past its pause/)
    const live = await getJson<{ spec: { template: { spec: { containers: Array<{ image: string }> } } }; status: { phase?: string; stableRS?: string; currentPodHash?: string } }>(ns, 'rollout.argoproj.io', 'go')
    expect(live.spec.template.spec.containers[0].image).toBe(`${REGISTRY}/go:2.0`)
    expect(live.status.phase).toBe('Healthy')
    expect(live.status.stableRS).toBe(live.status.currentPodHash)
  }, 180_000)

  it('fails when the new revision\'s pods crash and Argo declares the Rollout Degraded, naming the reason, and rolls back by Argo\'s abort', async () => {
    const run = await deploy({ service: 'web', 'image-tag': '1.0', template: template(`${REGISTRY}/canary-crashloop:3.0`, { deadline: 10 }), namespace: ns, timeout: '2m' })
    expect(run.result?.status).toBe('rolled-back')
    const reasons = run.result!.reasons.join('\n')
    expect(reasons).toMatch(/Rollout\/canary Degraded: ProgressDeadlineExceeded/)
    expect(run.log).toMatch(/aborted rollout\/canary \(Argo's rollback/)
    const live = await getJson<{ status: { abort?: boolean; phase?: string; message?: string; updatedReplicas?: number; availableReplicas?: number } }>(ns, 'rollout.argoproj.io', 'canary')
    expect(live.status.abort).toBe(true)
    expect(live.status.phase).toBe('Degraded')
    expect(live.status.message).toMatch(/RolloutAborted/)
    expect(live.status.availableReplicas).toBe(2)
  }, 180_000)

  it('reports superseded when another apply replaces our pod template while the canary is paused', async () => {
    const running = deploy({ service: 'web', 'image-tag': '1.0', template: template(`${REGISTRY}/canary:4.0`, { pause: '{}' }), namespace: ns, timeout: '2m' })
    let ended: Run | undefined
    void running.then(r => (ended = r))
    await until('our canary paused at its indefinite pause', async () => ended !== undefined || (await liveRollout(ns)).status.phase === 'Paused')
    if (ended) throw new Error(`the deploy ended before the pause: ${ended.result?.status}\n${ended.log}`)
    await kubectlOk(['-n', ns, 'patch', 'rollout.argoproj.io', 'canary', '--type=json', '-p', `[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"${REGISTRY}/canary:5.0"}]`])
    const run = await running
    expectStatus(run, 'superseded')
    expect(run.result!.reasons.join('\n') + (run.result?.message ?? '')).toMatch(/Rollout\/canary its pod template was replaced by another revision/)
  }, 180_000)
})
