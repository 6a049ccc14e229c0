// Issue 16 for the pre-deploy Job, on the local cluster: a finished Job of the same name is deleted
// before running again only when it is provably ours (another team's `Job/migrate` is left alone and
// the deploy refused, nothing changed); a Job whose pod has a mesh sidecar ends when the command's
// container ends, its exit code the verdict, and is then deleted.
//
// kwok ends every container of a Job's pod together, so the sidecar case needs a kubelet that ends
// only one: this suite plays it, on a Node object of its own that no kwok manages (tainted, so nothing
// else is scheduled there), by writing the pod's status as a kubelet would.
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, expect, it } from '@jest/globals'
import { stillRunning } from '../../src/platforms/kubernetes/pre-deploy/run.js'
import { deploy, expectStatus, getJson, inNamespace, kubectl, kubectlOk, templateDir, until, withCluster } from './cluster.js'

const REGISTRY = 'registry.local/shop'

function app(name: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
spec:
  replicas: 1
  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: ${name}
        image: ${REGISTRY}/${name}:1.0
`
}

function migrateJob(name: string, image: string, spec = ''): string {
  return `apiVersion: batch/v1
kind: Job
metadata:
  name: ${name}
  annotations: {deploy-service/phase: pre-deploy}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 0
${spec}      containers:
      - name: migrate
        image: ${image}
        command: [./migrate, up]
`
}

withCluster('the pre-deploy Job: only ours is deleted, a sidecar does not hold it open', () => {
  let ns = ''
  inNamespace('k8s-predeploy-ours', name => (ns = name))

  it("leaves another team's finished Job of the same name alone and refuses the deploy, changing nothing", async () => {
    // Team B's Job/migrate, even with our phase annotation copied: not applied by our field manager, not our service's.
    await kubectlOk(['-n', ns, 'apply', '--server-side', '--field-manager=team-b', '-f', '-'], migrateJob('migrate', `${REGISTRY}/billing:7-job-succeeds`))
    await until("team B's Job completed", async () => ((await getJson(ns, 'job', 'migrate')).status?.succeeded ?? 0) === 1)
    const before = await getJson(ns, 'job', 'migrate')
    const template = templateDir({ 'app.yaml': app('orders'), 'migrate.yaml': migrateJob('migrate', `${REGISTRY}/orders:\${IMAGE_TAG}`) })
    const run = await deploy({ service: 'orders', 'image-tag': '1.0-job-succeeds', template, namespace: ns })
    const said = `${run.error?.message ?? ''}\n${run.result?.reasons.join('\n') ?? ''}`
    expect(run.result).toBeUndefined()
    expect(said).toMatch(/job\/migrate in namespace \S+ already exists with no deploy-service\/service=orders label, not applied by our field manager "deploy-service" \(written by field manager "team-b"\), so it is not ours to delete and run again: rename the pre-deploy Job in the template \(metadata\.name\)/)
    const after = await getJson(ns, 'job', 'migrate')
    expect(after.metadata.uid).toBe(before.metadata.uid)
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion)
    expect((await kubectl(['-n', ns, 'get', 'deployment', 'orders'])).code).not.toBe(0)
  }, 120_000)

  it('replaces our own finished Job of the set on the next deploy (applied by our field manager, with our service label)', async () => {
    const template = templateDir({ 'app.yaml': app('catalog'), 'migrate.yaml': migrateJob('catalog-migrate', `${REGISTRY}/catalog:\${IMAGE_TAG}`) })
    expectStatus(await deploy({ service: 'catalog', 'image-tag': '1.0-job-succeeds', template, namespace: ns }), 'succeeded')
    const first = await getJson(ns, 'job', 'catalog-migrate')
    expect(first.metadata.labels['deploy-service/service']).toBe('catalog')
    const second = await deploy({ service: 'catalog', 'image-tag': '2.0-job-succeeds', template, namespace: ns })
    expectStatus(second, 'succeeded')
    expect(second.log).toContain('deleted the finished job/catalog-migrate of an earlier deploy, to run it again')
    expect((await getJson(ns, 'job', 'catalog-migrate')).metadata.uid).not.toBe(first.metadata.uid)
  }, 180_000)

  it('a deploy that lands during our pre-deploy Job is what our rollback goes back to, not the revision read before the Job', async () => {
    const name = 'raced-migration'
    const web = (image: string) => app(name).replace(`${REGISTRY}/${name}:1.0`, image)
    const job = migrateJob(`${name}-migrate`, `${REGISTRY}/${name}:1.0-job-succeeds`).replace('  template:\n', '  template:\n    metadata:\n      annotations: {deploy-service.test/runs-for: "8s"}\n')
    expectStatus(await deploy({ service: name, 'image-tag': '1.0', template: templateDir({ 'web.yaml': web(`${REGISTRY}/${name}:1.0`) }), namespace: ns }), 'succeeded')
    // Our deploy: a migration of 8 s, then an image that cannot be pulled (so it fails and rolls back).
    const running = deploy({ service: name, 'image-tag': 'missing', template: templateDir({ 'web.yaml': web(`${REGISTRY}/${name}:1.0`), 'migrate.yaml': job }), namespace: ns, timeout: '2m' })
    await until('our migration runs', async () => (await kubectl(['-n', ns, 'get', 'job', `${name}-migrate`])).code === 0)
    // Meanwhile another run of the pipeline deploys a hotfix: revision 2.
    await kubectlOk(['-n', ns, 'apply', '--server-side', '--field-manager=deploy-service', '-f', '-'], web(`${REGISTRY}/${name}:hotfix`))
    await until('the hotfix is revision 2', async () => (await getJson(ns, 'deployment', name)).metadata.annotations['deployment.kubernetes.io/revision'] === '2')
    const run = await running
    expectStatus(run, 'rolled-back')
    expect(run.log).toMatch(/deployment\/raced-migration: rolled back to revision 2, now revision 4/)
    expect((await getJson(ns, 'deployment', name)).spec.template.spec.containers[0].image).toBe(`${REGISTRY}/${name}:hotfix`)
  }, 180_000)

  sidecarCases()

  function sidecarCases(): void {
    const node = `manual-kubelet-${randomBytes(3).toString('hex')}`
    beforeAll(async () => {
      await kubectlOk(['apply', '-f', '-'], `apiVersion: v1
kind: Node
metadata:
  name: ${node}
  labels: {deploy-service.test/manual-kubelet: "true"}
spec:
  taints:
  - {key: deploy-service.test/manual-kubelet, effect: NoSchedule}
`)
    })
    afterAll(async () => {
      await kubectl(['-n', ns, 'delete', 'pods', '--all', '--grace-period=0', '--force', '--field-selector', `spec.nodeName=${node}`])
      await kubectl(['delete', 'node', node, '--ignore-not-found'])
    })

    /** Plays the kubelet: the command's container has ended with `exitCode`, the native sidecar runs on. */
    async function endCommandOnly(job: string, exitCode: number): Promise<void> {
      const pod = await found(`the pod of job/${job}`, async () => {
        const pods = await getJson<{ items: Array<{ metadata: { name: string } }> }>(ns, 'pods', '-l', `job-name=${job}`)
        return pods.items[0]?.metadata.name
      })
      const now = new Date().toISOString()
      const status = {
        status: {
          phase: 'Running',
          conditions: [{ type: 'Ready', status: 'False', reason: 'ContainersNotReady', lastTransitionTime: now }],
          initContainerStatuses: [{ name: 'linkerd-proxy', image: 'registry.local/mesh/proxy:2.14', imageID: 'registry.local/mesh/proxy@sha256:1', ready: true, started: true, restartCount: 0, state: { running: { startedAt: now } } }],
          containerStatuses: [
            {
              name: 'migrate',
              image: `${REGISTRY}/meshed:1.0`,
              imageID: `${REGISTRY}/meshed@sha256:1`,
              ready: false,
              started: false,
              restartCount: 0,
              state: { terminated: { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', startedAt: now, finishedAt: now } }
            }
          ]
        }
      }
      await kubectlOk(['-n', ns, 'patch', 'pod', pod, '--subresource=status', '--type=merge', '-p', JSON.stringify(status)])
    }

    /** Polls `check` until it gives a value. */
    async function found<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
      let value: T | undefined
      await until(what, async () => (value = await check()) !== undefined, 60_000)
      return value as T
    }

    const meshed = (job: string) =>
      migrateJob(job, `${REGISTRY}/meshed:\${IMAGE_TAG}`, `      nodeName: ${node}
      tolerations: [{key: deploy-service.test/manual-kubelet, operator: Exists}]
      initContainers:
      - name: linkerd-proxy
        image: registry.local/mesh/proxy:2.14
        restartPolicy: Always
`)

    it('a Job whose native sidecar (linkerd-proxy) runs on ends when the command exits 0: the deploy goes on and the Job is deleted', async () => {
      const template = templateDir({ 'app.yaml': app('meshed'), 'migrate.yaml': meshed('meshed-migrate') })
      const running = deploy({ service: 'meshed', 'image-tag': '1.0', template, namespace: ns, timeout: '45s' })
      await endCommandOnly('meshed-migrate', 0)
      const run = await running
      expectStatus(run, 'succeeded')
      expect(run.result!.outputs['pre-deploy-exit-code']).toBe('0')
      expect(run.log).toMatch(/job\/meshed-migrate completed \(exit code 0 of container migrate; container migrate exited while linkerd-proxy kept the pod running; the Job was deleted\)/)
      await until('the Job is gone', async () => (await kubectl(['-n', ns, 'get', 'job', 'meshed-migrate'])).code !== 0, 30_000)
    }, 120_000)

    it('the same Job whose command exits 3 fails the deploy with that exit code, without waiting for the timeout, and is deleted', async () => {
      const template = templateDir({ 'app.yaml': app('meshed-fails'), 'migrate.yaml': meshed('meshed-fails-migrate') })
      const running = deploy({ service: 'meshed-fails', 'image-tag': '1.0', template, namespace: ns, timeout: '45s' })
      await endCommandOnly('meshed-fails-migrate', 3)
      const run = await running
      expectStatus(run, 'failed')
      expect(run.result!.message).toMatch(/the pre-deploy step failed \(job\/meshed-fails-migrate failed \(exit code 3; container migrate exited while linkerd-proxy kept the pod running; the Job was deleted\)/)
      expect((await kubectl(['-n', ns, 'get', 'deployment', 'meshed-fails'])).code).not.toBe(0)
      await until('the Job is gone', async () => (await kubectl(['-n', ns, 'get', 'job', 'meshed-fails-migrate'])).code !== 0, 30_000)
    }, 120_000)
  }

  it('counts an injected regular sidecar (istio-proxy) and a native one as still running, never the command itself', () => {
    const pod = (containers: Array<[string, object]>, init: Array<[string, object]> = []) => ({
      metadata: { name: 'p' },
      status: { containerStatuses: containers.map(([name, state]) => ({ name, state })), initContainerStatuses: init.map(([name, state]) => ({ name, state })) }
    })
    const ended = { terminated: { exitCode: 0 } }
    const running = { running: {} }
    expect(stillRunning(pod([['migrate', ended], ['istio-proxy', running]]), 'migrate')).toEqual(['istio-proxy'])
    expect(stillRunning(pod([['migrate', ended]], [['linkerd-proxy', running], ['wait-for-db', ended]]), 'migrate')).toEqual(['linkerd-proxy'])
    expect(stillRunning(pod([['migrate', ended], ['istio-proxy', ended]]), 'migrate')).toEqual([])
  })
})
