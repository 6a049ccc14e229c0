import { describe, expect, it } from '@jest/globals'
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { parse } from 'yaml'

// The example workflows are what users copy, and .github/workflows/ is what runs this repository: both
// must pass actionlint, and use only inputs and outputs that action.yml declares (actionlint cannot
// know our action's interface). The checks of what a deploy workflow needs apply to examples/ only.

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

type Step = { id?: string; uses?: string; with?: Record<string, unknown>; run?: string; 'continue-on-error'?: unknown }
type Job = { steps?: Step[]; permissions?: Record<string, string> | string; concurrency?: unknown }
type Workflow = { permissions?: Record<string, string> | string; concurrency?: unknown; jobs: Record<string, Job> }

function workflowsIn(folder: string): Array<{ name: string; workflow: Workflow }> {
  return fs
    .readdirSync(path.join(root, folder))
    .filter(name => /\.ya?ml$/.test(name))
    .sort()
    .map(name => ({ name, workflow: parse(fs.readFileSync(path.join(root, folder, name), 'utf8')) as Workflow }))
}
const examples = workflowsIn('examples')
const files = examples.map(({ name }) => name)
const repoWorkflows = workflowsIn('.github/workflows')

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

/** `with:` keys of our steps that action.yml does not declare, and required inputs not given. */
function inputProblems(workflow: Workflow): { unknown: string[]; missing: string[] } {
  const unknown: string[] = []
  const missing: string[] = []
  for (const [jobName, job] of Object.entries(workflow.jobs)) {
    for (const step of ourSteps(job)) {
      const given = Object.keys(step.with ?? {})
      for (const key of given) if (!inputs.has(key)) unknown.push(`${jobName}: ${key}`)
      for (const key of requiredInputs) if (!given.includes(key)) missing.push(`${jobName}: ${key}`)
    }
  }
  return { unknown, missing }
}

/** `steps.<id>.outputs.<name>` of our steps that action.yml does not declare. */
function unknownOutputs(workflow: Workflow): string[] {
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
  return unknown
}

async function actionlint(args: string[], cwd = root): Promise<{ code: number; stdout: string; stderr: string }> {
  return run('bash', [path.join(cwd, 'scripts/actionlint.sh'), ...args], { cwd, timeout: 600_000 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({ code: error.code ?? 1, stdout: error.stdout ?? '', stderr: error.stderr ?? '' })
  )
}

describe('examples/', () => {
  it('has the workflows teams write', () => {
    expect(files.length).toBeGreaterThanOrEqual(4)
    for (const { name, workflow } of examples) {
      expect([name, Object.values(workflow.jobs).some(job => ourSteps(job).length > 0)]).toEqual([name, true])
    }
  })

  it('passes actionlint, with .github/workflows/ (the default set of scripts/actionlint.sh)', async () => {
    const result = await actionlint([])
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
    expect(inputProblems(workflow)).toEqual({ unknown: [], missing: [] })
  })

  it.each(examples)('$name: every steps.<id>.outputs.<name> of our step is an output of action.yml', ({ workflow }) => {
    expect(unknownOutputs(workflow)).toEqual([])
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

describe('.github/', () => {
  const byName = new Map(repoWorkflows.map(({ name, workflow }) => [name, workflow]))

  it('has CI, the self-test, CodeQL, releases and Dependabot', () => {
    expect(repoWorkflows.map(({ name }) => name)).toEqual(expect.arrayContaining(['ci.yml', 'codeql.yml', 'release.yml', 'self-test.yml']))
    const dependabot = parse(fs.readFileSync(path.join(root, '.github/dependabot.yml'), 'utf8')) as { updates: Array<{ 'package-ecosystem': string }> }
    expect(dependabot.updates.map(update => update['package-ecosystem']).sort()).toEqual(['github-actions', 'npm'])
  })

  it('scripts/actionlint.sh lints .github/workflows/ by default: a broken workflow there is found', async () => {
    // A copy of the script in a folder of its own, so that the repository's files are never changed.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'actionlint-default-'))
    try {
      fs.mkdirSync(path.join(dir, 'scripts'))
      fs.mkdirSync(path.join(dir, 'examples'))
      fs.mkdirSync(path.join(dir, '.github/workflows'), { recursive: true })
      fs.copyFileSync(path.join(root, 'scripts/actionlint.sh'), path.join(dir, 'scripts/actionlint.sh'))
      fs.writeFileSync(path.join(dir, 'examples/fine.yml'), 'on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo fine\n')
      fs.writeFileSync(path.join(dir, '.github/workflows/broken.yml'), 'on: push\njobs:\n  test:\n    steps:\n      - run: echo broken\n')
      const result = await actionlint([], dir)
      expect(result.code).toBe(1)
      expect(result.stdout).toContain('.github/workflows/broken.yml')
      expect(result.stdout).toContain('"runs-on" section is missing')
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 600_000)

  it.each(repoWorkflows)('$name: every with: key of a `uses: ./` step is an input of action.yml, and required inputs are given', ({ workflow }) => {
    expect(inputProblems(workflow)).toEqual({ unknown: [], missing: [] })
  })

  it.each(repoWorkflows)('$name: every steps.<id>.outputs.<name> of a `uses: ./` step is an output of action.yml', ({ workflow }) => {
    expect(unknownOutputs(workflow)).toEqual([])
  })

  it.each(repoWorkflows)('$name: least privilege (read-only by default, writes granted per job) and actions pinned by full commit SHA', ({ workflow }) => {
    expect(workflow.permissions).toEqual(expect.objectContaining({ contents: 'read' }))
    expect(Object.values(workflow.permissions as Record<string, string>).filter(level => level !== 'read')).toEqual([])
    for (const [jobName, job] of Object.entries(workflow.jobs)) {
      expect([jobName, job.permissions]).not.toEqual([jobName, 'write-all'])
      for (const step of job.steps ?? []) {
        if (step.uses === undefined || step.uses === './') continue
        // The version comment beside the SHA is checked on the file's text in workflow-audit.test.ts.
        expect([jobName, step.uses]).toEqual([jobName, expect.stringMatching(/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/)])
      }
    }
  })

  it('self-test.yml runs the action from the checkout on both platforms, and a broken image must end rolled back', () => {
    const selfTest = byName.get('self-test.yml')!
    const jobs = Object.values(selfTest.jobs)
    const ours = jobs.flatMap(ourSteps)
    expect(ours.some(step => step.with?.platform === 'ecs')).toBe(true)
    expect(ours.some(step => typeof step.with?.template === 'string' && fs.existsSync(path.join(root, step.with.template)))).toBe(true)
    const broken = ours.find(step => String(step.with?.['image-tag']).includes('does-not-exist'))
    expect(broken?.['continue-on-error']).toBe(true)
    const text = JSON.stringify(selfTest)
    expect(text).toContain(`steps.${broken?.id}.outputs.status`)
    expect(text).toContain('rolled-back')
    // Each deploy step's status is read by a later step.
    for (const step of ours) expect([step.id, text.includes(`steps.${step.id}.outputs.status`)]).toEqual([step.id, true])
  })
})
