// What prepare decides before anything changes, against moto: services ECS will not deploy through
// UpdateService are refused (also in a dry run), desired-count 0 warns, previous-image is what ran,
// keep-revisions keeps the rollback target, and no environment value reaches the log, the summary or
// the outputs of a dry run or a render.
import { CreateServiceCommand, DescribeTaskDefinitionCommand, RegisterTaskDefinitionCommand, type ECSClient } from '@aws-sdk/client-ecs'
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals'
import fs from 'node:fs'
import { parseInputs } from '../../src/inputs.js'
import { EcsApi } from '../../src/platforms/ecs/client.js'
import { PREVIOUS_TAG, pruneRevisions } from '../../src/platforms/ecs/revisions.js'
import { outputsOf } from '../../src/report/outputs.js'
import { summaryMarkdown } from '../../src/report/summary.js'
import { startMoto, type MotoServer } from '../../test/support/moto.js'
import { ecsState, seedService } from '../helpers/ecs-state.js'
import { ecsClient, GITHUB_ENV, inputEnv, runEcs, templateWriter } from '../helpers/run.js'

let moto: MotoServer
let client: ECSClient
const file = templateWriter('ecs-prepare-')

beforeAll(async () => {
  moto = await startMoto()
  client = ecsClient(moto.endpoint)
  await seedService(client, 'shop', 'web')
  for (const type of ['CODE_DEPLOY', 'EXTERNAL'] as const) {
    const family = `by-${type.toLowerCase().replace('_', '-')}`
    const registered = await client.send(new RegisterTaskDefinitionCommand({ family, containerDefinitions: [{ name: family, image: `registry.example/${family}:1`, memory: 128 }] }))
    await client.send(new CreateServiceCommand({ cluster: 'shop', serviceName: family, taskDefinition: registered.taskDefinition!.taskDefinitionArn, desiredCount: 1, deploymentController: { type } }))
  }
})

afterAll(async () => {
  await moto.stop()
})

/** Everything a stdout-writing warning (::warning::) printed while `fn` ran. */
async function stdoutOf<T>(fn: () => Promise<T>): Promise<{ value: T; stdout: string }> {
  let stdout = ''
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation(chunk => {
    stdout += String(chunk)
    return true
  })
  try {
    return { value: await fn(), stdout }
  } finally {
    spy.mockRestore()
  }
}

describe('deployment controllers', () => {
  it.each([
    ['EXTERNAL', 'by-external', /uses the EXTERNAL deployment controller: .*this action cannot deploy task sets/]
  ])('refuses a service under the %s controller before registering anything, in a deploy, a dry run and a rollback', async (_type, service, pattern) => {
    const before = await ecsState(client)
    const variants: Array<Record<string, string>> = [{}, { 'dry-run': 'true' }, { mode: 'rollback', 'to-revision': '1', 'image-tag': '' }]
    for (const extra of variants) {
      const run = await runEcs(moto.endpoint, { service, cluster: 'shop', 'image-tag': '2', ...extra })
      expect(run.result).toBeUndefined()
      expect(run.error?.message).toMatch(pattern)
      expect(run.error?.message).toContain(`input 'service': ECS service '${service}'`)
    }
    expect(await ecsState(client)).toEqual(before)
  })
})

describe('plan', () => {
  it('warns that nothing will run with desired-count 0, in the plan line and as a runner warning', async () => {
    const { value: run, stdout } = await stdoutOf(() => runEcs(moto.endpoint, { service: 'web', cluster: 'shop', 'image-tag': '1.0.1', 'desired-count': '0', wait: 'false' }))
    expect(run.error).toBeUndefined()
    expect(run.log.join('\n')).toContain("warning: 'desired-count' is 0: no task of the new revision will run")
    expect(stdout).toMatch(/^::warning::'desired-count' is 0: no task of the new revision will run/m)
  })

  it('gives no such warning for a service that runs tasks', async () => {
    const { value: run, stdout } = await stdoutOf(() => runEcs(moto.endpoint, { service: 'web', cluster: 'shop', 'image-tag': '1.0.2', 'desired-count': '2', wait: 'false' }))
    expect(run.error).toBeUndefined()
    expect(stdout).not.toContain('::warning::')
    expect(run.log.join('\n')).not.toContain('no task of the new revision will run')
  })

  it('reports the image that ran before as previous-image, not the template with ${IMAGE_TAG} filled in', async () => {
    await seedService(client, 'shop', 'tagged')
    const template = file('tagged.json', JSON.stringify({ family: 'tagged', containerDefinitions: [{ name: 'tagged', image: 'registry.example/tagged:${IMAGE_TAG}', memory: 256 }] }))
    const run = await runEcs(moto.endpoint, { service: 'tagged', cluster: 'shop', template, 'image-tag': '7.7.7', wait: 'false' })
    expect(run.error).toBeUndefined()
    expect(run.result!.images).toEqual([{ container: 'tagged', previous: 'registry.example/tagged:1.0.0', next: 'registry.example/tagged:7.7.7' }])
    expect(outputsOf(run.result!)['previous-image']).toBe('registry.example/tagged:1.0.0')
    expect(run.log.join('\n')).toContain('tagged: registry.example/tagged:1.0.0 -> registry.example/tagged:7.7.7')
  })
})

