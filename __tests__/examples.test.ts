import { describe, expect, it } from '@jest/globals'
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { parse } from 'yaml'

// The example workflows are what users copy: they must pass actionlint, and use only inputs and
// outputs that action.yml declares (actionlint cannot know our action's interface).

const run = promisify(execFile)
const root = path.resolve(import.meta.dirname, '..')
const action = parse(fs.readFileSync(path.join(root, 'action.yml'), 'utf8')) as {
  inputs: Record<string, { required?: boolean; default?: unknown }>
  outputs: Record<string, unknown>
}
const inputs = new Set(Object.keys(action.inputs))
const outputs = new Set(Object.keys(action.outputs))
const requiredInputs = Object.entries(action.inputs)
  .filter(([, spec]) => spec.required === true && spec.default === undefined)
  .map(([name]) => name)

type Step = { id?: string; uses?: string; with?: Record<string, unknown> }
type Job = { steps?: Step[]; permissions?: Record<string, string> | string; concurrency?: unknown }
type Workflow = { permissions?: Record<string, string> | string; concurrency?: unknown; jobs: Record<string, Job> }

const files = fs
  .readdirSync(path.join(root, 'examples'))
  .filter(name => /\.ya?ml$/.test(name))
  .sort()
const examples = files.map(name => ({ name, workflow: parse(fs.readFileSync(path.join(root, 'examples', name), 'utf8')) as Workflow }))

/** Our action as users write it: `<owner>/deploy-service@<ref>`, or `./` from this repository. */
const isOurs = (step: Step): boolean => typeof step.uses === 'string' && (/^[\w.-]+\/deploy-service@/.test(step.uses) || step.uses === './')

function ourSteps(job: Job): Step[] {
  return (job.steps ?? []).filter(isOurs)
}

function permission(workflow: Workflow, job: Job, name: string): string | undefined {
  const scope = job.permissions ?? workflow.permissions
  if (scope === 'write-all') return 'write'
  if (scope === 'read-all') return 'read'
  return typeof scope === 'object' ? scope[name] : undefined
}

describe('examples/', () => {
  it('has the workflows teams write', () => {
    expect(files.length).toBeGreaterThanOrEqual(4)
    for (const { name, workflow } of examples) {
      expect([name, Object.values(workflow.jobs).some(job => ourSteps(job).length > 0)]).toEqual([name, true])
    }
  })

  it('passes actionlint', async () => {
    const result = await run('bash', [path.join(root, 'scripts/actionlint.sh')], { cwd: root, timeout: 600_000 }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code?: number; stdout?: string; stderr?: string }) => ({ code: error.code ?? 1, stdout: error.stdout ?? '', stderr: error.stderr ?? '' })
    )
    // On failure the findings are the message.
    expect({ code: result.code, findings: result.stdout }).toEqual({ code: 0, findings: '' })
  }, 600_000)

  it('scripts/actionlint.sh fails, with the finding, on a broken workflow', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'actionlint-'))
    try {
      const file = path.join(dir, 'broken.yml')
      fs.writeFileSync(file, 'on: push\njobs:\n  deploy:\n    steps:\n      - uses: aws-actions/configure-aws-credentials@v4\n        with:\n          role-to-asume: x\n')
      const error = await run('bash', [path.join(root, 'scripts/actionlint.sh'), file], { cwd: root, timeout: 600_000 }).then(
        () => undefined,
        (failure: { code?: number; stdout?: string }) => failure
      )
      expect(error?.code).toBe(1)
      expect(error?.stdout).toContain('"runs-on" section is missing')
      expect(error?.stdout).toContain('input "role-to-asume" is not defined')
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 600_000)

  it.each(examples)('$name: every with: key of our action is an input of action.yml, and required inputs are given', ({ workflow }) => {
    const unknown: string[] = []
    const missing: string[] = []
    for (const [jobName, job] of Object.entries(workflow.jobs)) {
      for (const step of ourSteps(job)) {
        const given = Object.keys(step.with ?? {})
        for (const key of given) if (!inputs.has(key)) unknown.push(`${jobName}: ${key}`)
        for (const key of requiredInputs) if (!given.includes(key)) missing.push(`${jobName}: ${key}`)
      }
    }
    expect({ unknown, missing }).toEqual({ unknown: [], missing: [] })
  })

  it.each(examples)('$name: every steps.<id>.outputs.<name> of our step is an output of action.yml', ({ workflow }) => {
    const unknown: string[] = []
    for (const [jobName, job] of Object.entries(workflow.jobs)) {
      const ids = new Set(ourSteps(job).map(step => step.id).filter((id): id is string => typeof id === 'string'))
      // Outputs are referenced from later steps and from the job's own `outputs:`, all inside the job.
      const text = JSON.stringify(job)
      for (const match of text.matchAll(/steps\.([\w-]+)\.outputs(?:\.([\w-]+)|\[\s*'([^']+)'\s*\])/g)) {
        const [, id, dotted, bracketed] = match
        if (!ids.has(id)) continue
        const name = dotted ?? bracketed
        if (!outputs.has(name)) unknown.push(`${jobName}: steps.${id}.outputs.${name}`)
      }
    }
    expect(unknown).toEqual([])
  })

  it('uses, across the examples, every output a user would read', () => {
    const text = examples.map(({ workflow }) => JSON.stringify(workflow)).join('\n')
    for (const name of ['status', 'revision', 'previous-revision', 'image']) expect([name, text.includes(`.outputs.${name}`)]).toEqual([name, true])
  })

  it.each(examples)('$name: records Deployments only with `deployments: write`, and assumes AWS roles only with `id-token: write`', ({ workflow }) => {
    const problems: string[] = []
    for (const [jobName, job] of Object.entries(workflow.jobs)) {
      const records = ourSteps(job).some(step => step.with?.environment !== undefined)
      if (records && permission(workflow, job, 'deployments') !== 'write') problems.push(`${jobName}: sets environment without permissions deployments: write`)
      const oidc = (job.steps ?? []).some(step => step.uses?.startsWith('aws-actions/configure-aws-credentials') && step.with?.['role-to-assume'] && !step.with?.['aws-access-key-id'])
      if (oidc && permission(workflow, job, 'id-token') !== 'write') problems.push(`${jobName}: assumes a role by OIDC without permissions id-token: write`)
    }
    expect(problems).toEqual([])
  })

  it.each(examples)('$name: a workflow that changes a service runs in a concurrency group named deploy-<service>-<environment>', ({ workflow }) => {
    for (const [jobName, job] of Object.entries(workflow.jobs)) {
      for (const step of ourSteps(job)) {
        if (String(step.with?.['dry-run']) === 'true' || step.with?.mode === 'render') continue
        const concurrency = job.concurrency ?? workflow.concurrency
        const group = typeof concurrency === 'string' ? concurrency : (concurrency as { group?: string; 'cancel-in-progress'?: unknown } | undefined)?.group
        expect([jobName, group]).toEqual([jobName, expect.stringMatching(/^deploy-/)])
        // Cancelling a rollout half way leaves a service between two versions.
        expect([jobName, (concurrency as Record<string, unknown>)['cancel-in-progress'] ?? false]).toEqual([jobName, false])
      }
    }
  })
})
