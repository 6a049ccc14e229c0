import { afterEach, describe, expect, it } from '@jest/globals'
import { parseInputs } from '../../src/inputs.js'
import type { Plan } from '../../src/rollout/platform.js'
import { createDeploymentRecorder, isProductionEnvironment, isTransientEnvironment } from '../../src/report/deployments.js'
import type { RecorderOptions } from '../../src/report/deployments.js'
import type { RunResult } from '../../src/rollout/engine.js'
import { Progress } from '../../src/rollout/progress.js'
import { startGitHubApi } from '../../test/support/github-api.js'
import type { GitHubApi, GitHubApiOptions } from '../../test/support/github-api.js'

// The recorder is driven with plain Plan and RunResult data, but talks through the real Octokit over
// HTTP to a server that checks every request and answer against GitHub's published OpenAPI description.

const SHA = '3f786850e387550fdab836ed7e6dc881de23001b'
const ARN = (revision: number): string => `arn:aws:ecs:eu-west-1:123456789012:task-definition/web:${revision}`
const IMAGE = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:1.2.3'

let api: GitHubApi | undefined
afterEach(async () => {
  await api?.close()
  api = undefined
})

async function setup(inputs: Record<string, string>, serverOptions: GitHubApiOptions = {}, recorder: RecorderOptions = {}) {
  api = await startGitHubApi(serverOptions)
  const env: Record<string, string> = {
    INPUT_SERVICE: 'web',
    'INPUT_IMAGE-TAG': '1.2.3',
    'INPUT_GITHUB-TOKEN': 'ghs_test',
    GITHUB_API_URL: api.url,
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_SHA: SHA,
    GITHUB_REF: 'refs/heads/main',
    GITHUB_RUN_ID: '4242'
  }
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value
  const request = parseInputs(env)
  const warnings: string[] = []
  const infos: string[] = []
  const log = { info: (m: string) => void infos.push(m), warning: (m: string) => void warnings.push(m) }
  const deployments = createDeploymentRecorder(request, 'ecs', { log, retryMaxDelayMs: 0, ...recorder })
  return { api, request, deployments, warnings, infos }
}

function plan(): Plan {
  return {
    text: '{}',
    redactedText: '{}',
    fileName: 'web-task-definition.json',
    images: [{ container: 'web', previous: IMAGE.replace('1.2.3', '1.2.2'), next: IMAGE }],
    previousRevision: ARN(6),
    description: 'web: task definition web:6 -> new revision, image web:1.2.3',
    dryRun: async () => '',
    checkedBy: 'a test',
    apply: async () => {
      throw new Error('not applied in this test')
    }
  }
}

function result(fields: Partial<RunResult>): RunResult {
  return {
    status: 'succeeded',
    ok: true,
    message: `deployed ${ARN(7)} in 1m 12s`,
    revision: ARN(7),
    previousRevision: ARN(6),
    images: plan().images,
    outputs: {},
    reasons: [],
    progress: new Progress({ info: () => {}, warning: () => {} }),
    ...fields
  }
}

const statesOf = (server: GitHubApi): string[] => server.statuses.map(s => s.state as string)

describe('the GitHub API test server', () => {
  it("refuses what GitHub's description refuses, and flags properties it does not declare", async () => {
    api = await startGitHubApi()
    const post = (path: string, body: unknown) =>
      fetch(`${api!.url}${path}`, { method: 'POST', headers: { authorization: 'token t', 'content-type': 'application/json' }, body: JSON.stringify(body) })
    expect((await post('/repos/acme/shop/deployments', { ref: 'main', auto_merge: 'false', enviroment: 'staging' })).status).toBe(422)
    expect((await post('/repos/acme/shop/deployments/not-a-number/statuses', { state: 'success' })).status).toBe(422)
    expect((await post('/repos/acme/shop/deployment', { ref: 'main' })).status).toBe(404)
    expect((await fetch(`${api.url}/repos/acme/shop/deployments`, { method: 'DELETE', headers: { authorization: 'token t' } })).status).toBe(404)
    expect(api.violations).toEqual([
      'POST /repos/{owner}/{repo}/deployments (repos/create-deployment): request body: /auto_merge must be boolean',
      "POST /repos/{owner}/{repo}/deployments (repos/create-deployment): request body property 'enviroment' is not in GitHub's schema",
      'POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses (repos/create-deployment-status): path parameter deployment_id=not-a-number: (root) must be integer'
    ])
  })
})

