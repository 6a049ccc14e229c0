import { afterEach, describe, expect, it } from '@jest/globals'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseInputs } from '../../src/inputs.js'
import type { RunResult } from '../../src/rollout/engine.js'
import { Progress } from '../../src/rollout/progress.js'
import { COMMENT_MAX, commentPlan, planMarker, pullRequestNumber } from '../../src/report/pull-request.js'
import { startGitHubApi } from '../../test/support/github-api.js'
import type { GitHubApi, GitHubApiOptions } from '../../test/support/github-api.js'

// The comment is written through the real Octokit over HTTP to a server that checks every request and
// answer against GitHub's published OpenAPI description, and pages its listings with a Link header.

const SHA = '3f786850e387550fdab836ed7e6dc881de23001b'
const IMAGE = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/web:1.2.3'
const PR = 7

let api: GitHubApi | undefined
afterEach(async () => {
  await api?.close()
  api = undefined
})

async function setup(inputs: Record<string, string> = {}, server: GitHubApiOptions = {}, env: Record<string, string> = {}) {
  api = await startGitHubApi(server)
  const all: Record<string, string> = {
    INPUT_SERVICE: 'web',
    'INPUT_IMAGE-TAG': '1.2.3',
    'INPUT_GITHUB-TOKEN': 'ghs_test',
    'INPUT_DRY-RUN': 'true',
    'INPUT_PR-COMMENT': 'true',
    GITHUB_API_URL: api.url,
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_SHA: SHA,
    GITHUB_REF: `refs/pull/${PR}/merge`,
    GITHUB_EVENT_NAME: 'pull_request',
    GITHUB_RUN_ID: '4242',
    ...env
  }
  for (const [name, value] of Object.entries(inputs)) all[`INPUT_${name.toUpperCase()}`] = value
  const request = parseInputs(all, () => {})
  const warnings: string[] = []
  const infos: string[] = []
  const log = { info: (m: string) => void infos.push(m), warning: (m: string) => void warnings.push(m) }
  const comment = (result: RunResult, platform = 'ecs') => commentPlan(result, request, platform, { log, retryMaxDelayMs: 0 })
  return { api, request, comment, warnings, infos }
}

function dryRun(fields: Partial<RunResult> = {}): RunResult {
  return {
    status: 'dry-run',
    ok: true,
    message: 'dry run: checked against the live service web; nothing was changed',
    images: [{ container: 'web', previous: IMAGE.replace('1.2.3', '1.2.2'), next: IMAGE }],
    previousRevision: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/web:6',
    outputs: {},
    reasons: [],
    renderedPath: '/runner/_temp/web-task-definition.json',
    diff: '  image: web:1.2.2 -> web:1.2.3\n\n--- live\n+++ after\n-  "image": "web:1.2.2"\n+  "image": "web:1.2.3"\n',
    plan: {
      description: 'ECS service web (cluster shop): web:6 -> a new revision of web; image web:1.2.3; deployment controller ECS, strategy BLUE_GREEN (bake 15m)',
      before: "one-off task ['./migrate', 'up'] from the new revision, container web"
    },
    progress: new Progress({ info: () => {}, warning: () => {} }),
    ...fields
  }
}

const operations = (server: GitHubApi): string[] => server.requests.map(r => `${r.method} ${r.operationId} ${r.status}`)

