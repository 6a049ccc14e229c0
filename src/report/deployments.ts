import * as core from '@actions/core'
import { errorMessage } from '../errors.js'
import type { Plan } from '../rollout/platform.js'
import type { RunResult } from '../rollout/engine.js'
import type { DeployRequest, PlatformName } from '../request.js'
import { apiWarning, callGitHub, loadGitHubClient, type Octokit } from './github-client.js'
import { rollbackHealth } from './summary.js'

/**
 * Records a run as a GitHub Deployment of the commit in `environment`: created with status
 * `in_progress` just before the change is applied, then `success`, `failure` (a failed rollout, also
 * when it was rolled back), `inactive` (superseded by another deploy) or `error` (cancelled, or stopped
 * by an unexpected error).
 *
 * Recording is best effort: every GitHub API problem is a warning, never a failed deploy.
 */
export interface DeploymentRecorder {
  /** The change is validated and about to be applied: create the Deployment, status `in_progress`. */
  started(plan: Plan): Promise<void>
  /** The run has a result: status `success` or `failure` (`error` when it was cancelled). */
  finished(result: RunResult): Promise<void>
  /** The run stopped on an error after the change started: status `error`. */
  failed(error: unknown): Promise<void>
}

export interface RecorderOptions {
  /** Where warnings and notes go; the action's log by default. */
  log?: { info(message: string): void; warning(message: string): void }
  /** The run's cancellation signal: a run that ends after it fired is recorded as `error`. */
  cancel?: AbortSignal
  /** How long one GitHub API call may take. */
  timeoutMs?: number
  /** The longest wait before another try of a call that failed with a 5xx, 429 or a dropped connection (two more tries at most). */
  retryMaxDelayMs?: number
}

type DeploymentState = 'in_progress' | 'success' | 'failure' | 'error' | 'inactive'

/** GitHub's limit for a deployment status description. */
const MAX_DESCRIPTION = 140

export const PERMISSION_HINT = {
  mayNot: 'write deployments of this repository',
  fix: 'Add `permissions: deployments: write` to the job (or the workflow), or give `github-token` a token that may create deployments.'
}

const NOOP: DeploymentRecorder = { started: async () => {}, finished: async () => {}, failed: async () => {} }