describe('keep-revisions', () => {
  // Registered as the action registers them (its registration tag), each recording the one before it
  // as a deploy does (a service ran it, then the next): no deploy can still be on its way to them, so
  // only what protects a revision keeps it. (moto gives no registeredAt, so age proves nothing here.)
  const register = (api: EcsApi, family: string, i: number, previous?: string): Promise<string> =>
    api.registerTaskDefinition({ family, containerDefinitions: [{ name: family, image: `registry.example/${family}:${i}`, memory: 64 }], tags: previous ? [{ key: PREVIOUS_TAG, value: previous }] : undefined }).then(td => td.taskDefinitionArn!)

  it('never deregisters the revision a rollback returns to, even beyond the newest N', async () => {
    // No service uses any of them, so only the recorded rollback target protects one: vault:4 records vault:1.
    const api = new EcsApi('shop', client)
    const arns: string[] = []
    for (let i = 1; i <= 4; i++) arns.push(await register(api, 'vault', i, i === 4 ? arns[0] : arns[i - 2]))
    const pruned = await pruneRevisions(api, 'vault', 2)
    expect(pruned.deregistered.map(arn => arn.split('/').pop())).toEqual(['vault:2'])
    const status = async (arn: string): Promise<string | undefined> => (await client.send(new DescribeTaskDefinitionCommand({ taskDefinition: arn }))).taskDefinition!.status
    expect(await status(arns[0])).toBe('ACTIVE')
    expect(await status(arns[1])).toBe('INACTIVE')
  })

  it('also keeps a target the caller names', async () => {
    const api = new EcsApi('shop', client)
    const arns: string[] = []
    // named:4 records named:3, which a rollback of it returns to, whatever the caller names.
    for (let i = 1; i <= 4; i++) arns.push(await register(api, 'named', i, arns[i - 2]))
    const pruned = await pruneRevisions(api, 'named', 1, [arns[0]])
    expect(pruned.deregistered).toEqual([arns[1]])
  })
})

describe('environment values stay secret', () => {
  const secret = 'hunter2-s3cr3t-old'
  const newSecret = 'n3w-s3cr3t-value-42'
  const addedSecret = 'added-t0ken-value'

  beforeAll(async () => {
    await client.send(new RegisterTaskDefinitionCommand({
      family: 'payments',
      containerDefinitions: [{ name: 'payments', image: 'registry.example/payments:1', memory: 256, environment: [{ name: 'DB_PASSWORD', value: secret }, { name: 'MODE', value: 'prod' }], secrets: [{ name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/api-key' }] }]
    })).then(registered => client.send(new CreateServiceCommand({ cluster: 'shop', serviceName: 'payments', taskDefinition: registered.taskDefinition!.taskDefinitionArn, desiredCount: 1 })))
  })

  const template = (): string =>
    file('payments.json', JSON.stringify({
      family: 'payments',
      containerDefinitions: [{ name: 'payments', image: 'registry.example/payments:${IMAGE_TAG}', memory: 256, environment: [{ name: 'DB_PASSWORD', value: newSecret }, { name: 'MODE', value: 'prod' }, { name: 'NEW_TOKEN', value: addedSecret }], secrets: [{ name: 'API_KEY', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/api-key' }] }]
    }))

  /** Every text of the run that anyone who reads the workflow run can see. */
  function visible(run: Awaited<ReturnType<typeof runEcs>>, inputs: Record<string, string>): string {
    const request = parseInputs({ ...GITHUB_ENV, ...inputEnv({ platform: 'ecs', ...inputs }) })
    return [run.log.join('\n'), run.result!.message, run.result!.diff ?? '', JSON.stringify(outputsOf(run.result!)), summaryMarkdown(run.result!, request, 'ecs')].join('\n')
  }

  it('a dry run shows names and that a value changed, never a value', async () => {
    const inputs = { service: 'payments', cluster: 'shop', template: template(), 'image-tag': '2', 'dry-run': 'true' }
    const run = await runEcs(moto.endpoint, inputs)
    expect(run.error).toBeUndefined()
    const text = visible(run, inputs)
    for (const value of [secret, newSecret, addedSecret]) expect(text).not.toContain(value)
    expect(run.result!.diff).toMatch(/~ payments: environment DB_PASSWORD changed \(secret value, hmac [0-9a-f]{10}\) -> \(secret value, hmac [0-9a-f]{10}\)/)
    expect(run.result!.diff).toContain('+ payments: environment NEW_TOKEN')
    expect(run.result!.diff).not.toMatch(/environment MODE changed/)
    // secrets are references, not values: shown.
    expect(text).toContain('parameter/api-key')
    // The rendered file, for the job's own steps, holds the real values.
    expect(fs.readFileSync(run.result!.renderedPath!, 'utf8')).toContain(newSecret)
  })

  it('a render prints the task definition with each environment value hashed', async () => {
    const inputs = { service: 'payments', cluster: 'shop', template: template(), 'image-tag': '2', mode: 'render' }
    const run = await runEcs(moto.endpoint, inputs)
    expect(run.error).toBeUndefined()
    const text = visible(run, inputs)
    for (const value of [newSecret, addedSecret]) expect(text).not.toContain(value)
    expect(text).toContain('"name": "DB_PASSWORD"')
    expect(text).toMatch(/"value": "\(secret value, hmac [0-9a-f]{10}\)"/)
    expect(fs.readFileSync(run.result!.renderedPath!, 'utf8')).toContain(addedSecret)
  })

  it('a deploy does not print values either, and registers them unchanged', async () => {
    const inputs = { service: 'payments', cluster: 'shop', template: template(), 'image-tag': '3', wait: 'false' }
    const run = await runEcs(moto.endpoint, inputs)
    expect(run.error).toBeUndefined()
    const text = visible(run, inputs)
    for (const value of [secret, newSecret, addedSecret]) expect(text).not.toContain(value)
    const registered = await client.send(new DescribeTaskDefinitionCommand({ taskDefinition: run.result!.revision }))
    expect(registered.taskDefinition!.containerDefinitions![0].environment).toContainEqual({ name: 'DB_PASSWORD', value: newSecret })
  })
})
