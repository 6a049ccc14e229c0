import type { GitHubContext } from '../request.js'
import type { InputReader } from './reader.js'

/** `environment-url`: the link a GitHub Deployment records. */
export function environmentUrlInput(read: InputReader): string | undefined {
  const environmentUrl = read.optional('environment-url')
  if (environmentUrl !== undefined && !/^https?:\/\/\S+$/.test(environmentUrl)) {
    read.problems.add({ input: 'environment-url', message: `'${environmentUrl}' is not an http(s) URL` })
  }
  return environmentUrl
}

/** The reporting inputs (environment, token, pr-comment) and the run the runner describes in GITHUB_*. */
export function gitHubInputs(read: InputReader, environmentUrl: string | undefined): GitHubContext {
  const env = read.env
  const serverUrl = env.GITHUB_SERVER_URL || 'https://github.com'
  const repository = env.GITHUB_REPOSITORY || ''
  const runId = env.GITHUB_RUN_ID || ''
  return {
    environment: read.optional('environment'),
    environmentUrl,
    token: read.optional('github-token') || env.GITHUB_TOKEN || undefined,
    prComment: read.boolean('pr-comment', false),
    eventName: env.GITHUB_EVENT_NAME || '',
    eventPath: env.GITHUB_EVENT_PATH || '',
    sha: env.GITHUB_SHA || '',
    ref: env.GITHUB_REF || '',
    refName: env.GITHUB_REF_NAME || '',
    repository,
    runId,
    runNumber: env.GITHUB_RUN_NUMBER || '',
    actor: env.GITHUB_ACTOR || '',
    serverUrl,
    apiUrl: env.GITHUB_API_URL || 'https://api.github.com',
    runUrl: repository && runId ? `${serverUrl}/${repository}/actions/runs/${runId}` : ''
  }
}
