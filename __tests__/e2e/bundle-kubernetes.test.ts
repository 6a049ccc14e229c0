// The committed bundle deploying to the local Kubernetes control plane as a runner would: the
// kubeconfig given as content in the `kubeconfig` input (masked), a manifest template, a rollout,
// then an unpullable image that fails fast, is explained and rolled back; and a Helm chart deploy with
// the helm that jest's global setup put on PATH.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import fs from 'node:fs'
import path from 'node:path'
import { createNamespace, deleteNamespace, getJson, kubeconfig } from '../kubernetes/cluster.js'
import { parseAllDocuments } from 'yaml'
import { runBundle } from '../helpers/bundle.js'

let namespace: string
beforeAll(async () => {
  namespace = await createNamespace('bundle')
})
afterAll(async () => {
  await deleteNamespace(namespace)
})

describe('the bundle on Kubernetes', () => {
  const inputs = () => ({
    service: 'web',
    namespace,
    template: path.resolve('demo/kubernetes/web.yaml'),
    vars: 'GREETING=hello',
    kubeconfig: fs.readFileSync(kubeconfig, 'utf8'),
    timeout: '3m'
  })

  it('rolls out a Deployment and reports its revision', async () => {
    const run = await runBundle({ ...inputs(), 'image-tag': '1.1.0' }, {})
    expect(run.stdout).not.toMatch(/::error/)
    expect(run.code).toBe(0)
    expect(run.outputs).toMatchObject({ status: 'succeeded', revision: '1', image: 'registry.example/web:1.1.0' })
    // The kubeconfig content is registered as a secret: the runner masks it in every log line.
    expect(run.stdout).toMatch(/::add-mask::/)
    const deployment = await getJson<{ spec: { template: { spec: { containers: Array<{ name: string; image: string }> } } } }>(namespace, 'deployment', 'web')
    expect(deployment.spec.template.spec.containers.map(c => c.image)).toEqual(['registry.example/web:1.1.0', 'registry.example/fluent-bit:2.1'])
  })

  it('fails fast on an unpullable image, says why, and rolls back', async () => {
    const run = await runBundle({ ...inputs(), 'image-tag': 'missing' }, {})
    expect(run.code).toBe(1)
    expect(run.outputs.status).toBe('rolled-back')
    expect(run.stdout).toMatch(/ErrImagePull|ImagePullBackOff/)
    expect(run.summary).toMatch(/### Why it failed/)
    const deployment = await getJson<{ spec: { template: { spec: { containers: Array<{ image: string }> } } } }>(namespace, 'deployment', 'web')
    expect(deployment.spec.template.spec.containers[0].image).toBe('registry.example/web:1.1.0')
  })

  it('deploys a Helm chart rendered by the helm on PATH', async () => {
    const chart = path.resolve('test/fixtures/chart')
    const run = await runBundle({ ...inputs(), vars: '', service: 'chart-web', template: chart, 'helm-values': path.join(chart, 'values-prod.yaml'), 'image-tag': '2.0' }, {})
    expect(run.stdout).not.toMatch(/::error/)
    expect(run.code).toBe(0)
    expect(run.outputs).toMatchObject({ status: 'succeeded', revision: '1', image: 'registry.local/web:2.0' })
    expect(run.stdout).toMatch(/rendered by helm template chart-web \S+ --namespace \S+ --include-crds --skip-tests -f \S+values-prod\.yaml \(helm v3\.22\.0\)/)
    const deployment = await getJson<{ spec: { replicas: number; template: { spec: { containers: Array<{ image: string }> } } } }>(namespace, 'deployment', 'chart-web')
    expect(deployment.spec.replicas).toBe(2)
    expect(deployment.spec.template.spec.containers[0].image).toBe('registry.local/web:2.0')
    expect((await getJson<{ data: Record<string, string> }>(namespace, 'configmap', 'chart-web-config')).data.DATABASE_HOST).toBe('db.prod.internal')
  })

  it('passes a helm-set value with a comma to helm as one string value, never as another key', async () => {
    const chart = path.resolve('test/fixtures/chart')
    const helmSet = 'database.host=db.internal,replicaCount=9\nimage.tag=true'
    const run = await runBundle({ service: 'chart-web', namespace, template: chart, 'helm-values': path.join(chart, 'values-prod.yaml'), 'helm-set': helmSet, mode: 'render' }, {})
    expect(run.stdout).not.toMatch(/::error/)
    expect(run.outputs.status).toBe('rendered')
    const objects = parseAllDocuments(fs.readFileSync(run.outputs['rendered-path'], 'utf8')).map(d => d.toJS() as { kind: string; spec?: { replicas?: number }; data?: Record<string, string> })
    expect(objects.find(o => o.kind === 'ConfigMap')?.data?.DATABASE_HOST).toBe('db.internal,replicaCount=9')
    expect(objects.find(o => o.kind === 'Deployment')?.spec?.replicas).toBe(2)
    expect(run.stdout).toContain("-f '<helm-set: database.host, image.tag>'")
  })
})