export function createDeploymentRecorder(request: DeployRequest, platform: PlatformName, options: RecorderOptions = {}): DeploymentRecorder {
  const log = options.log ?? core
  const github = request.github
  const environment = github.environment
  if (!environment) return NOOP
  if (!github.token) {
    log.warning(`No GitHub Deployment is recorded for environment '${environment}': there is no token. Set \`github-token\` (default: the workflow's GITHUB_TOKEN).`)
    return NOOP
  }
  const [owner, repo] = github.repository.split('/')
  const ref = github.sha || github.ref
  if (!owner || !repo || !ref) {
    log.warning(`No GitHub Deployment is recorded for environment '${environment}': GITHUB_REPOSITORY and GITHUB_SHA are not set (is this running in GitHub Actions?).`)
    return NOOP
  }

  const token = github.token
  // Loaded only when a Deployment is recorded.
  let client: Promise<Octokit | undefined> | undefined
  const loadOctokit = (): Promise<Octokit | undefined> =>
    (client ??= loadGitHubClient(token, github.apiUrl).then(
      octokit => octokit,
      (error: unknown) => {
        gaveUp = true
        log.warning(`No GitHub Deployment is recorded for environment '${environment}': the GitHub client did not load (${errorMessage(error)}). Is GITHUB_EVENT_PATH a readable JSON file? The deploy itself is not affected.`)
        return undefined
      }
    ))
  const timeoutMs = options.timeoutMs ?? 20_000
  const maxDelayMs = options.retryMaxDelayMs ?? 3000
  let deploymentId: number | undefined
  let gaveUp = false
  let finished = false

  /** Runs one GitHub API call with retries; on failure warns once and stops recording. */
  async function call<T>(what: string, fn: (octokit: Octokit, signal: AbortSignal) => Promise<T>): Promise<T | undefined> {
    const octokit = gaveUp ? undefined : await loadOctokit()
    if (!octokit) return undefined
    try {
      return await callGitHub(signal => fn(octokit, signal), { timeoutMs, maxDelayMs })
    } catch (error) {
      gaveUp = true
      const consequence = deploymentId === undefined ? `no Deployment is recorded in environment '${environment}'` : `GitHub Deployment ${deploymentId} keeps its last status`
      log.warning(apiWarning(what, consequence, error, PERMISSION_HINT))
      return undefined
    }
  }

  let endpointUrl: string | undefined

  async function setStatus(state: DeploymentState, description: string): Promise<void> {
    if (deploymentId === undefined || finished) return
    const id = deploymentId
    if (state !== 'in_progress') finished = true
    const ok = await call(`set the GitHub Deployment ${id} to ${state}`, (octokit, signal) =>
      octokit.rest.repos.createDeploymentStatus({
        owner,
        repo,
        deployment_id: id,
        state,
        description: clip(description),
        ...(github.runUrl ? { log_url: github.runUrl } : {}),
        ...(github.environmentUrl ?? endpointUrl ? { environment_url: github.environmentUrl ?? endpointUrl } : {}),
        request: { signal }
      })
    )
    if (ok) log.info(`GitHub Deployment ${id} (${environment}): ${state}`)
  }

  /**
   * A job with `environment:` gets a Deployment from GitHub when it starts, and ours comes on top: two
   * records per deploy. It is not reused: GitHub sets that record's status itself when the job ends
   * (overwriting ours), and it stands for the job, not for what was deployed. So the run warns and says
   * how to leave the record to deploy-service. Only advice: a failed check says nothing, and creating
   * our own Deployment next reports any real problem.
   */
  async function warnOfJobDeployment(): Promise<void> {
    const octokit = gaveUp ? undefined : await loadOctokit()
    if (!octokit) return
    let listed: Awaited<ReturnType<Octokit['rest']['repos']['listDeployments']>>['data']
    try {
      listed = (await callGitHub(signal => octokit.rest.repos.listDeployments({ owner, repo, sha: ref, environment, per_page: 30, request: { signal } }), { timeoutMs, maxDelayMs })).data
    } catch {
      return
    }
    // The job's record: made by the Actions app, with no payload of ours, while this job could have run.
    const since = Date.now() - JOB_MAX_MS
    const job = listed.find(d => d.creator?.login === ACTIONS_BOT && !isOurPayload(d.payload) && Date.parse(d.created_at) >= since)
    if (!job) return
    log.warning(
      `GitHub already recorded Deployment ${job.id} of this commit in environment '${environment}', for the job's \`environment:\`; deploy-service records its own, so each deploy shows twice. Write \`environment: { name: ${environment}, deployment: false }\` in the job: it keeps the environment's secrets and variables and leaves the record to deploy-service.`
    )
  }

  /**
   * `mode: follow`: the Deployment the run that handed off left `in_progress`, found by environment, our
   * payload for this service, and its last status naming the service deployment (handOffDescription).
   * A scheduled workflow has no outputs of that run to pass on; GitHub and ECS are where it is written.
   */
  async function findHandedOff(arn: string): Promise<void> {
    const key = handOffKey(arn)
    const listed = await call(`list the GitHub Deployments of environment '${environment}'`, (octokit, signal) =>
      octokit.rest.repos.listDeployments({ owner, repo, environment, per_page: 30, request: { signal } }))
    const ours = (listed?.data ?? []).filter(d => isOurPayload(d.payload) && payloadService(d.payload) === request.service)
    for (const candidate of ours.slice(0, 10)) {
      const statuses = await call(`read the statuses of GitHub Deployment ${candidate.id}`, (octokit, signal) =>
        octokit.rest.repos.listDeploymentStatuses({ owner, repo, deployment_id: candidate.id, per_page: 1, request: { signal } }))
      const last = statuses?.data[0]
      if (last?.state === 'in_progress' && (last.description ?? '').includes(key)) {
        deploymentId = candidate.id
        log.info(`GitHub Deployment ${candidate.id} (${environment}) was left in_progress by the run that handed off ${key}: this run finishes it`)
        return
      }
    }
    if (!gaveUp) log.info(`No GitHub Deployment in environment '${environment}' is in_progress for ${key}: this run records none`)
  }

  return {
    async started(plan) {
      // Without `environment-url`, the service's own URL where the platform gives one (ECS Express).
      endpointUrl = plan.endpointUrl
      if (deploymentId !== undefined) return
      if (request.mode === 'follow') return plan.follows ? findHandedOff(plan.follows) : undefined
      await warnOfJobDeployment()
      const image = plan.images.map(change => change.next).join(', ')
      const rollback = request.mode === 'rollback'
      const created = await call(`create a GitHub Deployment in environment '${environment}'`, (octokit, signal) =>
        octokit.rest.repos.createDeployment({
          owner,
          repo,
          ref,
          environment,
          task: rollback ? 'deploy:rollback' : 'deploy',
          auto_merge: false,
          required_contexts: [],
          payload: { service: request.service, image, platform, ...(plan.previousRevision ? { previousRevision: plan.previousRevision } : {}) },
          description: clip(`${request.service}: ${image || plan.description}`),
          production_environment: isProductionEnvironment(environment),
          transient_environment: isTransientEnvironment(environment),
          request: { signal }
        })
      )
      if (!created) return
      if (!('id' in created.data)) {
        gaveUp = true
        log.warning(`GitHub did not create a Deployment in environment '${environment}': ${created.data.message ?? `HTTP ${created.status}`}`)
        return
      }
      deploymentId = created.data.id
      await setStatus('in_progress', rollback ? `rolling back: ${plan.description}` : `deploying ${image || plan.description}`)
    },

    async finished(result) {
      const rollback = result.rollback
      // The first words of the description are the ones GitHub shows: a rollback cut short by the
      // cancellation says so first (its health is unknown), never "NOT healthy".
      if (options.cancel?.aborted && rollback?.unknown === 'cancelled') {
        return setStatus('error', `cancelled while the rollback to ${shortRevision(rollback.revision)} was in progress (health unknown): ${result.message}`)
      }
      if (options.cancel?.aborted) return setStatus('error', `cancelled: ${result.message}`)
      // Paused at a hook, not yet serving: the deployment stays in progress until a later step continues it.
      if (result.status === 'paused') return setStatus('in_progress', result.message)
      // Handed to a later job: in progress until that job (mode: follow) finds it by this description.
      if (result.status === 'in-progress') return setStatus('in_progress', handOffDescription(result))
      if (result.ok) return setStatus('success', result.message)
      // GitHub documents `inactive` as the state of a deployment that a newer one to the same environment
      // replaced (auto_inactive): that is a superseded run, and unlike `failure` it pages nobody. For a
      // transient environment GitHub shows `inactive` as "destroyed", which it is not: `failure` there.
      if (result.status === 'superseded') return setStatus(isTransientEnvironment(environment) ? 'failure' : 'inactive', result.message)
      if (rollback) {
        const back = shortRevision(rollback.revision)
        const failed = result.revision ? `${shortRevision(result.revision)} failed` : 'the rollout failed'
        // reasons[0] is the platform's verdict; the first detail after it (a stopped task, a pod state) says more.
        const why = result.reasons[1] ?? result.reasons[0]
        const outcome = rollback.healthy
          ? `rolled back to ${back} (healthy)`
          : rollback.unknown
            ? `the rollback to ${back} was ${rollbackHealth(rollback)}`
            : `the rollback to ${back} is NOT healthy either`
        return setStatus('failure', `${failed}; ${outcome}${why ? `: ${why}` : ''}`)
      }
      return setStatus('failure', result.message)
    },

    async failed(error) {
      const prefix = options.cancel?.aborted ? 'cancelled' : 'deploy-service stopped'
      return setStatus('error', `${prefix}: ${errorMessage(error)}`)
    }
  }
}

