import { describe, expect, it } from '@jest/globals'
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { parse } from 'yaml'

// The README's reference is what users read instead of action.yml: nothing undocumented, nothing
// documented that does not exist, and the defaults it shows are the real ones.

const run = promisify(execFile)
const root = path.resolve(import.meta.dirname, '..')
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8')
const action = parse(fs.readFileSync(path.join(root, 'action.yml'), 'utf8')) as {
  inputs: Record<string, { description?: string; required?: boolean; default?: unknown }>
  outputs: Record<string, { description?: string }>
}

function between(start: string, end: string): string {
  const from = readme.indexOf(start)
  const to = readme.indexOf(end)
  expect([start, from >= 0 && to > from]).toEqual([start, true])
  return readme.slice(from + start.length, to)
}

/** Table rows whose first cell is a `name`: [name, the other cells]. */
function rows(markdown: string): Array<[string, string[]]> {
  return [...markdown.matchAll(/^\|\s*`([^`]+)`\s*\|(.*)\|\s*$/gm)].map(([, name, rest]) => [name, rest.split(/(?<!\\)\|/).map(cell => cell.trim())])
}

const reference = between('<!-- reference:start -->', '<!-- reference:end -->')
const [inputsPart, outputsPart] = reference.split(/^### Outputs$/m)
const documentedInputs = rows(inputsPart)
const documentedOutputs = rows(outputsPart ?? '')

describe('README reference', () => {
  it('has an Inputs and an Outputs section', () => {
    expect(inputsPart).toMatch(/^### Inputs$/m)
    expect(outputsPart).toBeDefined()
  })

  it('documents every input of action.yml once, and nothing else', () => {
    const names = documentedInputs.map(([name]) => name)
    expect(names.filter((name, i) => names.indexOf(name) !== i)).toEqual([])
    expect([...names].sort()).toEqual(Object.keys(action.inputs).sort())
  })

  it('documents every output of action.yml once, and nothing else', () => {
    const names = documentedOutputs.map(([name]) => name)
    expect(names.filter((name, i) => names.indexOf(name) !== i)).toEqual([])
    expect([...names].sort()).toEqual(Object.keys(action.outputs).sort())
  })

  it("shows each input's real default (or that it is required) and a description", () => {
    const wrong: string[] = []
    for (const [name, [shown, description]] of documentedInputs) {
      const spec = action.inputs[name]
      if (!spec) continue
      const expected = spec.required ? '**required**' : spec.default === undefined || spec.default === '' ? '' : `\`${String(spec.default)}\``
      if (shown !== expected) wrong.push(`${name}: shows '${shown}', action.yml says '${expected}'`)
      if (!description) wrong.push(`${name}: no description`)
    }
    expect(wrong).toEqual([])
  })

  it('describes every output', () => {
    expect(documentedOutputs.filter(([, [description]]) => !description).map(([name]) => name)).toEqual([])
  })
})

describe('README examples', () => {
  const section = between('<!-- examples:start -->', '<!-- examples:end -->')
  const blocks = [...section.matchAll(/```ya?ml\n([\s\S]*?)```/g)].map(match => match[1])

  it('show deploying on merge and a manual rollback, and link to examples/ files that exist', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(2)
    expect(blocks.some(block => /push:/.test(block) && /paths:/.test(block))).toBe(true)
    expect(blocks.some(block => /workflow_dispatch:/.test(block) && /mode: rollback/.test(block))).toBe(true)
    const links = [...section.matchAll(/\]\((examples\/[^)]*)\)/g)].map(match => match[1])
    expect(links.length).toBeGreaterThan(0)
    expect(links.filter(link => !fs.existsSync(path.join(root, link)))).toEqual([])
  })

  it('use only inputs action.yml declares', () => {
    const unknown: string[] = []
    for (const block of blocks) {
      const workflow = parse(block) as { jobs: Record<string, { steps?: Array<{ uses?: string; with?: Record<string, unknown> }> }> }
      for (const job of Object.values(workflow.jobs)) {
        for (const step of job.steps ?? []) {
          if (!/\/deploy-service@/.test(step.uses ?? '')) continue
          for (const key of Object.keys(step.with ?? {})) if (!(key in action.inputs)) unknown.push(key)
        }
      }
    }
    expect(unknown).toEqual([])
  })

  it('pass actionlint', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'readme-examples-'))
    try {
      const files = blocks.map((block, i) => {
        const file = path.join(dir, `readme-example-${i + 1}.yml`)
        fs.writeFileSync(file, block)
        return file
      })
      const result = await run('bash', [path.join(root, 'scripts/actionlint.sh'), ...files], { cwd: root, timeout: 600_000 }).then(
        ({ stdout }) => ({ code: 0, findings: stdout }),
        (error: { code?: number; stdout?: string }) => ({ code: error.code ?? 1, findings: error.stdout ?? '' })
      )
      expect(result).toEqual({ code: 0, findings: '' })
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 600_000)
})
