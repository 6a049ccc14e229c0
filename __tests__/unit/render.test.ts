import { describe, expect, it } from '@jest/globals'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { chooseContainers } from '../../src/render/containers.js'
import { imageVersionProblem, parseImageReference, versionOf, withVersion } from '../../src/render/image.js'
import { substitute } from '../../src/render/placeholders.js'
import { parseDocuments } from '../../src/render/source.js'
import { TASK_DEFINITION_MAX_BYTES, renderTaskDefinition, withTags } from '../../src/render/task-definition.js'
import { readTemplateFile } from '../../src/render/template-file.js'
import { renderManifests } from '../../src/render/manifests.js'
import { userError } from '../helpers/user-error.js'

describe('image references', () => {
  it('replaces the tag or digest and keeps registry ports', () => {
    expect(withVersion('localhost:5000/team/web:1.0', { tag: '2.0' })).toBe('localhost:5000/team/web:2.0')
    expect(withVersion('123456789012.dkr.ecr.eu-west-1.amazonaws.com/web@sha256:' + 'a'.repeat(64), { tag: 'v3' })).toBe('123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:v3')
    expect(withVersion('nginx', { digest: 'sha256:' + 'b'.repeat(64) })).toBe('nginx@sha256:' + 'b'.repeat(64))
    expect(versionOf('ghcr.io/o/web:1.2.3')).toBe('1.2.3')
  })

  it('parses per the OCI grammar', () => {
    expect(parseImageReference('ghcr.io/org/app:v1@sha256:' + 'c'.repeat(64))).toEqual({ repository: 'ghcr.io/org/app', tag: 'v1', digest: 'sha256:' + 'c'.repeat(64) })
    expect(parseImageReference('a b')).toMatch(/whitespace/)
    expect(parseImageReference('web:')).toMatch(/invalid tag/)
    expect(imageVersionProblem('v1.2.3_rc-1')).toBeUndefined()
    expect(imageVersionProblem('.hidden')).toMatch(/not a valid tag/)
  })
})

describe('placeholders', () => {
  it('substitutes values, keeps $${X} as a literal ${X}', () => {
    expect(substitute('a: ${A}\nb: $${B}\n', 't.yaml', { A: '1' })).toBe('a: 1\nb: ${B}\n')
  })

  it('names every missing key and where it stands', () => {
    const error = userError(() => substitute('x: ${ONE}\ny:\n  z: "${TWO}-${ONE}"\n', 'deploy/web.yaml', {}))
    const text = error.problems.map(p => `${p.location ? `${p.location.file}:${p.location.line}:${p.location.column}` : '-'} ${p.message}`)
    expect(text).toEqual([
      'deploy/web.yaml:1:4 unknown placeholder ${ONE}',
      'deploy/web.yaml:3:7 unknown placeholder ${TWO}',
      'deploy/web.yaml:3:14 unknown placeholder ${ONE}',
      "- set ONE, TWO in the 'vars' input (KEY=value lines), or write $${KEY} for a literal"
    ])
  })

  it('refuses a multi-line value, which would shift every line after it', () => {
    expect(userError(() => substitute('k: ${A}', 'f', { A: 'x\ny' })).message).toMatch(/value of A spans several lines/)
  })
})

