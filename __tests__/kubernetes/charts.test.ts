// A Helm chart and a kustomize overlay deployed to the local cluster through the action (in-process), with
// the real helm and kustomize on PATH (jest's global setup): what lands in the cluster, what a dry run and
// a render show, and that a tool's error or a missing tool changes nothing.
import fs from 'node:fs'
import { describe, expect, it } from '@jest/globals'
import { UserError } from '../../src/errors.js'
import { deploy, expectStatus, getJson, inNamespace, kubectl, withCluster } from './cluster.js'

const CHART = 'test/fixtures/chart'
const OVERLAYS = 'test/fixtures/kustomize/overlays'

/** Names of the objects of these kinds in the namespace: what a failed run must have left empty. */
async function objectsIn(namespace: string): Promise<string[]> {
  const list = await getJson<{ items: Array<{ kind: string; metadata: { name: string } }> }>(namespace, 'deployments,services,configmaps')
  // Every namespace has the API server's own kube-root-ca.crt ConfigMap.
  return list.items.map(item => `${item.kind}/${item.metadata.name}`).filter(name => name !== 'ConfigMap/kube-root-ca.crt')
}

withCluster('Helm charts and kustomize overlays on the local cluster', () => {
  let ns = ''
  inNamespace('k8s-charts', name => (ns = name))

  describe('a Helm chart', () => {
    it('deploys with a values file and --set, the new image on the chart workload', async () => {
      const run = await deploy({ service: 'web', 'image-tag': '2.0', template: CHART, namespace: ns, 'helm-values': `${CHART}/values-prod.yaml`, 'helm-set': 'service.port=8080' })
      expectStatus(run, 'succeeded')
      expect(run.log).toContain(`3 object(s) rendered by helm template web ${CHART} --namespace ${ns} --include-crds --skip-tests -f ${CHART}/values-prod.yaml -f '<helm-set: service.port>' (helm v3.22.0), checked by a server dry run`)
      const deployment = await getJson(ns, 'deployment', 'web')
      expect(deployment.spec.replicas).toBe(2)
      expect(deployment.spec.template.spec.containers[0].image).toBe('registry.local/web:2.0')
      expect(deployment.status.readyReplicas).toBe(2)
      expect((await getJson(ns, 'configmap', 'web-config')).data).toMatchObject({ DATABASE_HOST: 'db.prod.internal', RELEASE_NAMESPACE: ns })
      expect((await getJson(ns, 'service', 'web')).spec.ports[0].port).toBe(8080)
      // The chart's `helm test` Pod is not deployed.
      expect((await kubectl(['-n', ns, 'get', 'pod', 'web-test'])).code).not.toBe(0)
    }, 180_000)

    it('shows the rendered set in a dry run and a render, and changes nothing', async () => {
      const before = (await getJson(ns, 'deployment', 'web')).metadata.resourceVersion
      const inputs = { service: 'web', template: CHART, namespace: ns, 'helm-values': `${CHART}/values-prod.yaml`, 'helm-set': 'service.port=8080' }
      const dry = await deploy({ ...inputs, 'image-tag': '3.0', 'dry-run': 'true' })
      expectStatus(dry, 'dry-run')
      expect(dry.result?.diff).toContain('+          image: registry.local/web:3.0')
      expect(dry.result?.diff).toContain('no change: configmap/web-config, service/web')
      const renderedFile = fs.readFileSync(dry.result!.renderedPath!, 'utf8')
      expect(renderedFile).toMatch(/^# rendered by helm template web test\/fixtures\/chart .*\(helm v3\.22\.0\)\n/)
      expect(renderedFile).toContain('DATABASE_HOST: db.prod.internal')

      const render = await deploy({ ...inputs, 'image-tag': '3.0', mode: 'render' })
      expectStatus(render, 'rendered')
      expect(render.log).toContain('# rendered by helm template web')
      expect(render.log).toContain('image: registry.local/web:3.0')
      expect((await getJson(ns, 'deployment', 'web')).metadata.resourceVersion).toBe(before)
    }, 120_000)
  })

  describe('a kustomize overlay', () => {
    it('deploys the overlay with its patch and generated ConfigMap; only the service container gets the image', async () => {
      const run = await deploy({ service: 'api', 'image-tag': '2.0', template: `${OVERLAYS}/prod`, namespace: ns })
      expectStatus(run, 'succeeded')
      expect(run.log).toContain(`rendered by kustomize build ${OVERLAYS}/prod (kustomize v5.8.2), checked by a server dry run`)
      const deployment = await getJson(ns, 'deployment', 'api')
      expect(deployment.spec.replicas).toBe(3)
      expect(deployment.metadata.labels['app.kubernetes.io/part-of']).toBe('shop')
      expect(deployment.spec.template.spec.containers.map((c: { name: string; image: string }) => `${c.name}=${c.image}`)).toEqual([
        'api=registry.local/api:2.0',
        'proxy=registry.local/proxy:3.1'
      ])
      expect(deployment.status.readyReplicas).toBe(3)
      expect((await getJson(ns, 'configmap', 'api-settings-dfk4bdbtkk')).data).toEqual({ LOG_LEVEL: 'warn' })
    }, 180_000)
  })

  describe('errors, before anything changes', () => {
    let empty = ''
    inNamespace('k8s-charts-err', name => (empty = name))

    it("shows a chart's error at its template, and applies nothing", async () => {
      const run = await deploy({ service: 'web', 'image-tag': '2.0', template: CHART, namespace: empty })
      expect(run.error).toBeInstanceOf(UserError)
      expect(run.error?.message).toMatch(/^test\/fixtures\/chart\/templates\/configmap\.yaml:8:20: helm template web .* failed with exit code 1:\nError: execution error at \(web\/templates\/configmap\.yaml:8:20\): set database\.host/)
      expect(await objectsIn(empty)).toEqual([])
    }, 60_000)

    it("shows kustomize's error at the kustomization entry, and applies nothing", async () => {
      const run = await deploy({ service: 'api', 'image-tag': '2.0', template: `${OVERLAYS}/broken`, namespace: empty })
      expect(run.error).toBeInstanceOf(UserError)
      expect(run.error?.message).toMatch(/^test\/fixtures\/kustomize\/overlays\/broken\/kustomization\.yaml:7: kustomize build .* failed with exit code 1:\nError: [\s\S]*missing-patch\.yaml: no such file or directory$/)
      expect(await objectsIn(empty)).toEqual([])
    }, 60_000)

    it('refuses an overlay pinned to another namespace at the line of its output, and applies nothing', async () => {
      const run = await deploy({ service: 'api', 'image-tag': '2.0', template: `${OVERLAYS}/staging`, namespace: empty })
      expect(run.error?.message).toMatch(new RegExp(`kustomize build ${OVERLAYS}/staging:\\d+:\\d+: Deployment/api is in namespace 'staging' but this deploy goes to '${empty}'`))
      expect(await objectsIn(empty)).toEqual([])
    }, 60_000)

    it('says how to install helm when it is not on PATH, and applies nothing', async () => {
      const path = process.env.PATH
      // The in-process run looks the tool up on this process's PATH: one without helm (nor kustomize).
      process.env.PATH = '/usr/bin:/bin'
      try {
        const run = await deploy({ service: 'web', 'image-tag': '2.0', template: CHART, namespace: empty, 'helm-set': 'database.host=db' })
        expect(run.error?.message).toBe(
          `input 'template': '${CHART}' is a Helm chart, which needs helm, and helm is not on PATH: GitHub's hosted runners have it; elsewhere add a step before this one: \`uses: azure/setup-helm@v4\``
        )
      } finally {
        process.env.PATH = path
      }
      expect(await objectsIn(empty)).toEqual([])
    }, 60_000)
  })
})