describe('GitHub Deployments', () => {
  it('records a successful deploy: the deployment, in_progress, then success', async () => {
    const { api, deployments, warnings } = await setup({ environment: 'production', 'environment-url': 'https://shop.example.com' })
    await deployments.started(plan())
    await deployments.finished(result({}))

    expect(api.violations).toEqual([])
    expect(warnings).toEqual([])
    expect(api.requests.map(r => `${r.operationId} ${r.status}`)).toEqual([
      'repos/list-deployments 200',
      'repos/create-deployment 201',
      'repos/create-deployment-status 201',
      'repos/create-deployment-status 201'
    ])
    expect(api.requests[1].path).toBe('/repos/acme/shop/deployments')
    expect(api.requests[1].body).toEqual({
      ref: SHA,
      environment: 'production',
      task: 'deploy',
      auto_merge: false,
      required_contexts: [],
      payload: { service: 'web', image: IMAGE, platform: 'ecs', previousRevision: ARN(6) },
      description: `web: ${IMAGE}`,
      production_environment: true,
      transient_environment: false
    })
    expect(api.deployments).toHaveLength(1)
    const id = api.deployments[0].id
    expect(api.requests[2].path).toBe(`/repos/acme/shop/deployments/${id}/statuses`)
    expect(statesOf(api)).toEqual(['in_progress', 'success'])
    for (const status of api.statuses) {
      expect(status).toMatchObject({ log_url: 'https://github.com/acme/shop/actions/runs/4242', environment_url: 'https://shop.example.com', environment: 'production' })
    }
    expect(api.statuses[0].description).toBe(`deploying ${IMAGE}`)
    expect(api.statuses[1].description).toBe('deployed web:7 in 1m 12s')
  })

  it("shows the service's endpoint URL (ECS Express) as the environment URL when environment-url is not given", async () => {
    const { api, deployments } = await setup({ environment: 'production' })
    await deployments.started({ ...plan(), endpointUrl: 'https://web-abc.ecs.eu-west-1.on.aws' })
    await deployments.finished(result({}))
    expect(api.violations).toEqual([])
    expect(api.statuses.map(status => status.environment_url)).toEqual(['https://web-abc.ecs.eu-west-1.on.aws', 'https://web-abc.ecs.eu-west-1.on.aws'])
    await api.close()
    const given = await setup({ environment: 'production', 'environment-url': 'https://shop.example.com' })
    await given.deployments.started({ ...plan(), endpointUrl: 'https://web-abc.ecs.eu-west-1.on.aws' })
    expect(given.api.statuses.map(status => status.environment_url)).toEqual(['https://shop.example.com'])
  })

  it("warns, with the line that avoids it, when the job's `environment:` already made a Deployment of the commit", async () => {
    const { api, deployments, warnings } = await setup({ environment: 'production' })
    const post = (body: unknown) =>
      fetch(`${api.url}/repos/acme/shop/deployments`, { method: 'POST', headers: { authorization: 'token t', 'content-type': 'application/json' }, body: JSON.stringify(body) })
    // What GitHub records for a job with `environment: production`, and records that are not the job's.
    expect((await post({ ref: SHA, environment: 'production', auto_merge: false, required_contexts: [] })).status).toBe(201)
    expect((await post({ ref: SHA, environment: 'staging', auto_merge: false, required_contexts: [] })).status).toBe(201)
    const jobs = api.deployments.map(d => d.id as number)
    await deployments.started(plan())
    await deployments.finished(result({}))
    expect(api.violations).toEqual([])
    expect(api.requests[2]).toMatchObject({ method: 'GET', operationId: 'repos/list-deployments', status: 200 })
    expect(warnings).toEqual([
      `GitHub already recorded Deployment ${jobs[0]} of this commit in environment 'production', for the job's \`environment:\`; deploy-service records its own, so each deploy shows twice. Write \`environment: { name: production, deployment: false }\` in the job: it keeps the environment's secrets and variables and leaves the record to deploy-service.`
    ])
    // Not reused: ours is recorded as usual, and GitHub's record gets no status from us.
    expect(api.deployments).toHaveLength(3)
    expect(api.statuses.map(s => [s.deployment_id, s.state])).toEqual([
      [api.deployments[2].id, 'in_progress'],
      [api.deployments[2].id, 'success']
    ])

    // A later deploy of the same commit sees our earlier record (its payload names the service): no warning for that.
    const again = createDeploymentRecorder(parseInputs({ INPUT_SERVICE: 'web', 'INPUT_IMAGE-TAG': '1', INPUT_ENVIRONMENT: 'staging', 'INPUT_GITHUB-TOKEN': 't', GITHUB_API_URL: api.url, GITHUB_REPOSITORY: 'acme/shop', GITHUB_SHA: SHA }, () => {}), 'ecs', {
      log: { info: () => {}, warning: m => void warnings.push(m) },
      retryMaxDelayMs: 0
    })
    api.deployments[1].payload = { service: 'web', image: IMAGE, platform: 'ecs' }
    await again.started(plan())
    expect(warnings).toHaveLength(1)
  })

  it('records a failed rollout that was rolled back as failure, naming the restored revision', async () => {
    const { api, deployments, warnings } = await setup({ environment: 'staging' })
    await deployments.started(plan())
    const reason = 'task 9f3c stopped: CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref web:1.2.3: not found'
    await deployments.finished(
      result({
        status: 'rolled-back',
        ok: false,
        message: `the rollout of ${ARN(7)} failed (${reason}); ${ARN(6)} is back and healthy`,
        reasons: [reason],
        rollback: { revision: ARN(6), by: 'action', healthy: true }
      })
    )

    expect(api.violations).toEqual([])
    expect(warnings).toEqual([])
    expect(api.requests[1].body).toMatchObject({ environment: 'staging', production_environment: false, transient_environment: false })
    expect(statesOf(api)).toEqual(['in_progress', 'failure'])
    const failure = api.statuses[1]
    expect(failure.description).toMatch(/^web:7 failed; rolled back to web:6 \(healthy\): task 9f3c stopped: CannotPullContainerError/)
    expect(failure.description.length).toBeLessThanOrEqual(140)
    expect(failure).not.toHaveProperty('environment_url')
    expect(failure.log_url).toBe('https://github.com/acme/shop/actions/runs/4242')
  })

  it('warns once, naming the permissions line, when the token may not create deployments; nothing fails', async () => {
    const { api, deployments, warnings } = await setup({ environment: 'production' }, { deny: { status: 403, message: 'Resource not accessible by integration' } })
    await expect(deployments.started(plan())).resolves.toBeUndefined()
    await expect(deployments.finished(result({}))).resolves.toBeUndefined()

    expect(api.violations).toEqual([])
    // The check for the job's own Deployment is refused too, silently: the one warning is about ours.
    expect(api.requests.map(r => `${r.operationId} ${r.status}`)).toEqual(['repos/list-deployments 403', 'repos/create-deployment 403'])
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain("Could not create a GitHub Deployment in environment 'production': GitHub answered 403 'Resource not accessible by integration'.")
    expect(warnings[0]).toContain('Add `permissions: deployments: write` to the job (or the workflow)')
    expect(warnings[0]).toContain("The deploy itself is not affected; no Deployment is recorded in environment 'production'.")
  })

  it('records a cancelled run as error', async () => {
    const cancel = new AbortController()
    const { api, deployments } = await setup({ environment: 'pr-123' }, {}, { cancel: cancel.signal })
    await deployments.started(plan())
    cancel.abort(new Error('the run was cancelled'))
    await deployments.finished(result({ status: 'failed', ok: false, message: `cancelled while rolling out ${ARN(7)}: the run was cancelled` }))
    expect(api.violations).toEqual([])
    expect(api.requests[1].body).toMatchObject({ environment: 'pr-123', production_environment: false, transient_environment: true })
    expect(statesOf(api)).toEqual(['in_progress', 'error'])
    expect(api.statuses[1].description).toMatch(/^cancelled: cancelled while rolling out/)
  })

  it('records an unexpected error after the change started as error, and clips long descriptions to 140', async () => {
    const { api, deployments } = await setup({ environment: 'staging' })
    await deployments.started(plan())
    await deployments.failed(new Error(`could not describe the service: ${'x'.repeat(300)}`))
    await deployments.finished(result({}))
    expect(api.violations).toEqual([])
    expect(statesOf(api)).toEqual(['in_progress', 'error'])
    expect(api.statuses[1].description).toHaveLength(140)
    expect(api.statuses[1].description).toMatch(/^deploy-service stopped: could not describe the service: x+…$/)
  })

  it('retries a GitHub server error, then records as usual', async () => {
    const { api, deployments, warnings } = await setup({ environment: 'staging' }, { serverErrors: 1 })
    await deployments.started(plan())
    await deployments.finished(result({}))
    expect(api.violations).toEqual([])
    expect(warnings).toEqual([])
    expect(api.requests.map(r => r.status)).toEqual([502, 200, 201, 201, 201])
    expect(statesOf(api)).toEqual(['in_progress', 'success'])
  })

  it('warns once when GitHub cannot be reached, after retrying, and never throws', async () => {
    const { api, deployments, warnings } = await setup({ environment: 'staging' })
    await api.close()
    await expect(deployments.started(plan())).resolves.toBeUndefined()
    await expect(deployments.finished(result({}))).resolves.toBeUndefined()
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/^Could not create a GitHub Deployment in environment 'staging': GitHub could not be reached: fetch failed \(.*ECONNREFUSED.*\)\. The deploy itself is not affected; no Deployment is recorded in environment 'staging'\.$/)
  })

  it('records nothing for a run that never applied a change (failed validation, dry run)', async () => {
    const { api, deployments, warnings } = await setup({ environment: 'staging' })
    await deployments.failed(new Error('the template has 2 problems'))
    await deployments.finished(result({ status: 'dry-run' }))
    expect(api.requests).toEqual([])
    expect(warnings).toEqual([])
  })

  it('does nothing without an environment, and warns without a token', async () => {
    const none = await setup({})
    await none.deployments.started(plan())
    await none.deployments.finished(result({}))
    expect(none.api.requests).toEqual([])
    expect(none.warnings).toEqual([])
    await none.api.close()

    const request = parseInputs({ INPUT_SERVICE: 'web', 'INPUT_IMAGE-TAG': '1', INPUT_ENVIRONMENT: 'production', GITHUB_REPOSITORY: 'acme/shop', GITHUB_SHA: SHA })
    const warnings: string[] = []
    const recorder = createDeploymentRecorder(request, 'kubernetes', { log: { info: () => {}, warning: m => void warnings.push(m) } })
    await recorder.started(plan())
    expect(warnings).toEqual([
      "No GitHub Deployment is recorded for environment 'production': there is no token. Set `github-token` (default: the workflow's GITHUB_TOKEN)."
    ])
  })

  it('tells production and transient environments by name', () => {
    for (const name of ['production', 'prod', 'Production', 'prod-eu', 'eu-production', 'prod/us']) expect([name, isProductionEnvironment(name)]).toEqual([name, true])
    for (const name of ['staging', 'product-demo', 'preprod', 'dev', 'pr-12']) expect([name, isProductionEnvironment(name)]).toEqual([name, false])
    for (const name of ['pr-123', 'preview', 'review/feature-x', 'ephemeral-3', 'PR 7']) expect([name, isTransientEnvironment(name)]).toEqual([name, true])
    for (const name of ['production', 'staging', 'prod', 'previews-are-not', 'sprint']) expect([name, isTransientEnvironment(name)]).toEqual([name, false])
  })
})
