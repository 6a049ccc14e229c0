// A template far larger than the platform accepts is refused by its size, before it is read or parsed, with
// an error that names the file, its size and the limit. ECS: the whole action against the scripted endpoint
// (nothing registered); Kubernetes: loading the manifests (nothing is sent for them to refuse).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from '@jest/globals'
import { UserError } from '../../src/errors.js'
import { parseInputs } from '../../src/inputs.js'
import { loadManifestDocuments } from '../../src/render/manifests.js'
import { startScriptedEcs } from '../../test/support/scripted-ecs.js'
import { runEcs } from '../helpers/run.js'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'template-size-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

/** A generated task definition of about `bytes`: valid JSON, one container with a huge environment. */
function bigTaskDefinition(file: string, bytes: number): string {
  const entry = (i: number) => `{"name":"GENERATED_${String(i).padStart(8, '0')}","value":"${'x'.repeat(60)}"}`
  const count = Math.ceil(bytes / entry(0).length)
  const environment = Array.from({ length: count }, (_, i) => entry(i)).join(',')
  fs.writeFileSync(file, `{"family":"web","containerDefinitions":[{"name":"web","image":"registry.example/web:1.0.0","essential":true,"environment":[${environment}]}]}`)
  return file
}

async function rejection(promise: Promise<unknown>): Promise<UserError> {
  const error = await promise.then(() => undefined, (thrown: unknown) => thrown)
  if (error instanceof UserError) return error
  throw error ?? new Error('expected a UserError')
}

describe('a template far larger than the platform accepts', () => {
  const file = bigTaskDefinition(path.join(dir, 'task-definition.json'), 6 * 1024 * 1024)
  const size = fs.statSync(file).size

  for (const [how, platform] of [['with platform: ecs', 'ecs'], ['with the platform inferred from it', '']] as const) {
    it(`ECS: refuses the task definition by its size, naming the file, its size and the limit, and registers nothing (${how})`, async () => {
      const ecs = await startScriptedEcs()
      try {
        const run = await runEcs(ecs.endpoint, { service: 'web', 'image-tag': '2.0.0', template: file, platform })
        expect(run.error).toBeInstanceOf(UserError)
        const message = run.error!.message
        expect(message).toContain(`input 'template': '${file}' is ${(size / 1024 / 1024).toFixed(1)} MiB (${size} bytes), more than the 256 KiB a task-definition template may be`)
        expect(message).toContain('ECS registers a task definition of at most 64 KiB')
        expect(message).toContain('before it was read')
        expect(ecs.calls.filter(c => ['RegisterTaskDefinition', 'UpdateService'].includes(c.operation))).toEqual([])
      } finally {
        await ecs.close()
      }
    })
  }

  const request = (template: string) =>
    parseInputs({ 'INPUT_SERVICE': 'web', 'INPUT_IMAGE-TAG': '2.0.0', INPUT_PLATFORM: 'kubernetes', INPUT_TEMPLATE: template, GITHUB_SHA: 'abc' })

  it('Kubernetes: refuses a manifest file over 3 MiB by its size, naming it, its size and the limit', async () => {
    const folder = fs.mkdtempSync(path.join(dir, 'one-'))
    fs.writeFileSync(path.join(folder, 'a-service.yaml'), 'apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n')
    // Sparse: as large as a generated bundle, yet it costs nothing to make; its content is never read.
    const generated = path.join(folder, 'b-generated.yaml')
    fs.closeSync(fs.openSync(generated, 'w'))
    fs.truncateSync(generated, 55 * 1024 * 1024)
    const error = await rejection(loadManifestDocuments(request(folder), 'default'))
    expect(error.problems).toHaveLength(1)
    expect(error.message).toContain(`input 'template': '${generated}' is 55.0 MiB (57671680 bytes), more than the 3 MiB a manifest file may be`)
    expect(error.message).toMatch(/the Kubernetes API server takes at most 3 MiB in one request and etcd stores objects of at most 1\.5 MiB/)
  })

  it('Kubernetes: refuses manifest files over 8 MiB together, naming the template, the total and the limit', async () => {
    const folder = fs.mkdtempSync(path.join(dir, 'many-'))
    for (const name of ['a.yaml', 'b.yaml', 'c.yaml']) {
      const file = path.join(folder, name)
      fs.closeSync(fs.openSync(file, 'w'))
      fs.truncateSync(file, 3 * 1024 * 1024 - 1)
    }
    const error = await rejection(loadManifestDocuments(request(folder), 'default'))
    expect(error.message).toContain(`input 'template': '${folder}' (3 files) is 9.0 MiB (9437181 bytes), more than the 8 MiB the manifest files of 'template' together may be`)
  })
})
