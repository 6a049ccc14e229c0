// Argo Rollouts across jobs, against the real controller (argo-controller.ts): a deploy that exits at a
// pause (on-pause: exit) and a second run with mode continue that promotes it; mode rollback that aborts a
// paused Rollout or puts a Healthy one back to its previous revision (the plugin's undo); on-pause: verify,
// which checks at the pause, then promotes, or fails and aborts.
import { expect, it } from '@jest/globals'
import { canaryRollout, inArgoNamespace } from './argo-controller.js'
import { deploy, expectStatus, getJson, kubeconfig, kubectlOk, templateDir, withCluster } from './cluster.js'
import { parseInputs } from '../../src/inputs.js'
import { createKubernetesPlatform } from '../../src/platforms/kubernetes/index.js'
import { NotOurs } from '../../src/rollout/ownership.js'
import { Progress } from '../../src/rollout/progress.js'

const REGISTRY = 'registry.local/shop'

/** A canary Rollout named as the service: half of two replicas, then a pause without a duration. */
function files(name: string): string {
  return templateDir({ [`${name}.yaml`]: canaryRollout(name, `${REGISTRY}/${name}:0`, { steps: ['pause: {}'] }) })
}

interface LiveRollout {
  metadata: { resourceVersion: string; generation: number }
  spec: { template: { spec: { containers: Array<{ image: string }> } } }
  status: { phase?: string; abort?: boolean; stableRS?: string; currentPodHash?: string; currentStepIndex?: number; availableReplicas?: number; updatedReplicas?: number }
}

