import { afterAll, afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { run } from '../../src/main.js'
import { startGitHubApi } from '../../test/support/github-api.js'
import type { GitHubApi, GitHubApiOptions } from '../../test/support/github-api.js'
import { startScriptedEcs } from '../../test/support/scripted-ecs.js'
import type { ScriptedEcs } from '../../test/support/scripted-ecs.js'

// The whole action (src/main.ts run()) deploys to the scripted ECS endpoint through the real AWS SDK
// and records the GitHub Deployment through the real Octokit to the schema-enforcing GitHub API.

const SHA = 'c0ffee0c0ffee0c0ffee0c0ffee0c0ffee0c0ffe'

let ecs: ScriptedEcs | undefined
let api: GitHubApi | undefined
// One folder for the file: @actions/core remembers the job summary's path after its first write.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'deployments-action-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
let savedEnv: NodeJS.ProcessEnv
let log: string[]
let writeStdout: typeof process.stdout.write

beforeEach(() => {
  savedEnv = { ...process.env }
  log = []
  writeStdout = process.stdout.write
  process.stdout.write = ((chunk: string | Uint8Array) => {
    log.push(String(chunk))
    return true
  }) as typeof process.stdout.write
})

afterEach(async () => {
  process.stdout.write = writeStdout
  process.env = savedEnv
  process.exitCode = undefined
  await api?.close()
  await ecs?.close()
  api = ecs = undefined
})

async function deploy(tag: string, server: GitHubApiOptions = {}, extra: Record<string, string> = {}): Promise<{ api: GitHubApi; outputs: string; warnings: string[] }> {
  ecs = await startScriptedEcs({ settleMs: 300, failAfterMs: 300 })
  api = await startGitHubApi(server)
  for (const name of Object.keys(process.env)) if (name.startsWith('INPUT_')) delete process.env[name]
  const outputFile = path.join(dir, 'output')
  fs.writeFileSync(outputFile, '')
  fs.writeFileSync(path.join(dir, 'summary.md'), '')
  Object.assign(process.env, {
    INPUT_SERVICE: 'web',
    INPUT_PLATFORM: 'ecs',
    'INPUT_IMAGE-TAG': tag,
    INPUT_CONTAINER: 'web',
    INPUT_TIMEOUT: '30s',
    INPUT_ENVIRONMENT: 'production',
    'INPUT_ENVIRONMENT-URL': 'https://web.example.com',
    'INPUT_GITHUB-TOKEN': 'ghs_test',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDSCRIPTED',
    AWS_SECRET_ACCESS_KEY: 'scripted',
    AWS_ENDPOINT_URL_ECS: ecs.endpoint,
    GITHUB_API_URL: api.url,
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_SHA: SHA,
    GITHUB_REF: 'refs/heads/main',
    GITHUB_RUN_ID: '77',
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: path.join(dir, 'summary.md'),
    RUNNER_TEMP: dir,
    ...extra
  })
  await run()
  if (process.env.DEBUG_ACTION_LOG) writeStdout.call(process.stdout, log.join(""))
  const warnings = log.filter(line => line.startsWith('::warning')).map(line => line.trim())
  return { api, outputs: fs.readFileSync(outputFile, 'utf8'), warnings }
}

describe('the action records its GitHub Deployment', () => {
  it('a healthy deploy: deployment for the commit, in_progress, success', async () => {
    const { api, outputs, warnings } = await deploy('1.2.3')
    expect(api.violations).toEqual([])
    expect(warnings).toEqual([])
    expect(process.exitCode).toBeUndefined()
    expect(outputs).toMatch(/status<<.*\nsucceeded\n/)
    expect(api.deployments).toHaveLength(1)
    expect(api.deployments[0]).toMatchObject({ sha: SHA, ref: SHA, environment: 'production', production_environment: true, task: 'deploy' })
    expect(api.deployments[0].payload).toEqual({
      service: 'web',
      image: 'registry.example/web:1.2.3',
      platform: 'ecs',
      previousRevision: expect.stringMatching(/task-definition\/web:1$/)
    })
    expect(api.statuses.map(s => s.state)).toEqual(['in_progress', 'success'])
    expect(api.statuses[1]).toMatchObject({ environment_url: 'https://web.example.com', log_url: 'https://github.com/acme/shop/actions/runs/77' })
    expect(api.statuses[1].description).toMatch(/^deployed web:2 in \d/)
  })

  it('a failed rollout that was rolled back: failure, naming the revision that is back', async () => {
    const { api, outputs } = await deploy('1.2.3-pullfail')
    expect(api.violations).toEqual([])
    expect(process.exitCode).toBe(1)
    expect(outputs).toMatch(/status<<.*\nrolled-back\n/)
    expect(api.statuses.map(s => s.state)).toEqual(['in_progress', 'failure'])
    expect(api.statuses[1].description).toMatch(/^web:2 failed; rolled back to web:1 \(healthy\): tasks of web:2 stopped: TaskFailedToStart: CannotPull/)
  })

  it('no deployments permission: one warning naming the permissions line; the deploy still succeeds', async () => {
    const { api, outputs, warnings } = await deploy('1.2.3', { deny: { status: 403, message: 'Resource not accessible by integration' } })
    expect(api.violations).toEqual([])
    expect(process.exitCode).toBeUndefined()
    expect(outputs).toMatch(/status<<.*\nsucceeded\n/)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/^::warning::Could not create a GitHub Deployment in environment 'production': GitHub answered 403 'Resource not accessible by integration'\./)
    expect(warnings[0]).toContain('Add `permissions: deployments: write` to the job')
  })
})

describe('the action comments a dry run\'s plan on the pull request (pr-comment)', () => {
  const pullRequest = { 'INPUT_DRY-RUN': 'true', 'INPUT_PR-COMMENT': 'true', GITHUB_EVENT_NAME: 'pull_request', GITHUB_REF: 'refs/pull/12/merge' }

  it('writes the plan with the images and the ECS strategy, and records no Deployment', async () => {
    const first = await deploy('1.2.3', {}, pullRequest)
    expect(first.api.violations).toEqual([])
    expect(first.warnings).toEqual([])
    expect(process.exitCode).toBeUndefined()
    expect(first.outputs).toMatch(/status<<.*\ndry-run\n/)
    expect(first.api.deployments).toEqual([])
    expect(first.api.comments).toHaveLength(1)
    const body = first.api.comments[0].body as string
    if (process.env.DEBUG_ACTION_LOG) writeStdout.call(process.stdout, body)
    expect(body.split('\n')[0]).toBe('<!-- deploy-service plan: service=web environment=production -->')
    expect(body).toContain('| `web` | `registry.example/web:1.0.0` | `registry.example/web:1.2.3` |')
    expect(body).toMatch(/\*\*Change:\*\* ECS service web \(cluster default\): web:1 -&gt; a new revision of web; .*deployment controller ECS, strategy ROLLING/)
    expect(body).toMatch(/<details>\n<summary>Diff \(\d+ lines; secret values redacted\)<\/summary>/)

  })
})

