import os from 'node:os'
import { ProblemList } from './errors.js'
import { imageVersionProblem, parseImageReference, parseImageVersion } from './render/image.js'
import { BUILT_IN_VARIABLES } from './render/placeholders.js'
import type { DeployRequest, GitHubContext, Mode, PlatformName } from './request.js'

type Env = Record<string, string | undefined>

const MODES: readonly Mode[] = ['deploy', 'rollback', 'render']
const PLATFORMS: readonly PlatformName[] = ['ecs', 'kubernetes']
const TRUE = ['true', 'True', 'TRUE']
const FALSE = ['false', 'False', 'FALSE']
const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const REVISION_REF = /^(?:\d+|[A-Za-z0-9_-]{1,255}:\d+|arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task-definition\/[A-Za-z0-9_-]{1,255}:\d+)$/

/**
 * Reads every input the way the runner passes them (INPUT_<NAME> with the dashes kept) and turns them
 * into one typed request. All problems are collected and thrown together as one UserError; nothing
 * here touches the network.
 */
export function parseInputs(env: Env = process.env): DeployRequest {
  const problems = new ProblemList()
  const input = (name: string): string => (env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] ?? '').trim()
  const optional = (name: string): string | undefined => input(name) || undefined

  const boolean = (name: string, fallback: boolean): boolean => {
    const value = input(name)
    if (value === '') return fallback
    if (TRUE.includes(value)) return true
    if (FALSE.includes(value)) return false
    problems.add({ input: name, message: `'${value}' is not a boolean: use true or false` })
    return fallback
  }

  const integer = (name: string, min: number): number | undefined => {
    const value = input(name)
    if (value === '') return undefined
    if (!/^\d+$/.test(value) || Number(value) < min) {
      problems.add({ input: name, message: `'${value}' is not a whole number of at least ${min}` })
      return undefined
    }
    return Number(value)
  }

  const oneOf = <T extends string>(name: string, allowed: readonly T[], fallback: T | undefined): T | undefined => {
    const value = input(name)
    if (value === '') return fallback
    if ((allowed as readonly string[]).includes(value)) return value as T
    problems.add({ input: name, message: `'${value}' is not one of: ${allowed.join(', ')}` })
    return fallback
  }

  const service = input('service')
  if (service === '') problems.add({ input: 'service', message: 'is required: the ECS service or Kubernetes workload to deploy' })
  else if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/.test(service)) {
    problems.add({ input: 'service', message: `'${service}' is not a service or workload name (letters, digits, '.', '_', '-')` })
  }

  const mode = oneOf('mode', MODES, 'deploy') ?? 'deploy'
  const platform = oneOf('platform', PLATFORMS, undefined)

  const imageTag = optional('image-tag')
  if (imageTag !== undefined) {
    const problem = imageVersionProblem(imageTag)
    if (problem) problems.add({ input: 'image-tag', message: problem })
  }
  const image = optional('image')
  if (image !== undefined) {
    const parsed = parseImageReference(image)
    if (typeof parsed === 'string') problems.add({ input: 'image', message: parsed })
  }
  if (image !== undefined && imageTag !== undefined) {
    problems.add({ input: 'image', message: "give either 'image' (a full reference) or 'image-tag', not both" })
  }
  if (mode === 'deploy' && image === undefined && imageTag === undefined) {
    problems.add({ input: 'image-tag', message: "is required with mode 'deploy' (or give the full 'image')" })
  }

  const containers = input('container')
    .split(',')
    .map(name => name.trim())
  if (containers.length > 1 && containers.some(name => name === '')) {
    problems.add({ input: 'container', message: `'${input('container')}' has an empty name in its list` })
  }

  const timeout = parseTimeout(input('timeout') || '10m')
  if (typeof timeout === 'string') problems.add({ input: 'timeout', message: timeout })

  const toRevision = optional('to-revision')
  if (toRevision !== undefined) {
    if (mode !== 'rollback') problems.add({ input: 'to-revision', message: "is only used with mode 'rollback'" })
    else if (!REVISION_REF.test(toRevision)) {
      problems.add({
        input: 'to-revision',
        message: `'${toRevision}' is not a revision: use a number (7), family:revision (web:7) or a task-definition ARN`
      })
    }
  }

  const namespace = optional('namespace')
  if (namespace !== undefined && !DNS_LABEL.test(namespace)) {
    problems.add({ input: 'namespace', message: `'${namespace}' is not a namespace name (lowercase letters, digits, '-')` })
  }
  const environmentUrl = optional('environment-url')
  if (environmentUrl !== undefined && !/^https?:\/\/\S+$/.test(environmentUrl)) {
    problems.add({ input: 'environment-url', message: `'${environmentUrl}' is not an http(s) URL` })
  }

  const request: DeployRequest = {
    service,
    mode,
    platform,
    imageVersion: imageTag !== undefined ? parseImageVersion(imageTag) : undefined,
    image,
    containers: containers.filter(name => name !== ''),
    template: optional('template'),
    vars: problems.collect(() => parseVars(input('vars'))) ?? {},
    dryRun: boolean('dry-run', false),
    wait: boolean('wait', true),
    timeoutMs: typeof timeout === 'number' ? timeout : 0,
    rollbackOnFailure: boolean('rollback-on-failure', true),
    toRevision,
    outputDir: env.RUNNER_TEMP || os.tmpdir(),
    github: gitHubContext(env, optional('environment'), environmentUrl, optional('github-token')),
    ecs: {
      cluster: input('cluster') || 'default',
      desiredCount: integer('desired-count', 0),
      forceNewDeployment: boolean('force-new-deployment', false),
      keepRevisions: integer('keep-revisions', 1)
    },
    kubernetes: {
      namespace,
      kubeconfig: optional('kubeconfig'),
      context: optional('context'),
      fieldManager: input('field-manager') || 'deploy-service',
      forceConflicts: boolean('force-conflicts', false)
    }
  }
  if (request.dryRun && mode === 'render') {
    problems.add({ input: 'dry-run', message: "mode 'render' never touches the server; drop dry-run or use mode 'deploy'" })
  }
  problems.throwIfAny()
  return request
}

