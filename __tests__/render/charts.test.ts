// Charts and kustomizations as templates, rendered by the real helm and kustomize (scripts/tools.sh puts
// them on PATH in jest's global setup): detection, values and --set, where each document and each tool
// error is placed, and the errors a user gets for a missing tool or inputs that do not fit.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from '@jest/globals'
import { UserError } from '../../src/errors.js'
import { parseInputs } from '../../src/inputs.js'
import { choosePlatform } from '../../src/platforms/choose.js'
import { loadKubernetesTemplate } from '../../src/render/kubernetes-template.js'
import { kubernetesTemplate } from '../../src/render/template-kind.js'
import { renderManifests } from '../../src/render/manifests.js'
import type { SourceDocument } from '../../src/render/source.js'

const CHART = 'test/fixtures/chart'
const OVERLAYS = 'test/fixtures/kustomize/overlays'

function request(inputs: Record<string, string>) {
  const env: Record<string, string> = { GITHUB_SHA: 'abcdef0123456789', GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'o/r', GITHUB_RUN_ID: '42' }
  for (const [key, value] of Object.entries({ platform: 'kubernetes', ...inputs })) env[`INPUT_${key.toUpperCase()}`] = value
  return parseInputs(env)
}

async function userError(promise: Promise<unknown>): Promise<UserError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown
  )
  if (error instanceof UserError) return error
  throw error ?? new Error('expected a UserError')
}

function named(documents: SourceDocument[], kind: string): SourceDocument {
  const found = documents.find(d => (d.value as { kind?: string }).kind === kind)
  if (!found) throw new Error(`no ${kind} among ${documents.map(d => (d.value as { kind?: string }).kind).join(', ')}`)
  return found
}

/** A copy of the fixture chart with some files replaced, to break it in one way. */
function copyOfChart(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chart-'))
  fs.cpSync(CHART, dir, { recursive: true })
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text)
  return dir
}

describe('what a template is', () => {
  it('tells a chart, a kustomization and manifests apart, by folder or by the file itself', async () => {
    expect(await kubernetesTemplate(CHART)).toEqual({ kind: 'chart', dir: CHART })
    expect(await kubernetesTemplate(`${CHART}/Chart.yaml`)).toEqual({ kind: 'chart', dir: CHART })
    expect(await kubernetesTemplate(`${OVERLAYS}/prod`)).toEqual({ kind: 'overlay', dir: `${OVERLAYS}/prod`, kustomization: `${OVERLAYS}/prod/kustomization.yaml` })
    expect(await kubernetesTemplate(`${OVERLAYS}/prod/kustomization.yaml`)).toMatchObject({ kind: 'overlay', dir: `${OVERLAYS}/prod` })
    expect(await kubernetesTemplate(`${CHART}/templates`)).toEqual({ kind: 'manifests' })
    expect(await kubernetesTemplate(`${CHART}/templates/*.yaml`)).toEqual({ kind: 'manifests' })
    expect(await kubernetesTemplate('test/fixtures/kustomize/base/deployment.yaml')).toEqual({ kind: 'manifests' })
  })

  it("takes a folder with a file named 'Kustomization' as a kustomization", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kustomization-'))
    fs.writeFileSync(path.join(dir, 'Kustomization'), 'resources: []\n')
    expect(await kubernetesTemplate(dir)).toMatchObject({ kind: 'overlay', kustomization: path.join(dir, 'Kustomization') })
  })

  it('picks the Kubernetes platform for a chart or kustomization folder without the platform input', async () => {
    const env = { GITHUB_SHA: 'abc', INPUT_SERVICE: 'web', 'INPUT_IMAGE-TAG': '2.0' }
    expect(await choosePlatform(parseInputs({ ...env, INPUT_TEMPLATE: CHART }))).toBe('kubernetes')
    expect(await choosePlatform(parseInputs({ ...env, INPUT_TEMPLATE: `${OVERLAYS}/broken` }))).toBe('kubernetes')
  })
})

