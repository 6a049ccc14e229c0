// The pure rendering of Kubernetes manifests: target workload, images, change cause, errors with file:line.
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from '@jest/globals'
import { parseInputs } from '../../src/inputs.js'
import { CHANGE_CAUSE, loadManifestDocuments, manifestFiles, renderManifests } from '../../src/render/manifests.js'
import { parseDocuments } from '../../src/render/source.js'
import { userError } from '../helpers/user-error.js'

const WEB = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      initContainers:
      - name: migrate
        image: registry.local/web-migrate:1.0
      containers:
      - name: web
        image: registry.local/web:1.0
      - name: sidecar
        image: registry.local/proxy:3.1
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports: [{port: 80}]
`

function request(inputs: Record<string, string>) {
  const env: Record<string, string> = { GITHUB_SHA: 'abcdef0123456789', GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'o/r', GITHUB_RUN_ID: '42' }
  for (const [key, value] of Object.entries(inputs)) env[`INPUT_${key.toUpperCase()}`] = value
  return parseInputs(env)
}

describe('renderManifests', () => {
  it('sets the new tag on the container named like the service and records the change cause', () => {
    const rendered = renderManifests(parseDocuments(WEB, 'k8s/web.yaml'), request({ service: 'web', 'image-tag': '2.0' }), 'prod')
    expect(rendered.images).toEqual([{ container: 'web', previous: 'registry.local/web:1.0', next: 'registry.local/web:2.0' }])
    const spec = (rendered.target.object.spec as { template: { spec: { containers: Array<{ image: string }>; initContainers: Array<{ image: string }> } } }).template.spec
    expect(spec.containers[1].image).toBe('registry.local/proxy:3.1')
    expect(spec.initContainers[0].image).toBe('registry.local/web-migrate:1.0')
    const cause = rendered.target.object.metadata.annotations?.[CHANGE_CAUSE]
    expect(cause).toContain('registry.local/web:2.0')
    expect(cause).toContain('abcdef012345')
    expect(cause).toContain('https://github.com/o/r/actions/runs/42')
    expect(rendered.manifests).toHaveLength(2)
  })

  it('changes init containers only when they are named', () => {
    const rendered = renderManifests(parseDocuments(WEB, 'web.yaml'), request({ service: 'web', 'image-tag': '2.0', container: 'migrate,web' }), 'prod')
    expect(rendered.images.map(i => i.container).sort()).toEqual(['migrate', 'web'])
  })

  it('lists the workloads there are when the service is not one of them', () => {
    const error = userError(() => renderManifests(parseDocuments(WEB, 'k8s/web.yaml'), request({ service: 'api', 'image-tag': '2' }), 'prod'))
    expect(error.message).toMatch(/no Deployment, StatefulSet, DaemonSet or Argo Rollout named 'api'; it has deployment\/web \(k8s\/web\.yaml:1:1\)/)
  })

  it('lists the containers there are when the named one is missing', () => {
    const error = userError(() => renderManifests(parseDocuments(WEB, 'web.yaml'), request({ service: 'web', 'image-tag': '2', container: 'nope' }), 'prod'))
    expect(error.message).toMatch(/deployment\/web has no container 'nope'; it has 'web', 'sidecar', 'migrate'/)
  })

  it('points at file:line for a document without kind and a namespace that differs', () => {
    const text = `apiVersion: v1\nmetadata:\n  name: x\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\n  namespace: other\n`
    const error = userError(() => renderManifests(parseDocuments(text, 'set.yaml'), request({ service: 'web', 'image-tag': '2' }), 'prod'))
    expect(error.problems.map(p => `${p.location?.file}:${p.location?.line} ${p.message}`)).toEqual([
      'set.yaml:1 kind is missing',
      expect.stringMatching(/^set\.yaml:9 ConfigMap\/y is in namespace 'other' but this deploy goes to 'prod'/)
    ])
  })

  it('rejects two workloads of one name', () => {
    const text = WEB + '---\n' + WEB.split('---')[0].replace('kind: Deployment', 'kind: StatefulSet')
    const error = userError(() => renderManifests(parseDocuments(text, 'w.yaml'), request({ service: 'web', 'image-tag': '2' }), 'prod'))
    expect(error.message).toMatch(/'web' names several workloads: deployment\/web .* statefulset\/web/)
  })
})

describe('manifest files', () => {
  it('reads a folder, a glob and fills in placeholders with NAMESPACE', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'manifests-'))
    await fs.writeFile(path.join(dir, 'a.yaml'), WEB.replace('replicas: 2', 'replicas: ${REPLICAS}').replace('name: web\n', 'name: web\n  labels: {ns: "${NAMESPACE}"}\n'))
    await fs.writeFile(path.join(dir, 'b.yml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n')
    await fs.writeFile(path.join(dir, 'notes.txt'), 'ignored')
    expect(await manifestFiles(dir)).toEqual([path.join(dir, 'a.yaml'), path.join(dir, 'b.yml')])
    expect(await manifestFiles(`${dir}/*.y*ml`)).toHaveLength(2)
    const documents = await loadManifestDocuments(request({ service: 'web', 'image-tag': '2', template: dir, vars: 'REPLICAS=3' }), 'prod')
    expect(documents).toHaveLength(3)
    expect((documents[0].value as { spec: { replicas: number } }).spec.replicas).toBe(3)
    expect((documents[0].value as { metadata: { labels: Record<string, string> } }).metadata.labels.ns).toBe('prod')
    await expect(loadManifestDocuments(request({ service: 'web', 'image-tag': '2', template: dir }), 'prod')).rejects.toThrow(/a\.yaml:7:\d+: unknown placeholder \$\{REPLICAS\}/)
    await expect(manifestFiles(`${dir}/*.json`)).rejects.toThrow(/matches no \.yaml, \.yml or \.json file/)
  })
})
