// The GitHub Deployment of a handed-off deploy: left in_progress by the job that hands off at the bake,
// found and finished by the later job (mode: follow) — the whole action (src/main.ts run()) against the
// scripted ECS endpoint and the schema-enforcing GitHub API.
import { afterAll, afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { run } from '../../src/main.js'
import { startGitHubApi, type GitHubApi } from '../../test/support/github-api.js'
import { defaultSeed, startScriptedEcs, type ScriptedEcs } from '../../test/support/scripted-ecs.js'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'deployments-handoff-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
let savedEnv: NodeJS.ProcessEnv
let writeStdout: typeof process.stdout.write
let ecs: ScriptedEcs | undefined
let api: GitHubApi | undefined

beforeEach(() => {
  savedEnv = { ...process.env }
  writeStdout = process.stdout.write
  process.stdout.write = (() => true) as typeof process.stdout.write
})

afterEach(async () => {
  process.stdout.write = writeStdout
  process.env = savedEnv
  process.exitCode = undefined
  await api?.close()
  await ecs?.close()
  api = ecs = undefined
})

/** One job of the workflow: the action with these inputs, on commit `sha` in run `runId`; returns its outputs file. */
async function job(inputs: Record<string, string>, sha: string, runId: string): Promise<string> {
  for (const name of Object.keys(process.env)) if (name.startsWith('INPUT_')) delete process.env[name]
  const outputFile = path.join(dir, `output-${runId}`)
  fs.writeFileSync(outputFile, '')
  fs.writeFileSync(path.join(dir, 'summary.md'), '')
  Object.assign(process.env, {
    INPUT_SERVICE: 'web',
    INPUT_PLATFORM: 'ecs',
    INPUT_TIMEOUT: '30s',
    INPUT_ENVIRONMENT: 'production',
    'INPUT_GITHUB-TOKEN': 'ghs_test',
    ...Object.fromEntries(Object.entries(inputs).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, v])),
    DEPLOY_SERVICE_ECS_MINUTE_MS: '1000',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDSCRIPTED',
    AWS_SECRET_ACCESS_KEY: 'scripted',
    AWS_ENDPOINT_URL_ECS: ecs!.endpoint,
    GITHUB_API_URL: api!.url,
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_SHA: sha,
    GITHUB_REF: 'refs/heads/main',
    GITHUB_RUN_ID: runId,
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: path.join(dir, 'summary.md'),
    RUNNER_TEMP: dir
  })
  await run()
  return fs.readFileSync(outputFile, 'utf8')
}

const output = (file: string, name: string) => new RegExp(`${name}<<(\\S+)\\n([^\\n]*)\\n`).exec(file)?.[2]

describe('a GitHub Deployment handed to a later job', () => {
  it('stays in_progress after the hand-off at the bake, and the later follow finishes the same Deployment with success', async () => {
    const services = defaultSeed().map(s => ({ ...s, deploymentConfiguration: { strategy: 'BLUE_GREEN', bakeTimeInMinutes: 600 } }))
    ecs = await startScriptedEcs({ settleMs: 1200, failAfterMs: 900, services, serviceDeployments: { minuteMs: 1000, stageMs: 100 } })
    api = await startGitHubApi()

    const first = await job({ 'image-tag': '2.0.0', 'hand-off-at': 'BAKE_TIME' }, 'c0ffee0c0ffee0c0ffee0c0ffee0c0ffee0c0ffe', '77')
    expect(process.exitCode).toBeUndefined()
    expect(output(first, 'status')).toBe('in-progress')
    const arn = output(first, 'service-deployment-arn')!
    expect(arn).toMatch(/:service-deployment\/default\/web\//)
    expect(api.deployments).toHaveLength(1)
    expect(api.statuses.map(s => s.state)).toEqual(['in_progress', 'in_progress'])
    expect(api.statuses[1].description).toMatch(/^handed off: service deployment web\/\w+ at BAKE_TIME \(web:2\); mode 'follow' gives the verdict$/)

    // The scheduled verdict job, hours later, on another commit of the default branch.
    await fetch(`${ecs.endpoint}/_scripted/skip`, { method: 'POST', body: JSON.stringify({ ms: 601_000 }) })
    const later = await job({ mode: 'follow', 'service-deployment-arn': arn }, 'beef0beef0beef0beef0beef0beef0beef0beef0', '78')
    expect(process.exitCode).toBeUndefined()
    expect(output(later, 'status')).toBe('succeeded')
    expect(api.violations).toEqual([])
    // The same Deployment, finished: no second one.
    expect(api.deployments).toHaveLength(1)
    expect(api.statuses.map(s => s.state)).toEqual(['in_progress', 'in_progress', 'success'])
    expect(api.statuses[2]).toMatchObject({ log_url: 'https://github.com/acme/shop/actions/runs/78' })
    expect(api.statuses[2].description).toMatch(/^deployed web:2 in /)
  })
})