describe('Helm charts', () => {
  it('renders with the service as release, the namespace, values files and --set, each document named after its template', async () => {
    const req = request({ service: 'web', 'image-tag': '2.0', template: CHART, 'helm-values': `${CHART}/values-prod.yaml`, 'helm-set': 'service.port=8080\nimage.tag=1.5' })
    const { documents, renderedBy } = await loadKubernetesTemplate(req, 'shop')
    expect(renderedBy).toBe(`helm template web ${CHART} --namespace shop --include-crds --skip-tests -f ${CHART}/values-prod.yaml -f '<helm-set: service.port, image.tag>' (helm v3.22.0)`)
    // The chart's `helm test` Pod is for `helm test`, not for the deploy.
    expect(documents.map(d => `${(d.value as { kind: string }).kind} ${d.file}`).sort()).toEqual([
      `ConfigMap ${CHART}/templates/configmap.yaml`,
      `Deployment ${CHART}/templates/deployment.yaml`,
      `Service ${CHART}/templates/service.yaml`
    ])
    const deployment = named(documents, 'Deployment')
    // Lines count in what the template rendered (line 1: its first line); the two-line label include
    // puts `replicas` on line 9 where the template has it on line 8.
    expect(deployment.locate(['spec', 'replicas'])).toEqual({ file: `${CHART}/templates/deployment.yaml`, line: 9, column: 13 })
    expect(deployment.locate([])).toMatchObject({ line: 1 })
    const config = named(documents, 'ConfigMap').value as { data: Record<string, string> }
    expect(config.data).toMatchObject({ DATABASE_HOST: 'db.prod.internal', RELEASE_NAMESPACE: 'shop' })
    // The chart's own ${...} is not a deploy-service placeholder: left as the chart wrote it.
    expect(config.data['start.sh']).toContain('"${DATABASE_HOST}"')
    expect((named(documents, 'Service').value as { spec: { ports: Array<{ port: number }> } }).spec.ports[0].port).toBe(8080)

    // The new image goes on after rendering, on the repository the chart names.
    const rendered = renderManifests(documents, req, 'shop')
    expect(rendered.images).toEqual([{ container: 'web', previous: 'registry.local/web:1.5', next: 'registry.local/web:2.0' }])
    expect((rendered.target.object.spec as { replicas: number }).replicas).toBe(2)
  })

  /** What the chart's values are after helm-set, and the type helm gives each, rendered by the real helm. */
  async function valuesAfter(helmSet: string): Promise<{ values: Record<string, unknown>; kinds: Record<string, string> }> {
    const dir = copyOfChart({
      'values.yaml': `${fs.readFileSync(`${CHART}/values.yaml`, 'utf8')}\nsecurityContext:\n  privileged: false\nflag: false\ncount: 1\n`,
      'templates/values.yaml': [
        'apiVersion: v1',
        'kind: ConfigMap',
        'metadata:',
        '  name: values',
        'data:',
        '  values: {{ toJson .Values | quote }}',
        '  kinds: {{ dict "flag" (kindOf .Values.flag) "nothing" (kindOf .Values.nothing) "count" (kindOf .Values.count) | toJson | quote }}',
        ''
      ].join('\n')
    })
    const { documents } = await loadKubernetesTemplate(request({ service: 'web', 'image-tag': '2.0', template: dir, 'helm-set': `database.host=db\n${helmSet}` }), 'shop')
    const data = (documents.find(d => (d.value as { metadata: { name: string } }).metadata.name === 'values')!.value as { data: Record<string, string> }).data
    return { values: JSON.parse(data.values) as Record<string, unknown>, kinds: JSON.parse(data.kinds) as Record<string, string> }
  }

  it('passes a helm-set value with commas as one value: a branch name never turns on privileged', async () => {
    const { values } = await valuesAfter('branch=a,securityContext.privileged=true')
    expect(values.branch).toBe('a,securityContext.privileged=true')
    expect(values.securityContext).toEqual({ privileged: false })
  })

  it('renders a secret with a comma whole, where --set split it and printed the fragment in its error', async () => {
    const { values } = await valuesAfter('database.password=hun,ter22')
    expect(values.database).toEqual({ host: 'db', password: 'hun,ter22' })
  })

  it('keeps true, null, numbers and {x,y} as the strings they were written as', async () => {
    const { values, kinds } = await valuesAfter('flag=true\nnothing=null\ncount=3\nlist={x,y}\nescaped=a\\,b\nlabels.app\\.kubernetes\\.io/name=web\nhosts[1]=b.example.com')
    expect(kinds).toEqual({ flag: 'string', nothing: 'string', count: 'string' })
    expect(values).toMatchObject({ flag: 'true', nothing: 'null', count: '3', list: '{x,y}', escaped: 'a\\,b', labels: { 'app.kubernetes.io/name': 'web' }, hosts: [null, 'b.example.com'] })
  })

  it('says that helm-set values are strings when the chart schema wants another type', async () => {
    const dir = copyOfChart({ 'values.schema.json': JSON.stringify({ type: 'object', properties: { replicaCount: { type: 'integer' } } }) })
    const error = await userError(loadKubernetesTemplate(request({ service: 'web', 'image-tag': '2.0', template: dir, 'helm-set': 'database.host=db\nreplicaCount=3' }), 'shop'))
    expect(error.problems[0].location).toEqual({ file: path.join(dir, 'values.schema.json'), line: 1 })
    expect(error.message).toContain("'helm-set' values are strings: numbers, booleans and lists go in a 'helm-values' file")
  })

  it("shows helm's own error at the template and line it names", async () => {
    const error = await userError(loadKubernetesTemplate(request({ service: 'web', 'image-tag': '2.0', template: CHART }), 'shop'))
    expect(error.problems).toHaveLength(1)
    expect(error.problems[0]).toMatchObject({ input: 'template', location: { file: `${CHART}/templates/configmap.yaml`, line: 8, column: 20 } })
    expect(error.message).toContain(`helm template web ${CHART} --namespace shop --include-crds --skip-tests (helm v3.22.0) failed with exit code 1`)
    expect(error.message).toContain('set database.host (helm-values or helm-set)')
  })

  it('places a syntax error of a template at its line', async () => {
    const dir = copyOfChart({ 'templates/service.yaml': 'apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }\n' })
    const error = await userError(loadKubernetesTemplate(request({ service: 'web', 'image-tag': '2.0', template: dir, 'helm-set': 'database.host=db' }), 'shop'))
    expect(error.problems[0].location).toMatchObject({ file: path.join(dir, 'templates', 'service.yaml'), line: 4 })
    expect(error.message).toMatch(/unexpected "}"/)
  })

  it('places a nil value a template reads at the line and column helm names', async () => {
    const dir = copyOfChart({ 'templates/service.yaml': 'apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  labels:\n    tier: {{ .Values.missing.tier }}\n' })
    const error = await userError(loadKubernetesTemplate(request({ service: 'web', 'image-tag': '2.0', template: dir, 'helm-set': 'database.host=db' }), 'shop'))
    expect(error.problems[0].location).toEqual({ file: path.join(dir, 'templates', 'service.yaml'), line: 6, column: 20 })
    expect(error.message).toMatch(/nil pointer evaluating interface \{\}\.tier/)
  })

  it('points a dependency that was never fetched at Chart.yaml, with the command that fetches it', async () => {
    const dir = copyOfChart({})
    fs.appendFileSync(path.join(dir, 'Chart.yaml'), 'dependencies:\n  - name: redis\n    version: 1.0.0\n    repository: https://charts.example.com\n')
    const error = await userError(loadKubernetesTemplate(request({ service: 'web', 'image-tag': '2.0', template: dir, 'helm-set': 'database.host=db' }), 'shop'))
    expect(error.problems[0].location).toEqual({ file: path.join(dir, 'Chart.yaml'), line: 1 })
    expect(error.message).toContain(`(run \`helm dependency build ${dir}\` in a step before this one, or commit the charts/ folder)`)
    expect(error.message).toMatch(/found in Chart\.yaml, but missing in charts\/ directory: redis/)
  })

  it('names a values file that is not there before running helm', async () => {
    const error = await userError(loadKubernetesTemplate(request({ service: 'web', 'image-tag': '2.0', template: CHART, 'helm-values': 'nope/values.yaml' }), 'shop'))
    expect(error.problems).toEqual([{ input: 'helm-values', message: "cannot read 'nope/values.yaml': no such file (paths are relative to the workspace)" }])
  })

  it('says how to install helm when it is not on PATH', async () => {
    const req = request({ service: 'web', 'image-tag': '2.0', template: CHART, 'helm-set': 'database.host=db' })
    const error = await userError(loadKubernetesTemplate(req, 'shop', { ...process.env, PATH: '/nonexistent' }))
    expect(error.problems).toEqual([
      {
        input: 'template',
        message: `'${CHART}' is a Helm chart, which needs helm, and helm is not on PATH: GitHub's hosted runners have it; elsewhere add a step before this one: \`uses: azure/setup-helm@v4\``
      }
    ])
  })

  it('refuses vars placeholders for a chart, and helm inputs for anything but a chart', async () => {
    const vars = await userError(loadKubernetesTemplate(request({ service: 'web', 'image-tag': '2.0', template: CHART, vars: 'TIER=gold' }), 'shop'))
    expect(vars.problems).toEqual([{ input: 'vars', message: `\${KEY} placeholders are for plain manifests; '${CHART}' is a Helm chart: pass values with 'helm-set' or 'helm-values'` }])
    const helm = await userError(loadKubernetesTemplate(request({ service: 'api', 'image-tag': '2.0', template: `${OVERLAYS}/prod`, 'helm-set': 'a=b', 'helm-values': 'v.yaml' }), 'shop'))
    expect(helm.problems.map(p => p.input)).toEqual(['helm-values', 'helm-set'])
    expect(helm.problems[0].message).toContain(`is a kustomization (${OVERLAYS}/prod/kustomization.yaml)`)
    const manifests = await userError(loadKubernetesTemplate(request({ service: 'api', 'image-tag': '2.0', template: 'test/fixtures/kustomize/base/deployment.yaml', 'helm-set': 'a=b' }), 'shop'))
    expect(manifests.problems[0]).toMatchObject({ input: 'helm-set', message: expect.stringContaining('is plain manifests') })
  })
})

