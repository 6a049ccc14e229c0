// The ECS platform against moto_server, an independent implementation of the ECS API, through the
// real SDK: the happy path, request shapes, sidecars untouched, rollback to a named revision, and the
// bad-input cases, each of which must leave the server exactly as it was.
import { DeleteServiceCommand, DescribeServicesCommand, DescribeTaskDefinitionCommand, UpdateServiceCommand, type ECSClient } from '@aws-sdk/client-ecs'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import fs from 'node:fs'
import path from 'node:path'
import { startMoto, type MotoServer } from '../../test/support/moto.js'
import { ecsState, seedService } from '../helpers/ecs-state.js'
import { ecsClient, GITHUB_ENV, runEcs, templateWriter } from '../helpers/run.js'

let moto: MotoServer
let client: ECSClient
const file = templateWriter('ecs-templates-')

beforeAll(async () => {
  moto = await startMoto()
  client = ecsClient(moto.endpoint)
  await seedService(client, 'shop', 'web')
  await seedService(client, 'shop', 'api')
  await seedService(client, 'shop', 'cart')
  await seedService(client, 'shop', 'static')
  await seedService(client, 'shop', 'gone')
  await client.send(new UpdateServiceCommand({ cluster: 'shop', service: 'gone', desiredCount: 0 }))
  await client.send(new DeleteServiceCommand({ cluster: 'shop', service: 'gone' }))
})

afterAll(async () => {
  await moto.stop()
})

async function describeService(service: string) {
  const out = await client.send(new DescribeServicesCommand({ cluster: 'shop', services: [service] }))
  return out.services![0]
}