describe('task definitions', () => {
  const request = { service: 'web', containers: [] as string[], image: undefined, imageVersion: { tag: '2.0' } }
  const template = `{
  "family": "web",
  "taskDefinitionArn": "arn:aws:ecs:us-east-1:1:task-definition/web:3",
  "revision": 3,
  "status": "ACTIVE",
  "containerDefinitions": [
    { "name": "web", "image": "r.example/web:1.0" },
    { "name": "log-router", "image": "r.example/fluent-bit:2" }
  ]
}`

  it('puts the new image on the chosen container only and strips read-only fields', () => {
    const [doc] = parseDocuments(template, 'td.json')
    const { taskDefinition, images } = renderTaskDefinition(doc, request)
    expect(Object.keys(taskDefinition)).toEqual(['family', 'containerDefinitions'])
    expect(taskDefinition.containerDefinitions.map(c => c.image)).toEqual(['r.example/web:2.0', 'r.example/fluent-bit:2'])
    expect(images).toEqual([{ container: 'web', previous: 'r.example/web:1.0', next: 'r.example/web:2.0' }])
  })

  it('accepts describe-task-definition output and YAML', () => {
    const [doc] = parseDocuments('taskDefinition:\n  family: api\n  containerDefinitions:\n    - name: api\n      image: api:1\n', 'td.yaml')
    expect(renderTaskDefinition(doc, { ...request, service: 'api' }).taskDefinition.containerDefinitions[0].image).toBe('api:2.0')
  })

  it('reports unknown fields and missing names with their line', () => {
    const [doc] = parseDocuments('{\n  "family": "web",\n  "memroy": "512",\n  "containerDefinitions": [\n    { "image": "x:1" }\n  ]\n}', 'td.json')
    const error = userError(() => renderTaskDefinition(doc, request))
    expect(error.problems.map(p => `${p.location?.line}: ${p.message}`)).toEqual([
      expect.stringMatching(/^3: 'memroy' is not a task-definition field/),
      '5: container 1 needs a \'name\''
    ])
  })

  it('reports JSON syntax errors with file:line:col', () => {
    const error = userError(() => parseDocuments('{\n  "family": "web",\n  "cpu": ,\n}', 'td.json'))
    expect(error.problems[0].location).toMatchObject({ file: 'td.json', line: 3 })
  })

  it('refuses an unknown container and lists the candidates', () => {
    const [doc] = parseDocuments(template, 'td.json')
    expect(userError(() => renderTaskDefinition(doc, { ...request, containers: ['api'] })).message).toMatch(/has no container 'api'; it has 'web', 'log-router'/)
    expect(userError(() => renderTaskDefinition(doc, { ...request, service: 'svc' })).message).toMatch(/has 2 containers \('web', 'log-router'\) and none is named 'svc'/)
  })

  it('accepts a UTF-8 byte-order mark before JSON or YAML, read from a file or given as text', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bom-')), 'td.json')
    fs.writeFileSync(file, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(template)]))
    const text = await readTemplateFile(file)
    expect(text.startsWith('{')).toBe(true)
    const [doc] = parseDocuments(text, file)
    expect(renderTaskDefinition(doc, request).taskDefinition.family).toBe('web')
    expect(parseDocuments(`\uFEFF${template}`, 'td.json')[0].locate(['family'])).toMatchObject({ line: 2 })
    expect(parseDocuments('\uFEFFfamily: api\n', 'td.yaml')[0].value).toEqual({ family: 'api' })
  })

  it('refuses a task definition larger than ECS accepts before anything changes, naming what takes the room', () => {
    const environment = Array.from({ length: 700 }, (_, i) => ({ name: `VAR_${i}`, value: 'v'.repeat(90) }))
    const big = JSON.stringify({ family: 'web', containerDefinitions: [{ name: 'web', image: 'r/web:1', environment }, { name: 'side', image: 'r/side:1' }] }, null, 2)
    const [doc] = parseDocuments(big, 'td.json')
    const error = userError(() => renderTaskDefinition(doc, request))
    expect(error.problems).toEqual([
      expect.objectContaining({ input: 'template', location: expect.objectContaining({ file: 'td.json', line: 1 }) })
    ])
    expect(error.message).toMatch(/^td\.json:1:1: the task definition is \d+\.\d KiB as JSON, and ECS accepts at most 64 KiB; container 'web' takes \d+\.\d KiB\. Move large values out of it/)
    // Just under the limit is fine.
    const fits = Array.from({ length: 500 }, (_, i) => ({ name: `VAR_${i}`, value: 'v'.repeat(90) }))
    const [small] = parseDocuments(JSON.stringify({ family: 'web', containerDefinitions: [{ name: 'web', image: 'r/web:1', environment: fits }] }), 'td.json')
    expect(Buffer.byteLength(JSON.stringify(renderTaskDefinition(small, request).taskDefinition))).toBeLessThan(TASK_DEFINITION_MAX_BYTES)
  })

  it('merges tags by key', () => {
    const tagged = withTags({ family: 'f', containerDefinitions: [], tags: [{ key: 'team', value: 'a' }, { key: 'x', value: 'old' }] }, { x: 'new', empty: '' })
    expect(tagged.tags).toEqual([{ key: 'team', value: 'a' }, { key: 'x', value: 'new' }])
  })

  it('chooses the only container when there is one', () => {
    expect(chooseContainers([{ name: 'app', image: 'a:1' }], { containers: [], service: 'web' }, 'x').map(c => c.name)).toEqual(['app'])
  })
})

describe('a Rollout with a workloadRef', () => {
  const rollout = (kind = 'Deployment', name = 'web') => `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web}
spec:
  replicas: 2
  workloadRef: {apiVersion: apps/v1, kind: ${kind}, name: ${name}}
`
  const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers: [{name: web, image: shop/web:0}]
`
  const render = (text: string) => renderManifests(parseDocuments(text, 'k8s/web.yaml'), { service: 'web', image: 'shop/web:2.0', containers: [], github: {} } as unknown as Parameters<typeof renderManifests>[1], 'default')

  it('takes the referenced Deployment (of the same name, as in Argo\'s examples) as the workload the image goes into', () => {
    const rendered = render(`${rollout()}---\n${deployment}`)
    expect(rendered.target.object.kind).toBe('Deployment')
    expect(rendered.images).toEqual([expect.objectContaining({ container: 'web', next: 'shop/web:2.0' })])
  })

  it('refuses a workloadRef to a Deployment the template does not contain, at the line of its name', () => {
    const error = userError(() => render(rollout('Deployment', 'elsewhere')))
    expect(error.problems[0]).toMatchObject({ input: 'template', location: { file: 'k8s/web.yaml', line: 6 } })
    expect(error.problems[0].message).toMatch(/workloadRef names Deployment\/elsewhere, which the template does not contain/)
  })

  it('refuses a workloadRef to another kind than a Deployment', () => {
    expect(userError(() => render(rollout('ReplicaSet'))).problems[0].message).toMatch(/follows a workloadRef to an apps\/v1 Deployment only/)
  })
})