/** The login of the GitHub Actions app, which creates a job's Deployment (and ours, with GITHUB_TOKEN). */
const ACTIONS_BOT = 'github-actions[bot]'
/** A job on a GitHub-hosted runner runs at most 6 hours: an older Deployment is not this job's. */
const JOB_MAX_MS = 6 * 3600_000

/** Our Deployments carry the service in their payload; GitHub's own for a job carry none. */
function isOurPayload(payload: unknown): boolean {
  if (typeof payload === 'string') {
    try {
      return isOurPayload(JSON.parse(payload))
    } catch {
      return false
    }
  }
  return typeof payload === 'object' && payload !== null && 'service' in payload
}

/** The words of a status that name a handed-off service deployment: `service deployment web/AbC`. */
function handOffKey(arn: string): string {
  return `service deployment ${arn.split('/').slice(-2).join('/')}`
}

/** The `in_progress` status of a hand-off: the key first, since GitHub cuts a description at 140 characters. */
function handOffDescription(result: RunResult): string {
  const arn = result.outputs['service-deployment-arn'] ?? ''
  const stage = result.outputs['lifecycle-stage']
  return `handed off: ${handOffKey(arn)}${stage ? ` at ${stage}` : ''}${result.revision ? ` (${shortRevision(result.revision)})` : ''}; mode 'follow' gives the verdict`
}

function payloadService(payload: unknown): unknown {
  const parsed = typeof payload === 'string' ? safeJson(payload) : payload
  return typeof parsed === 'object' && parsed !== null && 'service' in parsed ? (parsed as { service: unknown }).service : undefined
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** Names such as `production`, `prod`, `prod-eu`, `us-production`. */
export function isProductionEnvironment(name: string): boolean {
  return /(^|[^a-z0-9])prod(uction)?([^a-z]|$)/i.test(name)
}

/** Short-lived environments that go away: `pr-123`, `preview`, `review/feature-x`, `ephemeral-3`. */
export function isTransientEnvironment(name: string): boolean {
  return /(^|[^a-z0-9])(pr|preview|review|ephemeral|temp|tmp)([^a-z]|$)/i.test(name)
}

/** `arn:aws:ecs:…:task-definition/web:7` -> `web:7`; anything else as it is. */
function shortRevision(revision: string): string {
  const match = /:task-definition\/(.+)$/.exec(revision)
  return match ? match[1] : revision
}

/** One line of at most 140 characters, task-definition ARNs shortened to family:revision. */
function clip(text: string): string {
  const line = text
    .replace(/arn:aws[\w-]*:ecs:[^:\s]*:\d*:task-definition\/([^\s,;)]+)/g, '$1')
    .replace(/\s+/g, ' ')
    .trim()
  return line.length <= MAX_DESCRIPTION ? line : `${line.slice(0, MAX_DESCRIPTION - 1)}…`
}