/** A GitHub-hosted job runs for at most 6 hours: a longer wait can never end on its own terms. */
export const TIMEOUT_MAX_MS = 6 * 3600_000
const TIMEOUT_MIN_MS = 1000
// Hours, minutes, seconds, each at most once and in that order (1h30m, 10m, 90s, 1m30s), or bare
// seconds (90). Nothing else: no fractions, exponents, spaces, other units or trailing words. This
// is all `timeout` needs, and unlike a general duration parser it cannot read '10s garbage' or '1e3'.
const DURATION = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/

/** The `timeout` input in milliseconds, or the problem with it. */
export function parseTimeout(value: string): number | string {
  const usage = 'use e.g. 90s, 10m, 1h30m, 1m30s or 90 (seconds): whole hours, minutes and seconds, in that order'
  const match = /^\d+$/.test(value) ? ['', undefined, undefined, value] : DURATION.exec(value)
  if (!match || value === '') return `'${value}' is not a duration: ${usage}`
  const [hours, minutes, seconds] = match.slice(1, 4).map(part => Number(part ?? 0))
  const ms = ((hours * 60 + minutes) * 60 + seconds) * 1000
  if (ms < TIMEOUT_MIN_MS) return `'${value}' is too short: the minimum is 1s`
  if (ms > TIMEOUT_MAX_MS) return `'${value}' is too long: the maximum is 6h (a GitHub-hosted job runs at most 6 hours)`
  return ms
}

/** `KEY=value` lines; blank lines and `#` comments are skipped. */
export function parseVars(text: string): Record<string, string> {
  const problems = new ProblemList()
  const vars: Record<string, string> = {}
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) return
    const at = `line ${index + 1}`
    const equals = line.indexOf('=')
    if (equals <= 0) {
      problems.add({ input: 'vars', message: `${at}: '${line}' is not KEY=value` })
      return
    }
    const key = line.slice(0, equals).trim()
    if (!VAR_NAME.test(key)) problems.add({ input: 'vars', message: `${at}: '${key}' is not a valid name (letters, digits, '_')` })
    else if (BUILT_IN_VARIABLES.includes(key)) problems.add({ input: 'vars', message: `${at}: ${key} is built in and cannot be set` })
    else if (key in vars) problems.add({ input: 'vars', message: `${at}: ${key} is set twice` })
    else vars[key] = line.slice(equals + 1).trim()
  })
  problems.throwIfAny()
  return vars
}

function gitHubContext(env: Env, environment?: string, environmentUrl?: string, token?: string): GitHubContext {
  const serverUrl = env.GITHUB_SERVER_URL || 'https://github.com'
  const repository = env.GITHUB_REPOSITORY || ''
  const runId = env.GITHUB_RUN_ID || ''
  return {
    environment,
    environmentUrl,
    token: token || env.GITHUB_TOKEN || undefined,
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