describe('deploy on moto', () => {
  it('deploys a new tag to one container with no template, the sidecar untouched', async () => {
    const run = await runEcs(moto.endpoint, { service: 'web', cluster: 'shop', 'image-tag': '1.1.0', wait: 'false' })
    expect(run.error).toBeUndefined()
    const result = run.result!
    expect(result.status).toBe('applied')
    expect(result.revision).toMatch(/task-definition\/web:2$/)
    expect(result.previousRevision).toMatch(/task-definition\/web:1$/)
    expect(result.images).toEqual([{ container: 'web', previous: 'registry.example/web:1.0.0', next: 'registry.example/web:1.1.0' }])
    expect(result.outputs['task-definition-arn']).toBe(result.revision)

    const service = await describeService('web')
    expect(service.taskDefinition).toBe(result.revision)
    const registered = await client.send(new DescribeTaskDefinitionCommand({ taskDefinition: result.revision, include: ['TAGS'] }))
    const containers = registered.taskDefinition!.containerDefinitions!
    expect(containers.map(c => [c.name, c.image])).toEqual([
      ['web', 'registry.example/web:1.1.0'],
      ['log-router', 'registry.example/fluent-bit:2.1']
    ])
    // The rest of the live definition is carried over as it was.
    expect(containers[0].environment).toEqual([{ name: 'MODE', value: 'prod' }])
    expect(containers[0].memory).toBe(256)
    expect(Object.fromEntries(registered.tags!.map(t => [t.key, t.value]))).toMatchObject({
      'deploy-service:commit': GITHUB_ENV.GITHUB_SHA,
      'deploy-service:run': 'https://github.com/acme/shop/actions/runs/4242',
      'deploy-service:previous-task-definition': result.previousRevision
    })
  })

  it('deploys from a JSON template with placeholders, registering exactly the rendered definition', async () => {
    const template = file(
      'api.json',
      JSON.stringify({
        family: 'api',
        taskDefinitionArn: 'arn:aws:ecs:us-east-1:123456789012:task-definition/api:9',
        revision: 9,
        status: 'ACTIVE',
        compatibilities: ['EC2'],
        requiresAttributes: [],
        cpu: '256',
        memory: '${MEMORY}',
        containerDefinitions: [
          { name: 'api', image: 'registry.example/api:latest', environment: [{ name: 'COMMIT', value: '${GITHUB_SHA}' }, { name: 'SVC', value: '${SERVICE}' }] },
          { name: 'log-router', image: 'registry.example/fluent-bit:2.1' }
        ]
      }, null, 2)
    )
    const run = await runEcs(moto.endpoint, { service: 'api', cluster: 'shop', template, 'image-tag': '2.0.0', vars: 'MEMORY=512', wait: 'false' })
    expect(run.error).toBeUndefined()
    const registered = (await client.send(new DescribeTaskDefinitionCommand({ taskDefinition: run.result!.revision }))).taskDefinition!
    expect(registered.memory).toBe('512')
    expect(registered.containerDefinitions![0].image).toBe('registry.example/api:2.0.0')
    expect(registered.containerDefinitions![0].environment).toEqual([
      { name: 'COMMIT', value: GITHUB_ENV.GITHUB_SHA },
      { name: 'SVC', value: 'api' }
    ])
    expect(registered.containerDefinitions![1].image).toBe('registry.example/fluent-bit:2.1')
    expect(fs.readFileSync(run.result!.renderedPath!, 'utf8')).toContain('"image": "registry.example/api:2.0.0"')
  })

  it('deploys a YAML template, a full image and a named container', async () => {
    const template = file('cart.yaml', 'family: cart\ncontainerDefinitions:\n  - name: cart\n    image: registry.example/cart:1\n    memory: 128\n  - name: log-router\n    image: registry.example/fluent-bit:2.1\n    memory: 64\n')
    const run = await runEcs(moto.endpoint, { service: 'cart', cluster: 'shop', template, image: 'ghcr.io/acme/fluent-bit:3.0', container: 'log-router', wait: 'false' })
    expect(run.error).toBeUndefined()
    const registered = (await client.send(new DescribeTaskDefinitionCommand({ taskDefinition: run.result!.revision }))).taskDefinition!
    expect(registered.containerDefinitions!.map(c => c.image)).toEqual(['registry.example/cart:1', 'ghcr.io/acme/fluent-bit:3.0'])
  })

  it('rolls back to a named revision without registering anything', async () => {
    const before = (await ecsState(client)) as { active: string[] }
    const run = await runEcs(moto.endpoint, { service: 'web', cluster: 'shop', mode: 'rollback', 'to-revision': '1', wait: 'false' })
    expect(run.error).toBeUndefined()
    expect(run.result!.revision).toMatch(/task-definition\/web:1$/)
    expect((await describeService('web')).taskDefinition).toMatch(/task-definition\/web:1$/)
    expect(((await ecsState(client)) as { active: string[] }).active).toEqual(before.active)
  })

  it('rolls back to the previous revision recorded on the running one', async () => {
    await runEcs(moto.endpoint, { service: 'web', cluster: 'shop', 'image-tag': '1.2.0', wait: 'false' })
    const running = (await describeService('web')).taskDefinition!
    const run = await runEcs(moto.endpoint, { service: 'web', cluster: 'shop', mode: 'rollback', wait: 'false' })
    expect(run.error).toBeUndefined()
    expect(run.result!.previousRevision).toBe(running)
    expect(run.result!.revision).toMatch(/task-definition\/web:1$/)
  })

  it('renders without touching the server, and a dry run shows the diff', async () => {
    const before = await ecsState(client)
    const render = await runEcs(moto.endpoint, { service: 'web', cluster: 'shop', mode: 'render', 'image-tag': '9.9.9' })
    expect(render.result!.status).toBe('rendered')
    expect(fs.readFileSync(render.result!.renderedPath!, 'utf8')).toContain('registry.example/web:9.9.9')
    const dry = await runEcs(moto.endpoint, { service: 'web', cluster: 'shop', 'dry-run': 'true', 'image-tag': '9.9.9' })
    expect(dry.result!.status).toBe('dry-run')
    expect(dry.result!.diff).toContain('~ web: image registry.example/web:1.0.0 -> registry.example/web:9.9.9')
    expect(dry.result!.diff).toMatch(/^-\s+image: registry\.example\/web:1\.0\.0$/m)
    expect(await ecsState(client)).toEqual(before)
  })
})

