// Whose rollout, on the local cluster: another apply or a `kubectl rollout` while we wait. We follow
// our revision; someone else's template makes the run `superseded` (nothing undone), a restart of
// our own template is followed; the undo itself refuses a revision that is not ours. Also the
// revision numbers a rollback names and the images previous-image reports.
import { expect, it } from '@jest/globals'
import type { KubernetesObject } from '@kubernetes/client-node'
import fs from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { parseInputs } from '../../src/inputs.js'
import { KubeApi, loadKubeConfig } from '../../src/platforms/kubernetes/api/client.js'
import { createKubernetesPlatform } from '../../src/platforms/kubernetes/index.js'
import { KubernetesRollout } from '../../src/platforms/kubernetes/workloads/rollout.js'
import { madeBy } from '../../src/platforms/kubernetes/workloads/tracked.js'
import { outputsOf } from '../../src/report/outputs.js'
import { Deadline } from '../../src/rollout/deadline.js'
import { Progress } from '../../src/rollout/progress.js'
import { deploy, deployment, expectStatus, getJson, kubeconfig, kubectlOk, templateDir, withCluster, until, inNamespace } from './cluster.js'

const REGISTRY = 'registry.local/shop'

withCluster('whose rollout: changes by others while we wait', () => {
  let ns = ''
  inNamespace('k8s-whose', name => (ns = name))

  const live = (name: string) => getJson(ns, 'deployment', name)
  const imageOf = async (name: string): Promise<string> => (await live(name)).spec.template.spec.containers[0].image as string
  const revisionOf = async (name: string): Promise<string> => (await live(name)).metadata.annotations['deployment.kubernetes.io/revision'] as string

  it('a second apply (another image) during our wait supersedes us: named with its change-cause, nothing undone', async () => {
    const name = 'raced'
    const template = templateDir({ 'web.yaml': deployment(name, `${REGISTRY}/${name}:1.0`) })
    expectStatus(await deploy({ service: name, 'image-tag': '1.0', template, namespace: ns }), 'succeeded')
    // Our revision becomes ready only after 30 s: time for the other deploy to land meanwhile.
    const slow = templateDir({ 'web.yaml': deployment(name, `${REGISTRY}/${name}:1.0`, { annotations: '{deploy-service.test/ready-after: "30s"}' }) })
    const running = deploy({ service: name, 'image-tag': '2.0', template: slow, namespace: ns, timeout: '2m' })
    await until('our apply landed', async () => (await imageOf(name)) === `${REGISTRY}/${name}:2.0`)
    const hotfix = deployment(name, `${REGISTRY}/${name}:hotfix`).replace(`name: ${name}\n`, `name: ${name}\n  annotations: {kubernetes.io/change-cause: "hotfix by alice"}\n`)
    await kubectlOk(['-n', ns, 'apply', '--server-side', '--field-manager=alice', '--force-conflicts', '-f', '-'], hotfix)
    const run = await running
    expectStatus(run, 'superseded')
    expect(run.result?.revision).toBe('2')
    expect(run.result?.message).toMatch(/deployment\/raced moved on to revision 3 \(raced=registry\.local\/shop\/raced:hotfix\), which is not ours \(revision 2\): change-cause: hotfix by alice; its template was last changed by field manager "alice \(Apply\)"/)
    expect(run.result?.message).toMatch(/nothing was rolled back/)
    expect(run.result?.rollback).toBeUndefined()
    // The other revision is still live, and no revision came after it.
    await new Promise(resolve => setTimeout(resolve, 2000))
    expect(await imageOf(name)).toBe(`${REGISTRY}/${name}:hotfix`)
    expect(await revisionOf(name)).toBe('3')
  }, 240_000)

  it('a StatefulSet moved to another template during our wait is superseded, its revision read from ControllerRevisions', async () => {
    const name = 'raced-db'
    const sts = (image: string, annotations?: string) => deployment(name, image, { kind: 'StatefulSet', replicas: 1, annotations })
    expectStatus(await deploy({ service: name, 'image-tag': '1.0', template: templateDir({ 'db.yaml': sts(`${REGISTRY}/${name}:1.0`) }), namespace: ns }), 'succeeded')
    const running = deploy({ service: name, 'image-tag': '2.0', template: templateDir({ 'db.yaml': sts(`${REGISTRY}/${name}:1.0`, '{deploy-service.test/ready-after: "30s"}') }), namespace: ns, timeout: '2m' })
    const liveImage = async () => (await getJson(ns, 'statefulset', name)).spec.template.spec.containers[0].image as string
    await until('our apply landed', async () => (await liveImage()) === `${REGISTRY}/${name}:2.0`)
    await kubectlOk(['-n', ns, 'apply', '--server-side', '--field-manager=carol', '--force-conflicts', '-f', '-'], sts(`${REGISTRY}/${name}:hotfix`))
    const run = await running
    expectStatus(run, 'superseded')
    expect(run.result?.message).toMatch(/statefulset\/raced-db moved on to revision 3 \(raced-db=registry\.local\/shop\/raced-db:hotfix\), which is not ours \(revision 2\): .*field manager "carol \(Apply\)"/)
    expect(await liveImage()).toBe(`${REGISTRY}/${name}:hotfix`)
  }, 240_000)

  it('kubectl rollout restart during our wait is followed: the new revision has our template, success says so', async () => {
    const name = 'restarted'
    const slow = templateDir({ 'web.yaml': deployment(name, `${REGISTRY}/${name}:1.0`, { annotations: '{deploy-service.test/ready-after: "10s"}' }) })
    expectStatus(await deploy({ service: name, 'image-tag': '1.0', template: slow, namespace: ns }), 'succeeded')
    const running = deploy({ service: name, 'image-tag': '2.0', template: slow, namespace: ns, timeout: '2m' })
    // Restart only once our revision has its number: the run has settled on revision 2 by then.
    await until('our revision 2 is numbered', async () => (await imageOf(name)) === `${REGISTRY}/${name}:2.0` && (await revisionOf(name)) === '2')
    await new Promise(resolve => setTimeout(resolve, 1000))
    await kubectlOk(['-n', ns, 'rollout', 'restart', `deployment/${name}`])
    const run = await running
    expectStatus(run, 'succeeded')
    expect(run.result?.message).toMatch(/deployment\/restarted was restarted \(kubectl rollout restart\) while we waited: revision 3 has our pod template with fresh pods, so it was followed instead of revision 2/)
    expect(await imageOf(name)).toBe(`${REGISTRY}/${name}:2.0`)
    expect(await revisionOf(name)).toBe('3')
  }, 240_000)

  it('our rollback superseded by another apply is superseded too, and nothing more is undone', async () => {
    const name = 'rollback-raced'
    // Revision 1 becomes ready only after 20 s, and Recreate removes its pods before the failing
    // revision starts: the rollback to it waits long enough to be raced.
    const recreate = (image: string) =>
      deployment(name, image, { replicas: 1, annotations: '{deploy-service.test/ready-after: "20s"}' }).replace('strategy: {rollingUpdate: {maxUnavailable: 0, maxSurge: 1}}', 'strategy: {type: Recreate}')
    const slow = templateDir({ 'web.yaml': recreate(`${REGISTRY}/${name}:1.0`) })
    expectStatus(await deploy({ service: name, 'image-tag': '1.0', template: slow, namespace: ns }), 'succeeded')
    const running = deploy({ service: name, 'image-tag': 'missing', template: slow, namespace: ns, timeout: '2m' })
    try {
      await until('our failing revision was applied', async () => (await imageOf(name)).endsWith(':missing'))
      await until('the rollback put revision 1 back', async () => (await imageOf(name)) === `${REGISTRY}/${name}:1.0`, 90_000)
    } catch (error) {
      const run = await running
      throw new Error(`${(error as Error).message}; the run ended ${run.result?.status ?? run.error?.message}:\n${run.log}`, { cause: error })
    }
    await new Promise(resolve => setTimeout(resolve, 1000))
    const hotfix = recreate(`${REGISTRY}/${name}:hotfix`).replace(`name: ${name}\n`, `name: ${name}\n  annotations: {kubernetes.io/change-cause: "hotfix by bob"}\n`)
    await kubectlOk(['-n', ns, 'apply', '--server-side', '--field-manager=bob', '--force-conflicts', '-f', '-'], hotfix)
    const run = await running
    expectStatus(run, 'superseded')
    expect(run.result?.message).toMatch(/the rollback to deployment\/rollback-raced revision 1, now revision 3 was superseded by another deploy \(deployment\/rollback-raced moved on to (revision 4|a new revision \(not numbered yet\)) \(rollback-raced=registry\.local\/shop\/rollback-raced:hotfix\), which is not ours \(revision 3\): change-cause: hotfix by bob/)
    await new Promise(resolve => setTimeout(resolve, 2000))
    expect(await imageOf(name)).toBe(`${REGISTRY}/${name}:hotfix`)
    expect(await revisionOf(name)).toBe('4')
  }, 240_000)

  // Both ways a workload numbers revisions: a Deployment's ReplicaSets, a StatefulSet's ControllerRevisions.
  it.each(['Deployment', 'StatefulSet'])("another apply that lands between our apply and our first read is never taken for ours (%s)", async kind => {
    const name = `raced-early-${kind.toLowerCase()}`
    const yaml = (image: string) => deployment(name, image, { kind, replicas: 1, annotations: '{deploy-service.test/ready-after: "20s"}' })
    // How many revisions the controller has numbered so far.
    const numbered = async (): Promise<number> =>
      kind === 'Deployment'
        ? Number((await getJson(ns, 'deployment', name)).metadata.annotations?.['deployment.kubernetes.io/revision'] ?? 0)
        : (await getJson<{ items: unknown[] }>(ns, 'controllerrevisions', '-l', `app=${name}`)).items.length
    await kubectlOk(['-n', ns, 'apply', '--server-side', '--field-manager=deploy-service', '-f', '-'], yaml(`${REGISTRY}/${name}:1.0`))
    await until('the first revision is numbered', async () => (await numbered()) === 1)
    const api = new KubeApi(loadKubeConfig({ kubeconfig: fs.readFileSync(kubeconfig, 'utf8'), fieldManager: 'deploy-service', forceConflicts: false, helmValues: [], helmSet: {}, prune: false, waitForLoadBalancers: true }))
    // Our apply, as the platform makes it; its answer is what "ours" means.
    const object = parseYaml(yaml(`${REGISTRY}/${name}:2.0`)) as KubernetesObject
    object.metadata = { ...object.metadata, namespace: ns }
    const answer = await api.apply(object, { fieldManager: 'deploy-service', force: false, dryRun: false })
    await until('our revision is numbered', async () => (await numbered()) === 2)
    // Someone else's apply lands before we read the workload for the first time.
    await kubectlOk(['-n', ns, 'apply', '--server-side', '--field-manager=alice', '--force-conflicts', '-f', '-'], yaml(`${REGISTRY}/${name}:hotfix`))
    await until('their revision is numbered', async () => (await numbered()) === 3)
    const rollout = await KubernetesRollout.settle(api, [madeBy({ kind, name, namespace: ns, previousRevision: 1 }, answer)], 'deploy-service')
    expect(rollout.revision).toBe('2')
    const deadline = new Deadline(60_000)
    try {
      const outcome = await rollout.wait({ deadline, progress: new Progress({ info: () => {}, warning: () => {} }), cancel: new AbortController().signal })
      expect(outcome).toMatchObject({ state: 'superseded', reason: expect.stringMatching(new RegExp(`moved on to revision 3 \\(${name}=registry\\.local/shop/${name}:hotfix\\), which is not ours \\(revision 2\\)`)) })
    } finally {
      deadline.dispose()
    }
  }, 120_000)

  it('undo refuses when the live revision is not ours', async () => {
    const name = 'not-ours'
    const template = templateDir({ 'web.yaml': deployment(name, `${REGISTRY}/${name}:1.0`, { replicas: 1 }) })
    expectStatus(await deploy({ service: name, 'image-tag': '1.0', template, namespace: ns }), 'succeeded')
    const request = parseInputs({
      GITHUB_SHA: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
      INPUT_SERVICE: name,
      'INPUT_IMAGE-TAG': '2.0',
      INPUT_TEMPLATE: template,
      INPUT_NAMESPACE: ns,
      INPUT_PLATFORM: 'kubernetes'
    })
    const progress = new Progress({ info: () => {}, warning: () => {} })
    const previous = process.env.KUBECONFIG
    process.env.KUBECONFIG = kubeconfig
    const platform = createKubernetesPlatform(request)
    const plan = await platform.prepareDeploy().finally(() => {
      if (previous === undefined) delete process.env.KUBECONFIG
      else process.env.KUBECONFIG = previous
    })
    const rollout = await plan.apply(progress, new AbortController().signal)
    await kubectlOk(['-n', ns, 'set', 'image', `deployment/${name}`, `${name}=${REGISTRY}/${name}:someone-else`])
    await until('the other revision is numbered', async () => (await revisionOf(name)) === '3')
    const deadline = new Deadline(60_000)
    try {
      // A NotOurs (issue 16), so that the engine reports the step as superseded.
      await expect(rollout.undo({ deadline, progress, cancel: new AbortController().signal })).rejects.toThrow(
        /did not roll back deployment\/not-ours: deployment\/not-ours moved on to revision 3 \(not-ours=registry\.local\/shop\/not-ours:someone-else\), which is not ours \(revision 2\): no change-cause of its own .*, so it is not ours to touch/
      )
    } finally {
      deadline.dispose()
    }
    expect(await imageOf(name)).toBe(`${REGISTRY}/${name}:someone-else`)
  }, 120_000)

  it('a rollback names the revision that came back and the number it has now', async () => {
    const name = 'renumbered'
    const template = templateDir({ 'web.yaml': deployment(name, `${REGISTRY}/${name}:1.0`, { replicas: 1 }) })
    expectStatus(await deploy({ service: name, 'image-tag': '1.0', template, namespace: ns }), 'succeeded')
    const failed = await deploy({ service: name, 'image-tag': 'missing', template, namespace: ns, timeout: '3m' })
    expectStatus(failed, 'rolled-back')
    expect(failed.result?.message).toMatch(/deployment\/renumbered revision 1, now revision 3 is back and healthy/)
    expect(failed.log).toMatch(/deployment\/renumbered: rolled back to revision 1, now revision 3/)
    // mode: rollback says the same.
    expectStatus(await deploy({ service: name, 'image-tag': '2.0', template, namespace: ns }), 'succeeded')
    const back = await deploy({ service: name, mode: 'rollback', namespace: ns })
    expectStatus(back, 'succeeded')
    expect(back.result?.message).toMatch(/rolled back to deployment\/renumbered revision 3, now revision 5/)
    expect(await imageOf(name)).toBe(`${REGISTRY}/${name}:1.0`)
  }, 300_000)

  it('previous-image is empty on a first deploy, and the image the live workload ran on later ones', async () => {
    const name = 'previous'
    const template = templateDir({ 'web.yaml': deployment(name, `${REGISTRY}/${name}:1.0`, { replicas: 1 }) })
    const first = await deploy({ service: name, 'image-tag': '1.1', template, namespace: ns })
    expectStatus(first, 'succeeded')
    expect(first.result?.images).toEqual([{ container: name, previous: '', next: `${REGISTRY}/${name}:1.1` }])
    expect(outputsOf(first.result!)['previous-image']).toBe('')
    // Someone ran another image since: that is what ran before, not the template's 1.0.
    await kubectlOk(['-n', ns, 'set', 'image', `deployment/${name}`, `${name}=${REGISTRY}/${name}:hot`])
    await kubectlOk(['-n', ns, 'rollout', 'status', `deployment/${name}`, '--timeout=60s'])
    // kubectl set image owns the image field now: taking it back is the user's explicit choice.
    const later = await deploy({ service: name, 'image-tag': '1.2', template, namespace: ns, 'force-conflicts': 'true' })
    expectStatus(later, 'succeeded')
    expect(outputsOf(later.result!)['previous-image']).toBe(`${REGISTRY}/${name}:hot`)
    expect(later.log).toMatch(new RegExp(`${name}: ${REGISTRY}/${name}:hot -> ${REGISTRY}/${name}:1\\.2`))
  }, 180_000)
})