describe('kustomizations', () => {
  it('builds an overlay with its patch; documents sit at the files the origin annotations name', async () => {
    const req = request({ service: 'api', 'image-tag': '2.0', template: `${OVERLAYS}/prod` })
    const { documents, renderedBy } = await loadKubernetesTemplate(req, 'shop')
    expect(renderedBy).toBe(`kustomize build ${OVERLAYS}/prod (kustomize v5.8.2)`)
    const deployment = named(documents, 'Deployment')
    expect(deployment.file).toBe('test/fixtures/kustomize/base/deployment.yaml')
    expect(named(documents, 'ConfigMap').file).toBe(`${OVERLAYS}/prod/kustomization.yaml`)
    const rendered = renderManifests(documents, req, 'shop')
    const spec = rendered.target.object.spec as { replicas: number; template: { spec: { containers: Array<{ name: string; image: string; env?: unknown[] }> } } }
    expect(spec.replicas).toBe(3)
    expect(spec.template.spec.containers.find(c => c.name === 'api')?.env).toEqual([{ name: 'LOG_LEVEL', value: 'warn' }])
    // Only the container named like the service gets the new tag.
    expect(rendered.images).toEqual([{ container: 'api', previous: 'registry.local/api:1.0', next: 'registry.local/api:2.0' }])
  })

  it('places documents without an origin in the output of the command that printed them', async () => {
    const req = request({ service: 'api', 'image-tag': '2.0', template: `${OVERLAYS}/staging` })
    const { documents } = await loadKubernetesTemplate(req, 'shop')
    expect(documents.every(d => d.file === `kustomize build ${OVERLAYS}/staging`)).toBe(true)
    let thrown: unknown
    try {
      renderManifests(documents, req, 'shop')
    } catch (error) {
      thrown = error
    }
    const error = thrown as UserError
    expect(error).toBeInstanceOf(UserError)
    // kustomize prints kind, metadata then spec: the namespace line of the Deployment, counted in the whole output.
    const deploymentNamespace = error.problems.find(p => p.message.startsWith('Deployment/api'))
    expect(deploymentNamespace?.location?.file).toBe(`kustomize build ${OVERLAYS}/staging`)
    expect(deploymentNamespace?.message).toContain("is in namespace 'staging' but this deploy goes to 'shop'")
    // The line is the one a user sees when running the same command.
    const output = execFileSync('kustomize', ['build', `${OVERLAYS}/staging`], { encoding: 'utf8' }).split('\n')
    expect(output[deploymentNamespace!.location!.line - 1]).toBe('  namespace: staging')
    expect(output.slice(0, deploymentNamespace!.location!.line).filter(line => line === 'kind: Deployment')).toHaveLength(1)
  })

  it("shows kustomize's own error at the kustomization entry it names", async () => {
    const error = await userError(loadKubernetesTemplate(request({ service: 'api', 'image-tag': '2.0', template: `${OVERLAYS}/broken` }), 'shop'))
    expect(error.problems).toHaveLength(1)
    expect(error.problems[0]).toMatchObject({ input: 'template', location: { file: `${OVERLAYS}/broken/kustomization.yaml`, line: 7 } })
    expect(error.message).toContain(`kustomize build ${OVERLAYS}/broken (kustomize v5.8.2) failed with exit code 1`)
    expect(error.message).toContain('missing-patch.yaml: no such file or directory')
  })

  it('says how to install kustomize when it is not on PATH', async () => {
    const error = await userError(loadKubernetesTemplate(request({ service: 'api', 'image-tag': '2.0', template: `${OVERLAYS}/prod` }), 'shop', { PATH: '/nonexistent' }))
    expect(error.message).toContain(`'${OVERLAYS}/prod' is a kustomization, which needs kustomize, and kustomize is not on PATH`)
    expect(error.message).toContain('uses: imranismail/setup-kustomize@v2')
  })
})
