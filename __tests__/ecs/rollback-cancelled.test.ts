// A run cancelled while it waits for its own rollback, on the scripted ECS endpoint: the rollback was in
// progress and its health is unknown. Nothing (the final message, the job summary, the GitHub Deployment
// status, recorded through the real Octokit on the local GitHub API) calls it "NOT healthy", which would
// say that it failed.
import { afterAll, expect, it } from '@jest/globals'
import { parseInputs } from '../../src/inputs.js'
import { createDeploymentRecorder } from '../../src/report/deployments.js'
import { summaryMarkdown } from '../../src/report/summary.js'
import type { Plan } from '../../src/rollout/platform.js'
import { Cancelled } from '../../src/rollout/deadline.js'
import { startGitHubApi, type GitHubApi } from '../../test/support/github-api.js'
import { startScriptedEcs } from '../../test/support/scripted-ecs.js'
import { GITHUB_ENV, inputEnv, runEcs } from '../helpers/run.js'

let api: GitHubApi | undefined
afterAll(() => api?.close())

it('says the rollback was in progress and its health unknown when the run is cancelled while waiting for it', async () => {
  // The new revision's tasks crash and the circuit breaker fails it (its own rollback off): the action rolls
  // back to web:1, which takes a minute to settle here. The run is cancelled at the first state the wait for
  // that rollback prints: the rollback is then in progress, whatever the machine's load.
  const ecs = await startScriptedEcs({ settleMs: 60_000, failAfterMs: 500, circuitBreakerRollback: false })
  const cancel = new AbortController()
  const inputs = { service: 'web', 'image-tag': 'crash-2', timeout: '60s', environment: 'production', 'github-token': 'ghs_test' }
  let rollingBack = false
  let run: Awaited<ReturnType<typeof runEcs>>
  try {
    run = await runEcs(ecs.endpoint, inputs, {
      cancel: cancel.signal,
      onLine: line => {
        if (/^\[\+[\d.]+s\] rolling back to /.test(line)) rollingBack = true
        else if (rollingBack && /: (PENDING|IN_PROGRESS|ROLLBACK_IN_PROGRESS),/.test(line)) cancel.abort(new Cancelled('SIGINT'))
      }
    })
  } finally {
    await ecs.close()
  }
  expect(run.error).toBeUndefined()
  const result = run.result!
  expect(cancel.signal.aborted).toBe(true)
  expect(result).toMatchObject({ status: 'failed', ok: false, rollback: { healthy: false, unknown: 'cancelled' } })
  expect(result.rollback!.revision).toMatch(/task-definition\/web:1$/)
  expect(result.message).toMatch(/the rollback to .*web:1 was started, then the run was cancelled before it finished: the rollback was in progress and its health is unknown/)

  const request = parseInputs({ ...GITHUB_ENV, ...inputEnv({ platform: 'ecs', ...inputs }) })
  const summary = summaryMarkdown(result, request, 'ecs')
  expect(summary).toMatch(/\| rolled back to \| `arn:aws:ecs:[^`]*web:1` \(by this action, in progress when the run was cancelled: health unknown\) \|/)

  api = await startGitHubApi()
  const env = { ...GITHUB_ENV, ...inputEnv({ platform: 'ecs', ...inputs }), GITHUB_API_URL: api.url, GITHUB_SERVER_URL: 'https://github.com' }
  const recorder = createDeploymentRecorder(parseInputs(env), 'ecs', { cancel: cancel.signal, log: { info: () => undefined, warning: () => undefined }, retryMaxDelayMs: 0 })
  const plan = { images: [], description: 'web:1 -> web:2', previousRevision: result.previousRevision } as unknown as Plan
  await recorder.started(plan)
  await recorder.finished(result)
  expect(api.violations).toEqual([])
  const last = api.statuses.at(-1)!
  expect(last.state).toBe('error')
  expect(last.description).toMatch(/^cancelled while the rollback to web:1 was in progress \(health unknown\)/)

  for (const text of [result.message, summary, String(last.description), ...result.reasons]) expect(text).not.toMatch(/NOT healthy|did not become healthy/)
}, 60_000)