withCluster('Argo Rollouts: pauses across jobs (mode continue), mode rollback, on-pause verify', () => {
  let ns = ''
  inArgoNamespace('k8s-argo-modes', name => (ns = name))
  const live = (name: string) => getJson<LiveRollout>(ns, 'rollout.argoproj.io', name)
  /** Deploys `tag` (first deploy: Healthy at once), then `next`, which stops at the pause with on-pause: exit. */
  async function pausedAt(name: string, tag: string, next: string): Promise<void> {
    expectStatus(await deploy({ service: name, 'image-tag': tag, template: files(name), namespace: ns }), 'succeeded')
    expectStatus(await deploy({ service: name, 'image-tag': next, template: files(name), namespace: ns, 'on-pause': 'exit' }), 'paused')
    expect((await live(name)).status.phase).toBe('Paused')
  }

  it('a pause left by on-pause: exit is promoted by mode continue in a second run and followed to Healthy; mode rollback then puts the previous revision back', async () => {
    await pausedAt('held', '1.0', '2.0')
    // A dry run says what it would promote, and promotes nothing.
    const planned = await deploy({ service: 'held', mode: 'continue', namespace: ns, 'dry-run': 'true' })
    expectStatus(planned, 'dry-run')
    expect(planned.result?.diff).toMatch(/would promote rollout\/held \(phase Paused \(CanaryPauseStep\), at step 2\/2/)
    expect((await live('held')).status.phase).toBe('Paused')
    const run = await deploy({ service: 'held', mode: 'continue', namespace: ns })
    expectStatus(run, 'succeeded')
    expect(run.log).toMatch(/mode 'continue': promoted rollout\/held past its pause/)
    const promoted = await live('held')
    expect(promoted.spec.template.spec.containers[0].image).toBe(`${REGISTRY}/held:2.0`)
    expect(promoted.status.phase).toBe('Healthy')
    expect(promoted.status.stableRS).toBe(promoted.status.currentPodHash)

    // Healthy: back to the previous ReplicaSet's template, through its canary steps again (promoted at the pause).
    const back = await deploy({ service: 'held', mode: 'rollback', namespace: ns, 'on-pause': 'continue' })
    expectStatus(back, 'succeeded')
    expect(back.log).toMatch(/rollout\/held: put the pod template of revision 1 back/)
    const restored = await live('held')
    expect(restored.spec.template.spec.containers[0].image).toBe(`${REGISTRY}/held:1.0`)
    expect(restored.status.phase).toBe('Healthy')
    expect(restored.status.stableRS).toBe(restored.status.currentPodHash)
  }, 180_000)

  it('without a template, patches the image of the live Rollout named as the service and follows its canary to Healthy', async () => {
    expectStatus(await deploy({ service: 'solo', 'image-tag': '1.0', template: files('solo'), namespace: ns }), 'succeeded')
    const run = await deploy({ service: 'solo', 'image-tag': '2.0', namespace: ns, 'on-pause': 'continue' })
    expectStatus(run, 'succeeded')
    expect(run.log).toMatch(/image-only change of the live Rollout/)
    expect(run.log).toMatch(/on-pause: continue: promoted rollout\/solo past its pause/)
    expect(run.result?.images[0]?.previous).toBe(`${REGISTRY}/solo:1.0`)
    const after = await live('solo')
    expect(after.spec.template.spec.containers[0].image).toBe(`${REGISTRY}/solo:2.0`)
    expect(after.status.phase).toBe('Healthy')
    expect(after.status.stableRS).toBe(after.status.currentPodHash)
  }, 120_000)

  it('mode continue on a Rollout that waits at no pause fails naming mode and what it found, and changes nothing', async () => {
    expectStatus(await deploy({ service: 'steady', 'image-tag': '1.0', template: files('steady'), namespace: ns }), 'succeeded')
    const before = await live('steady')
    const run = await deploy({ service: 'steady', mode: 'continue', namespace: ns })
    expect(run.result?.status).not.toBe('succeeded')
    expect(`${run.error?.message ?? ''}${run.result?.message ?? ''}`).toMatch(/mode.*'continue' promotes rollout\/steady at a pause without a duration, but it waits at none: phase Healthy/)
    const after = await live('steady')
    expect(after.metadata.generation).toBe(before.metadata.generation)
    expect(after.status.phase).toBe('Healthy')
  }, 120_000)

  it('mode rollback of a Rollout paused mid-update aborts it: the stable ReplicaSet serves again', async () => {
    await pausedAt('back', '1.0', '2.0')
    const run = await deploy({ service: 'back', mode: 'rollback', namespace: ns })
    expectStatus(run, 'succeeded')
    expect(run.log).toMatch(/aborted rollout\/back \(Argo's rollback/)
    // What serves again is the stable ReplicaSet's image: the run's image outputs say so.
    expect(run.result?.images).toEqual([{ container: 'back', previous: `${REGISTRY}/back:2.0`, next: `${REGISTRY}/back:1.0` }])
    const aborted = await live('back')
    expect(aborted.status.abort).toBe(true)
    expect(aborted.status.updatedReplicas ?? 0).toBe(0)
    expect(aborted.status.availableReplicas).toBe(2)
  }, 180_000)

  it('on-pause: verify runs the check at the pause: passing, the Rollout is promoted to Healthy; failing, the run fails naming it and aborts the Rollout', async () => {
    expectStatus(await deploy({ service: 'check', 'image-tag': '1.0', template: files('check'), namespace: ns }), 'succeeded')
    const passed = await deploy({ service: 'check', 'image-tag': '2.0', template: files('check'), namespace: ns, 'on-pause': 'verify', 'verify-command': 'true' })
    expectStatus(passed, 'succeeded')
    expect(passed.log).toMatch(/verification at the pause passed: promoting it/)
    expect(passed.log).toMatch(/on-pause: verify: promoted rollout\/check past its pause/)
    expect((await live('check')).status.phase).toBe('Healthy')

    const failed = await deploy({ service: 'check', 'image-tag': '3.0', template: files('check'), namespace: ns, 'on-pause': 'verify', 'verify-command': 'echo canary-is-broken; exit 3' })
    expect(failed.result?.status).toBe('rolled-back')
    expect(failed.result!.reasons.join('\n')).toMatch(/Rollout\/check verification at the pause failed: verify-command exited with code 3/)
    expect(failed.log).toMatch(/aborted rollout\/check \(Argo's rollback/)
    const aborted = await live('check')
    expect(aborted.status.abort).toBe(true)
    expect(aborted.status.stableRS).not.toBe(aborted.status.currentPodHash)
    expect(aborted.spec.template.spec.containers[0].image).toBe(`${REGISTRY}/check:3.0`)
  }, 180_000)

  it('mode rollback planned on a Rollout that another deploy changes before the apply is refused as NotOurs, superseded, and the Rollout is left as they made it', async () => {
    await pausedAt('moved', '1.0', '2.0')
    const request = parseInputs({ GITHUB_SHA: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678', INPUT_SERVICE: 'moved', INPUT_MODE: 'rollback', INPUT_NAMESPACE: ns, INPUT_PLATFORM: 'kubernetes' })
    const previous = process.env.KUBECONFIG
    process.env.KUBECONFIG = kubeconfig
    try {
      const plan = await createKubernetesPlatform(request).prepareRollback()
      // Someone else's deploy lands between the plan (an abort of our paused revision) and its apply.
      await kubectlOk(['-n', ns, 'patch', 'rollout.argoproj.io', 'moved', '--type=json', '-p', JSON.stringify([{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: `${REGISTRY}/moved:someone-else` }])])
      const refused = await plan.apply(new Progress({ info: () => {}, warning: () => {} }), new AbortController().signal).then(
        () => undefined,
        (error: unknown) => error
      )
      expect(refused).toBeInstanceOf(NotOurs)
      expect((refused as NotOurs).superseded).toBe(true)
      expect((refused as NotOurs).found).toMatch(/rollout\/moved/)
    } finally {
      if (previous === undefined) delete process.env.KUBECONFIG
      else process.env.KUBECONFIG = previous
    }
    const after = await live('moved')
    expect(after.spec.template.spec.containers[0].image).toBe(`${REGISTRY}/moved:someone-else`)
    expect(after.status.abort).not.toBe(true)
  }, 180_000)
})
