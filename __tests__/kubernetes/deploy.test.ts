// Deploys against the real local control plane: each workload kind, failures that fail fast and are
// rolled back with their reasons, all-or-nothing validation, conflicts, many workloads, no template,
// mode rollback and dry run.
import { expect, it } from '@jest/globals'
import { UserError } from '../../src/errors.js'
import { deploy, deployment, getJson, kubectl, kubectlOk, expectStatus, outcome, templateDir, withCluster, inNamespace } from './cluster.js'

const REGISTRY = 'registry.local/shop'

withCluster('kubernetes deploys on the local cluster', () => {
  let ns = ''
  inNamespace('k8s-deploy', name => (ns = name))

  const imageOf = async (kind: string, name: string): Promise<string> =>
    (await getJson(ns, kind, name)).spec.template.spec.containers[0].image as string

  it.each(['Deployment', 'StatefulSet', 'DaemonSet'])('rolls out a %s, then a new image, with revisions and the change cause', async kind => {
    const name = `happy-${kind.toLowerCase()}`
    const template = templateDir({ 'app.yaml': deployment(name, `${REGISTRY}/${name}:1.0`, { kind }) })
    const first = await deploy({ service: name, 'image-tag': '1.0', template, namespace: ns })
    expect(outcome(first)).toMatchObject({ status: 'succeeded', revision: '1' })
    const second = await deploy({ service: name, 'image-tag': '1.1', template, namespace: ns })
    expectStatus(second, 'succeeded')
    expect(outcome(second)).toMatchObject({ status: 'succeeded', revision: '2', previousRevision: '1' })
    expect(second.result?.images).toEqual([{ container: name, previous: `${REGISTRY}/${name}:1.0`, next: `${REGISTRY}/${name}:1.1` }])
    expect(await imageOf(kind, name)).toBe(`${REGISTRY}/${name}:1.1`)
    const live = await getJson(ns, kind, name)
    expect(live.metadata.annotations['kubernetes.io/change-cause']).toMatch(/1\.1 from commit a1b2c3d4e5f6 \(https:\/\/github\.com\/acme\/shop\/actions\/runs\/1001\)/)
    expect(second.log).toMatch(/rolled out: .*revision 2/)
  }, 180_000)

  it('fails fast on an image that cannot be pulled, explains why, and rolls back', async () => {
    const template = templateDir({ 'web.yaml': deployment('pull', `${REGISTRY}/pull:1.0`) })
    expect(outcome(await deploy({ service: 'pull', 'image-tag': '1.0', template, namespace: ns }))).toMatchObject({ status: 'succeeded' })
    const run = await deploy({ service: 'pull', 'image-tag': 'missing', template, namespace: ns, timeout: '5m' })
    expect(outcome(run)).toMatchObject({ status: 'rolled-back' })
    expect(run.result?.rollback).toMatchObject({ healthy: true })
    expect(run.result?.reasons.join('\n')).toMatch(/(ErrImagePull|ImagePullBackOff).*not found/)
    expect(run.log).toMatch(/rolled back to revision 1/)
    // Each reason once: the headline is not repeated as a detail with a few more words.
    const reasons = run.result!.reasons
    expect(reasons.filter((r, i) => reasons.some((other, j) => j !== i && other.startsWith(r.replace(/ \(this will not heal by itself\).*$/, ''))))).toEqual([])
    expect(await imageOf('deployment', 'pull')).toBe(`${REGISTRY}/pull:1.0`)
  }, 240_000)

  it('fails a crash loop with the log tail in the reasons, then rolls back', async () => {
    const template = templateDir({ 'web.yaml': deployment('crash', `${REGISTRY}/crash:1.0`, { replicas: 1 }) })
    expect(outcome(await deploy({ service: 'crash', 'image-tag': '1.0', template, namespace: ns }))).toMatchObject({ status: 'succeeded' })
    const run = await deploy({ service: 'crash', image: `${REGISTRY}/crashloop:2.0`, template, namespace: ns, timeout: '5m' })
    expect(outcome(run)).toMatchObject({ status: 'rolled-back' })
    const reasons = run.result!.reasons.join('\n')
    expect(reasons).toMatch(/CrashLoopBackOff: restarted \d+ times \(exit code 1/)
    expect(reasons).toMatch(/last log lines of pod crash-.*container crash/)
    expect(await imageOf('deployment', 'crash')).toBe(`${REGISTRY}/crash:1.0`)
  }, 240_000)

  it('applies nothing when one document of the set is invalid, and says where', async () => {
    const template = templateDir({
      'a-config.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: invalid-set-config\ndata: {a: "1"}\n',
      'b-web.yaml': deployment('invalid-set', `${REGISTRY}/web:1.0`).replace('replicas: 2', 'replicas: two')
    })
    const run = await deploy({ service: 'invalid-set', 'image-tag': '1.0', template, namespace: ns })
    expect(run.error).toBeInstanceOf(UserError)
    expect(run.error?.message).toMatch(/b-web\.yaml:1:1: could not apply Deployment\/invalid-set in namespace \S+ \(server dry run\): the server rejected it: .*\.spec\.replicas: expected numeric/)
    expect((await kubectl(['-n', ns, 'get', 'configmap', 'invalid-set-config'])).code).not.toBe(0)
    expect((await kubectl(['-n', ns, 'get', 'deployment', 'invalid-set'])).code).not.toBe(0)
  }, 120_000)

  it('refuses to take over fields another manager owns, unless force-conflicts', async () => {
    await kubectlOk(['-n', ns, 'apply', '--server-side', '--field-manager=helm', '-f', '-'], deployment('owned', `${REGISTRY}/owned:1.0`))
    const template = templateDir({ 'web.yaml': deployment('owned', `${REGISTRY}/owned:1.0`) })
    const run = await deploy({ service: 'owned', 'image-tag': '2.0', template, namespace: ns })
    expect(run.error?.message).toMatch(/conflict: field manager "helm" owns .*image.*Set force-conflicts: true/)
    expect(await imageOf('deployment', 'owned')).toBe(`${REGISTRY}/owned:1.0`)
    const forced = await deploy({ service: 'owned', 'image-tag': '2.0', template, namespace: ns, 'force-conflicts': 'true' })
    expectStatus(forced, 'succeeded')
    expect(await imageOf('deployment', 'owned')).toBe(`${REGISTRY}/owned:2.0`)
  }, 180_000)

  it('rolls out 20 workloads of one manifest set and waits for all of them', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `many-${i}`)
    const template = templateDir({ 'all.yaml': names.map(n => deployment(n, `${REGISTRY}/${n}:1.0`, { replicas: 1 })).join('---\n') })
    // The deploy's own timeout ends before jest's, so a stuck rollout shows its log.
    const run = await deploy({ service: 'many-0', 'image-tag': '1.0', template, namespace: ns, timeout: '3m' })
    expectStatus(run, 'succeeded')
    const list = await getJson<{ items: Array<{ metadata: { name: string }; status: { readyReplicas?: number } }> }>(ns, 'deployments')
    expect(list.items.filter(d => d.metadata.name.startsWith('many-') && d.status.readyReplicas === 1)).toHaveLength(20)
  }, 300_000)

  it('deploys an image with no template, then rolls back with mode rollback', async () => {
    await kubectlOk(['-n', ns, 'apply', '-f', '-'], deployment('bare', `${REGISTRY}/bare:1.0`))
    await kubectlOk(['-n', ns, 'rollout', 'status', 'deployment/bare', '--timeout=60s'])
    const run = await deploy({ service: 'bare', 'image-tag': '1.1', namespace: ns })
    expect(outcome(run)).toMatchObject({ status: 'succeeded', revision: '2', previousRevision: '1' })
    expect(await imageOf('deployment', 'bare')).toBe(`${REGISTRY}/bare:1.1`)
    const back = await deploy({ service: 'bare', mode: 'rollback', namespace: ns })
    expect(outcome(back)).toMatchObject({ status: 'succeeded', previousRevision: '2', revision: '3' })
    expect(await imageOf('deployment', 'bare')).toBe(`${REGISTRY}/bare:1.0`)
    const toTwo = await deploy({ service: 'bare', mode: 'rollback', 'to-revision': '2', namespace: ns })
    expect(outcome(toTwo)).toMatchObject({ status: 'succeeded' })
    expect(await imageOf('deployment', 'bare')).toBe(`${REGISTRY}/bare:1.1`)
  }, 240_000)

  it('shows a dry run with nothing changed, and changes nothing', async () => {
    const template = templateDir({ 'web.yaml': deployment('dry', `${REGISTRY}/dry:1.0`) })
    expect(outcome(await deploy({ service: 'dry', 'image-tag': '1.0', template, namespace: ns }))).toMatchObject({ status: 'succeeded' })
    const before = (await getJson(ns, 'deployment', 'dry')).metadata.resourceVersion
    const same = await deploy({ service: 'dry', 'image-tag': '1.0', template, namespace: ns, 'dry-run': 'true' })
    expect(same.result?.status).toBe('dry-run')
    expect(same.result?.diff).toMatch(/^no change/)
    const changed = await deploy({ service: 'dry', 'image-tag': '2.0', template, namespace: ns, 'dry-run': 'true' })
    expect(changed.result?.diff).toContain(`-        - image: ${REGISTRY}/dry:1.0`)
    expect(changed.result?.diff).toContain(`+        - image: ${REGISTRY}/dry:2.0`)
    expect((await getJson(ns, 'deployment', 'dry')).metadata.resourceVersion).toBe(before)
  }, 180_000)
})