describe('bad input on moto changes nothing', () => {
  const cases: Array<[string, () => Record<string, string>, RegExp]> = [
    ['an unknown service', () => ({ service: 'nope', cluster: 'shop', 'image-tag': '1' }), /ECS service 'nope' was not found in cluster 'shop'/],
    ['an unknown cluster', () => ({ service: 'web', cluster: 'nowhere', 'image-tag': '1' }), /cluster 'nowhere' does not exist: check the 'cluster' input/],
    ['an INACTIVE service', () => ({ service: 'gone', cluster: 'shop', 'image-tag': '1' }), /'gone' (is INACTIVE, not ACTIVE|was not found)/],
    ['a missing template file', () => ({ service: 'web', cluster: 'shop', 'image-tag': '1', template: path.join(file.dir, 'missing.json') }), /cannot read '.*missing\.json': no such file/],
    ['a folder as an ECS template', () => ({ service: 'web', cluster: 'shop', 'image-tag': '1', template: file.dir, platform: 'ecs' }), /it is a folder, not a file/],
    ['malformed JSON', () => ({ service: 'web', cluster: 'shop', 'image-tag': '1', template: file('bad.json', '{\n  "family": "web",\n  "containerDefinitions": [\n    { "name": "web", "image": "x:1", }\n  ]\n}') }), /bad\.json:4:\d+: invalid JSON/],
    ['malformed YAML', () => ({ service: 'web', cluster: 'shop', 'image-tag': '1', template: file('bad.yaml', 'family: web\ncontainerDefinitions:\n  - name: web\n   image: x:1\n') }), /bad\.yaml:4:\d+/],
    ['an unknown placeholder', () => ({ service: 'web', cluster: 'shop', 'image-tag': '1', template: file('ph.json', '{"family": "web", "containerDefinitions": [{"name": "web", "image": "x:1", "memory": ${MEM}}]}') }), /ph\.json:1:\d+: unknown placeholder \$\{MEM\}/],
    ['an unknown container', () => ({ service: 'web', cluster: 'shop', 'image-tag': '1', container: 'worker' }), /has no container 'worker'; it has 'web', 'log-router'/],
    ['an unknown task-definition field', () => ({ service: 'web', cluster: 'shop', 'image-tag': '1', template: file('typo.json', '{"family": "web", "containerDefinitons": []}') }), /'containerDefinitons' is not a task-definition field/],
    ['two documents in one ECS template', () => ({ service: 'web', cluster: 'shop', 'image-tag': '1', platform: 'ecs', template: file('two.yaml', 'family: a\ncontainerDefinitions: [{name: web, image: "x:1"}]\n---\nfamily: b\n') }), /holds one task definition; this file has 2 documents/],
    ['a revision that does not exist', () => ({ service: 'web', cluster: 'shop', mode: 'rollback', 'to-revision': '99' }), /to-revision.*web:99.*cannot be used/],
    ['a rollback to the running revision', () => ({ service: 'static', cluster: 'shop', mode: 'rollback', 'to-revision': '1' }), /the service already runs static:1: nothing to roll back to/],
    ['an invalid tag', () => ({ service: 'web', cluster: 'shop', 'image-tag': 'v1 beta' }), /input 'image-tag': 'v1 beta' is not a valid tag/],
    ['an invalid duration', () => ({ service: 'web', cluster: 'shop', 'image-tag': '1', timeout: '5 parsecs' }), /input 'timeout': '5 parsecs' is not a duration/],
    ['an invalid digest', () => ({ service: 'web', cluster: 'shop', 'image-tag': 'sha256:abc' }), /not a sha256 digest/],
    ['an invalid revision reference', () => ({ service: 'web', cluster: 'shop', mode: 'rollback', 'to-revision': 'web@3' }), /input 'to-revision': 'web@3' is not a revision/],
    ['no image to deploy', () => ({ service: 'web', cluster: 'shop' }), /input 'image-tag': is required with mode 'deploy'/],
    ['both image and image-tag', () => ({ service: 'web', cluster: 'shop', image: 'r/web:2', 'image-tag': '2' }), /give either 'image' \(a full reference\) or 'image-tag', not both/],
    ['${IMAGE} without the image input', () => ({ service: 'web', cluster: 'shop', 'image-tag': '1', template: file('img.json', '{"family": "web", "containerDefinitions": [{"name": "web", "image": "${IMAGE}"}]}') }), /unknown placeholder \$\{IMAGE\} \(IMAGE is known only when the 'image' input is set\)/],
    ['a template without family', () => ({ service: 'web', cluster: 'shop', 'image-tag': '1', template: file('nofamily.json', '{"containerDefinitions": [{"name": "web", "image": "x:1"}]}') }), /'family' is required/],
    ['a template without containers', () => ({ service: 'web', cluster: 'shop', 'image-tag': '1', template: file('empty.json', '{"family": "web", "containerDefinitions": []}') }), /'containerDefinitions' must be a non-empty list/],
    ['a container without an image', () => ({ service: 'web', cluster: 'shop', 'image-tag': '1', template: file('noimage.yaml', 'family: web\ncontainerDefinitions:\n  - name: web\n') }), /noimage\.yaml:3:\d+: container 'web' needs an 'image'/],
    ['a vars line that is not KEY=value', () => ({ service: 'web', cluster: 'shop', 'image-tag': '1', vars: 'MEMORY 512' }), /line 1: 'MEMORY 512' is not KEY=value/],
    ['a template that is not an object', () => ({ service: 'web', cluster: 'shop', 'image-tag': '1', platform: 'ecs', template: file('list.json', '[1, 2]') }), /a task definition must be an object/],
    ['a platform that cannot be told', () => ({ service: 'web', 'image-tag': '1', platform: '' }), /cannot tell the platform: set 'platform' to ecs or kubernetes/]
  ]

  it.each(cases)('%s', async (_name, inputs, pattern) => {
    const before = await ecsState(client)
    const run = await runEcs(moto.endpoint, inputs())
    expect(run.result).toBeUndefined()
    expect(run.error?.message).toMatch(pattern)
    expect(await ecsState(client)).toEqual(before)
  })
})