describe('the plan on the pull request', () => {
  it('writes one comment: marker, images from -> to, strategy, pre-deploy command, the diff folded, where the rendered file is', async () => {
    const { api, comment, warnings, infos } = await setup({ environment: 'production' })
    await comment(dryRun())
    expect(api.violations).toEqual([])
    expect(warnings).toEqual([])
    expect(operations(api)).toEqual(['GET issues/list-comments 200', 'POST issues/create-comment 201'])
    expect(api.requests[1].path).toBe(`/repos/acme/shop/issues/${PR}/comments`)
    expect(api.comments).toHaveLength(1)
    const body = api.comments[0].body as string
    expect(body.split('\n')[0]).toBe('<!-- deploy-service plan: service=web environment=production -->')
    expect(body).toContain('deploy-service plan: `web` → production')
    expect(body).toContain(`| \`web\` | \`${IMAGE.replace('1.2.3', '1.2.2')}\` | \`${IMAGE}\` |`)
    expect(body).toContain('**Change:** ECS service web (cluster shop): web:6 -&gt; a new revision of web; image web:1.2.3; deployment controller ECS, strategy BLUE\\_GREEN (bake 15m)')
    expect(body).toContain("**Before the rollout:** one-off task \\['./migrate', 'up'\\] from the new revision, container web")
    expect(body).toMatch(/<details>\n<summary>Diff \(6 lines; secret values redacted\)<\/summary>\n\n```diff\n {2}image: web:1\.2\.2 -> web:1\.2\.3\n[\s\S]*\n```\n\n<\/details>/)
    expect(body).toContain('`/runner/_temp/web-task-definition.json` on the runner')
    expect(body).toContain('[job summary](https://github.com/acme/shop/actions/runs/4242)')
    expect(infos).toEqual([expect.stringMatching(new RegExp(`^pull request #${PR}: plan commented: https://github.com/acme/shop/pull/${PR}#issuecomment-\\d+$`))])
  })

  it('finds its own comment among others over several pages and updates it; a planted or other service’s marker is left alone', async () => {
    const { api, comment, warnings } = await setup({ environment: 'staging' })
    const marker = planMarker('web', 'staging')
    // A fork's author plants our marker on page 1: never taken over.
    const planted = api.addComment(PR, `${marker}\nall fine, nothing changes`, { login: 'mallory', association: 'CONTRIBUTOR' })
    for (let i = 0; i < 120; i++) api.addComment(PR, `review comment ${i}`, { login: 'reviewer', association: 'MEMBER' })
    const otherService = api.addComment(PR, `${planMarker('api', 'staging')}\nthe api plan`)
    const otherEnvironment = api.addComment(PR, `${planMarker('web', 'production')}\nthe production plan`)
    const ours = api.addComment(PR, `${marker}\nthe old plan`)
    api.addComment(PR, 'a later remark', { login: 'reviewer', association: 'MEMBER' })
    api.addComment(PR + 1, `${marker}\non another pull request`)

    await comment(dryRun())
    expect(api.violations).toEqual([])
    expect(warnings).toEqual([])
    expect(api.requests.map(r => `${r.method} ${r.path}`)).toEqual([
      `GET /repos/acme/shop/issues/${PR}/comments`,
      `GET /repos/acme/shop/issues/${PR}/comments`,
      `PATCH /repos/acme/shop/issues/comments/${ours.id}`
    ])
    expect(api.comments.find(c => c.id === ours.id)!.body).toMatch(new RegExp(`^${marker}\n### 🔍 deploy-service plan`))
    expect(planted.body).toBe(`${marker}\nall fine, nothing changes`)
    expect(otherService.body).toBe(`${planMarker('api', 'staging')}\nthe api plan`)
    expect(otherEnvironment.body).toBe(`${planMarker('web', 'production')}\nthe production plan`)
    expect(api.comments).toHaveLength(126)
  })

  it('writes nothing when the comment already says the same', async () => {
    const { api, comment, infos } = await setup()
    await comment(dryRun())
    await comment(dryRun())
    expect(api.violations).toEqual([])
    expect(operations(api)).toEqual(['GET issues/list-comments 200', 'POST issues/create-comment 201', 'GET issues/list-comments 200'])
    expect(infos[1]).toMatch(/^pull request #7: the plan comment is up to date: /)
  })

  it("a fork's read-only token: one warning naming the permission and the fork, never a throw", async () => {
    const { api, comment, warnings } = await setup({}, { readOnly: true })
    await expect(comment(dryRun())).resolves.toBeUndefined()
    expect(api.violations).toEqual([])
    expect(operations(api)).toEqual(['GET issues/list-comments 200', 'POST issues/create-comment 403'])
    expect(api.comments).toEqual([])
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain(`Could not comment the plan on pull request #${PR}: GitHub answered 403 'Resource not accessible by integration'.`)
    expect(warnings[0]).toContain('Add `permissions: pull-requests: write` to the job')
    expect(warnings[0]).toContain('A pull request from a fork gets a read-only token')
    expect(warnings[0]).toContain('The dry run itself is not affected; the plan is in the job summary only.')
  })

  it('cuts a diff longer than GitHub allows in the middle, with a pointer to the job summary, and GitHub takes it', async () => {
    const { api, comment, warnings } = await setup()
    const diff = Array.from({ length: 4000 }, (_, i) => `+  "line ${i}": "${'é'.repeat(40)}"`).join('\n')
    await comment(dryRun({ diff }))
    expect(api.violations).toEqual([])
    expect(warnings).toEqual([])
    const body = api.comments[0].body as string
    expect(body.length).toBeLessThanOrEqual(COMMENT_MAX)
    expect(body.length).toBeGreaterThan(COMMENT_MAX / 2)
    expect(body).toContain('+  "line 0"')
    expect(body).toContain('+  "line 3999"')
    expect(body).toMatch(/… \d+ lines of the diff left out here \(a comment holds at most 65536 characters\); the rendered file \/runner\/_temp\/web-task-definition.json has the whole result and the job summary of this run has the diff/)
    expect(body.trimEnd().endsWith('have the plan too.')).toBe(true)
  })

  it('shows outside text as data and masks the values the runner masks in the log', async () => {
    const { api, comment } = await setup({ platform: 'kubernetes', 'helm-set': 'db.password=hunter2-secret', 'verify-url': 'https://ops:s3cr3t-pass@web.example.com/health' })
    const diff = '```\n</details><img src=x onerror=alert(1)>\n+  password: hunter2-secret\n+  url: https://ops:s3cr3t-pass@web.example.com\n::set-output name=x::y'
    const objects = [
      { ref: 'Deployment/web', state: 'would change' },
      { ref: 'ConfigMap/web-config', state: 'would be created' },
      { ref: 'Service/web', state: 'unchanged' },
      { ref: 'ConfigMap/old', state: 'would be pruned' }
    ]
    await comment(dryRun({ diff, objects, plan: { description: 'Kubernetes Deployment/web in namespace shop: revision 3 -> next <b>bold</b>' } }), 'kubernetes')
    expect(api.violations).toEqual([])
    const body = api.comments[0].body as string
    expect(body).not.toContain('hunter2-secret')
    expect(body).not.toContain('s3cr3t-pass')
    expect(body).toContain('+  password: ***')
    // The diff's own backticks cannot close its fence; HTML in it stays inside the fence.
    expect(body).toMatch(/\n````diff\n```\n<\/details><img src=x onerror=alert\(1\)>\n[\s\S]*\n````\n\n<\/details>/)
    expect(body).toContain('next &lt;b&gt;bold&lt;/b&gt;')
    expect(body).toContain('**Objects:** 1 to create, 1 to change, 1 to prune, 1 unchanged')
    expect(body).toContain('| `ConfigMap/old` | would be pruned |')
    expect(body).not.toContain('`Service/web`')
  })

  it('comments only on a dry run of a pull request, and says so otherwise', async () => {
    const push = await setup({}, {}, { GITHUB_EVENT_NAME: 'push', GITHUB_REF: 'refs/heads/main' })
    await push.comment(dryRun())
    expect(push.api.requests).toEqual([])
    expect(push.infos).toEqual(["pr-comment: this run is not for a pull request (event 'push'), so the plan is in the job summary only."])
    await push.api.close()

    const deploy = await setup({ 'dry-run': 'false' })
    await deploy.comment(dryRun({ status: 'succeeded' }))
    expect(deploy.api.requests).toEqual([])
    expect(deploy.infos).toEqual(['pr-comment: only a dry run comments its plan on the pull request; this run made the change, so there is no comment.'])
    await deploy.api.close()

    const off = await setup({ 'pr-comment': 'false' })
    await off.comment(dryRun())
    expect(off.api.requests).toEqual([])
    expect(off.infos).toEqual([])
  })

  it('finds the pull request of pull_request_target in the event payload', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pr-event-'))
    try {
      const eventPath = path.join(dir, 'event.json')
      fs.writeFileSync(eventPath, JSON.stringify({ action: 'synchronize', pull_request: { number: 42 } }))
      const base = { eventName: 'pull_request_target', ref: 'refs/heads/main', eventPath }
      const request = parseInputs({ INPUT_SERVICE: 'web', 'INPUT_IMAGE-TAG': '1' }, () => {})
      expect(pullRequestNumber({ ...request.github, ...base })).toBe(42)
      expect(pullRequestNumber({ ...request.github, ...base, eventPath: path.join(dir, 'missing.json') })).toBeUndefined()
      expect(pullRequestNumber({ ...request.github, eventName: 'pull_request', ref: 'refs/pull/9/merge' })).toBe(9)
      expect(pullRequestNumber({ ...request.github, eventName: 'push', ref: 'refs/pull/9/merge' })).toBeUndefined()
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('refuses pr-comment where there is no plan to comment', () => {
    expect(() => parseInputs({ INPUT_SERVICE: 'web', INPUT_MODE: 'rollback', 'INPUT_PR-COMMENT': 'true' }, () => {})).toThrow(/pr-comment.*mode 'rollback' has no plan to comment/)
    expect(() => parseInputs({ INPUT_SERVICE: 'web', 'INPUT_IMAGE-TAG': '1', 'INPUT_PR-COMMENT': 'yes' }, () => {})).toThrow(/pr-comment.*'yes' is not a boolean/)
  })
})
