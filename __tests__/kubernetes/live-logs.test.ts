// Live container logs while waiting (follow-logs), on the local cluster: kwok serves every container
// the same lines ("[test-cluster] container started ...", "[test-cluster] listening on :8080") and its
// `logs -f` stream never ends by itself (test/cluster/README.md), so the lines can only have come from
// a stream we followed and ended. Pods annotated deploy-service.test/ready-after stay unready a while:
// the wait lasts that long, and the lines must be in the log before "rolled out".
import { expect, it } from '@jest/globals'
import { deploy, deployment, expectStatus, kubectlOk, templateDir, inNamespace, until, withCluster } from './cluster.js'

const LINE = /\[\+[\d.]+s\] ([a-z0-9-]+)\/web: \[test-cluster\] listening on :8080$/

/** The pods whose log lines were printed (the line `pod/container: text`), in order of appearance. */
function podsLogged(lines: string[]): string[] {
  return [...new Set(lines.map(l => LINE.exec(l)?.[1]).filter((p): p is string => p !== undefined))]
}

withCluster('live container logs while waiting', () => {
  let ns = ''
  inNamespace('k8s-livelogs', name => (ns = name))
  const slow = (name: string) => templateDir({ 'app.yaml': deployment(name, `registry.local/shop/${name}:1.0`, { replicas: 2, annotations: '{"deploy-service.test/ready-after": "6s"}' }).replace(`name: ${name}\n        image`, 'name: web\n        image') })

  it('one (the default): the chosen container of one new pod, while waiting, each line after pod/container', async () => {
    const run = await deploy({ service: 'one', 'image-tag': '1.0', template: slow('one'), namespace: ns, container: 'web' })
    expectStatus(run, 'succeeded')
    const pods = podsLogged(run.lines)
    expect(pods).toHaveLength(1)
    expect(pods[0]).toMatch(/^one-/)
    expect(run.log).toContain(`following the log of pod ${pods[0]}, container web (follow-logs: one)`)
    expect(run.log).toContain(`${pods[0]}/web: [test-cluster] container started (simulated by kwok: no process runs in this cluster)`)
    // Shown while waiting: before the verdict.
    const logged = run.lines.findIndex(l => LINE.test(l))
    const done = run.lines.findIndex(l => l.includes('rolled out: deployment/one'))
    expect(logged).toBeGreaterThan(-1)
    expect(done).toBeGreaterThan(logged)
  }, 120_000)

  it('all: every new pod of our revision', async () => {
    const run = await deploy({ service: 'all', 'image-tag': '1.0', template: slow('all'), namespace: ns, container: 'web', 'follow-logs': 'all' })
    expectStatus(run, 'succeeded')
    const pods = podsLogged(run.lines)
    expect(pods).toHaveLength(2)
    for (const pod of pods) expect(pod).toMatch(/^all-/)
  }, 120_000)

  it('off: no log line, no stream', async () => {
    const run = await deploy({ service: 'off', 'image-tag': '1.0', template: slow('off'), namespace: ns, container: 'web', 'follow-logs': 'off' })
    expectStatus(run, 'succeeded')
    expect(run.log).not.toContain('[test-cluster]')
    expect(run.log).not.toContain('following the log of pod')
  }, 120_000)

  it('only our revision: the pods of the earlier revision are never followed', async () => {
    const template = slow('rev')
    expectStatus(await deploy({ service: 'rev', 'image-tag': '1.0', template, namespace: ns, container: 'web', 'follow-logs': 'off' }), 'succeeded')
    const old = (await kubectlOk(['get', 'pods', '-n', ns, '-l', 'app=rev', '-o', 'jsonpath={.items[*].metadata.name}'])).split(' ')
    const run = await deploy({ service: 'rev', 'image-tag': '2.0', template, namespace: ns, container: 'web', 'follow-logs': 'all' })
    expectStatus(run, 'succeeded')
    const pods = podsLogged(run.lines)
    expect(pods.length).toBeGreaterThan(0)
    for (const pod of pods) expect(old).not.toContain(pod)
  }, 120_000)

  it('one: moves to another pod when the followed one is replaced', async () => {
    const template = templateDir({ 'app.yaml': deployment('moves', 'registry.local/shop/moves:never-ready', { replicas: 1 }).replace('name: moves\n        image', 'name: web\n        image') })
    const lines: string[] = []
    const followed = (): string[] => lines.map(l => /following the log of pod ([a-z0-9-]+), container web/.exec(l)?.[1]).filter((p): p is string => p !== undefined)
    // never-ready: the wait lasts until the timeout, long enough to replace the pod meanwhile.
    const running = deploy({ service: 'moves', 'image-tag': 'never-ready', template, namespace: ns, container: 'web', timeout: '30s', 'rollback-on-failure': 'false' }, {}, lines)
    await until('a pod followed and its lines shown', async () => followed().length === 1 && podsLogged(lines).length === 1, 30_000)
    const first = followed()[0]
    await kubectlOk(['delete', 'pod', '-n', ns, first, '--wait=false'])
    await until('the replacement followed and its lines shown', async () => followed().length === 2 && podsLogged(lines).length === 2, 30_000)
    const run = await running
    expectStatus(run, 'failed')
    expect(run.result!.reasons.join('\n')).toContain('the rollout did not finish within 30s')
    const [, second] = followed()
    expect(second).not.toBe(first)
    expect(second).toMatch(/^moves-/)
    expect(podsLogged(lines)).toEqual([first, second])
  }, 120_000)
})