describe('keep-revisions on moto', () => {
  it('deregisters ACTIVE revisions beyond the newest N, never one a service uses', async () => {
    // 'ledger-canary' (another cluster) pins ledger:2 by family:revision; moto never ends a deployment,
    // so the service's first deployment (ledger:1) is still listed and ledger:1 counts as in use too.
    await seedService(client, 'shop', 'ledger')
    await runEcs(moto.endpoint, { service: 'ledger', cluster: 'shop', 'image-tag': '2', wait: 'false' })
    await seedService(client, 'canary', 'ledger-canary', 'ledger-canary')
    await client.send(new UpdateServiceCommand({ cluster: 'canary', service: 'ledger-canary', taskDefinition: 'ledger:2' }))
    for (const tag of ['3', '4']) await runEcs(moto.endpoint, { service: 'ledger', cluster: 'shop', 'image-tag': tag, wait: 'false' })
    const run = await runEcs(moto.endpoint, { service: 'ledger', cluster: 'shop', 'image-tag': '5', wait: 'false', 'keep-revisions': '2' })
    expect(run.result!.status).toBe('applied')
    expect(run.log.join('\n')).toMatch(/keep-revisions 2: deregistered ledger:3$/m)
    const { active, inactive } = (await ecsState(client)) as { active: string[]; inactive: string[] }
    const ledger = (list: string[]): string[] => list.filter(a => /task-definition\/ledger:/.test(a)).map(a => a.split('/').pop()!)
    expect(ledger(active)).toEqual(['ledger:1', 'ledger:2', 'ledger:4', 'ledger:5'])
    expect(ledger(inactive)).toEqual(['ledger:3'])
  })
})
