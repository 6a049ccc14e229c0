import os from 'node:os'
import * as core from '@actions/core'
import { parse as parseYaml } from 'yaml'
import { ProblemList } from '../errors.js'
import { helmSetValues } from '../render/helm-set.js'
import { imageVersionProblem, parseImageReference, parseImageVersion } from '../render/image.js'
import { verifyUrlProblem, verifyUrlSecrets } from '../verify/url-input.js'
import { parseKeyValues, parseVars } from './key-values.js'
import { FALSE, TRUE, parseTimeout } from './reader.js'
import { LIFECYCLE_STAGES, type DeployRequest, type GitHubContext, type Mode, type OnPause, type PlatformName, type PreDeployCommand, type VerifySettings } from '../request.js'

type Env = Record<string, string | undefined>

const MODES: readonly Mode[] = ['deploy', 'rollback', 'render', 'continue', 'follow']
const ON_PAUSE: readonly OnPause[] = ['wait', 'exit', 'continue', 'verify']
const PLATFORMS: readonly PlatformName[] = ['ecs', 'kubernetes']
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const REVISION_REF = /^(?:\d+|[A-Za-z0-9_-]{1,255}:\d+|arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task-definition\/[A-Za-z0-9_-]{1,255}:\d+)$/

/**
 * Reads every input the way the runner passes them (INPUT_<NAME> with the dashes kept) and turns them
 * into one typed request. All problems are collected and thrown together as one UserError; nothing
 * here touches the network.
 */
export function parseInputs(env: Env = process.env, registerSecret: (secret: string) => void = core.setSecret): DeployRequest {
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

  // Several ECS services in one step (a monorepo's api, worker, scheduler): one per line or comma-separated.
  const services = [...new Set(input('service').split(/[\n,]/).map(name => name.trim()).filter(name => name !== ''))]
  const service = services.join(',')
  if (services.length === 0) problems.add({ input: 'service', message: 'is required: the ECS service or Kubernetes workload to deploy' })
  for (const name of services) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/.test(name)) problems.add({ input: 'service', message: `'${name}' is not a service or workload name (letters, digits, '.', '_', '-')` })
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

  const duration = (name: string, fallback: string): number => {
    const value = parseTimeout(input(name) || fallback)
    if (typeof value === 'string') {
      problems.add({ input: name, message: value })
      return 0
    }
    return value
  }

  const serviceDeploymentArn = optional('service-deployment-arn')
  if (serviceDeploymentArn !== undefined) {
    if (mode !== 'continue' && mode !== 'rollback' && mode !== 'follow') problems.add({ input: 'service-deployment-arn', message: "is only used with mode 'continue', 'rollback' or 'follow'" })
    else if (!SERVICE_DEPLOYMENT_ARN.test(serviceDeploymentArn)) {
      problems.add({ input: 'service-deployment-arn', message: `'${serviceDeploymentArn}' is not an ECS service-deployment ARN (arn:aws:ecs:REGION:ACCOUNT:service-deployment/CLUSTER/SERVICE/ID)` })
    }
  }

  const preDeployText = input('pre-deploy-command')
  let preDeploy: PreDeployCommand | undefined
  if (preDeployText !== '') {
    const command = parseCommand(preDeployText)
    if (typeof command === 'string') problems.add({ input: 'pre-deploy-command', message: command })
    else preDeploy = { command, container: optional('pre-deploy-container'), timeoutMs: duration('pre-deploy-timeout', '10m') }
  } else {
    for (const name of ['pre-deploy-container', 'pre-deploy-timeout']) {
      if (input(name) !== '') problems.add({ input: name, message: "is only used with 'pre-deploy-command'" })
    }
  }

  const verifyUrl = optional('verify-url')
  if (verifyUrl !== undefined) {
    // Masked before anything can print it, in every form; the problem never quotes it.
    for (const secret of verifyUrlSecrets(verifyUrl)) registerSecret(secret)
    // A path alone (`/healthz`) is checked against the service's endpoint URL (ECS Express).
    const problem = /^\/[^\s\p{Cc}]*$/u.test(verifyUrl) ? undefined : verifyUrlProblem(verifyUrl)
    if (problem !== undefined) problems.add({ input: 'verify-url', message: problem })
  }
  const verifyCommand = optional('verify-command')
  let verify: VerifySettings | undefined
  if (verifyUrl !== undefined || verifyCommand !== undefined) {
    const statuses = parseStatuses(input('verify-status') || '200-299')
    if (typeof statuses === 'string') problems.add({ input: 'verify-status', message: statuses })
    verify = {
      url: verifyUrl,
      statuses: typeof statuses === 'string' ? [] : statuses,
      text: optional('verify-text'),
      command: verifyCommand,
      timeoutMs: duration('verify-timeout', '2m')
    }
    if (verifyUrl === undefined) {
      for (const name of ['verify-status', 'verify-text']) if (input(name) !== '') problems.add({ input: name, message: "is only used with 'verify-url'" })
    }
  } else {
    for (const name of ['verify-status', 'verify-text', 'verify-timeout']) {
      if (input(name) !== '') problems.add({ input: name, message: "is only used with 'verify-url' or 'verify-command'" })
    }
  }

  const helmSet = problems.collect(() => parseKeyValues(input('helm-set'), 'helm-set', /^[A-Za-z0-9_.\-/[\]\\]+$/)) ?? {}
  // Each key's syntax (a.b, list[0], \. for a dot) and keys that clash, with the other input problems.
  problems.collect(() => helmSetValues(helmSet))
  // A helm-set value may be a password: the runner masks it everywhere (tool stderr, diffs, the rendered
  // file's log), not only in the printed command. Shorter values would mask common words.
  for (const value of Object.values(helmSet)) if (value.length >= 3) registerSecret(value)

  const prune = boolean('prune', false)
  const adopt = parseAdopt(input('adopt'))
  if ('problem' in adopt) problems.add({ input: 'adopt', message: adopt.problem })
  const pruneVolumeClaims = input('prune-volume-claims')
    .split(/[\n,]/)
    .map(name => name.trim())
    .filter(name => name !== '')
  for (const name of pruneVolumeClaims) {
    if (!DNS_SUBDOMAIN.test(name)) problems.add({ input: 'prune-volume-claims', message: `'${name}' is not a PersistentVolumeClaim name (lowercase letters, digits, '-', '.')` })
  }
  if (!prune) for (const name of ['adopt', 'prune-volume-claims']) if (input(name) !== '' && !FALSE.includes(input(name))) problems.add({ input: name, message: "is only used with 'prune: true'" })

  const request: DeployRequest = {
    service,
    services,
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
    preDeploy,
    verify,
    github: gitHubContext(env, optional('environment'), environmentUrl, optional('github-token'), boolean('pr-comment', false)),
    ecs: {
      cluster: input('cluster') || 'default',
      onPause: oneOf('on-pause', ON_PAUSE, 'wait') ?? 'wait',
      serviceDeploymentArn,
      handOffAt: handOffAt(mode, optional('hand-off-at'), input('wait'), problems),
      codedeployAppspec: optional('codedeploy-appspec'),
      desiredCount: integer('desired-count', 0),
      forceNewDeployment: boolean('force-new-deployment', false),
      keepRevisions: integer('keep-revisions', 1),
      updateScheduledTasks: boolean('update-scheduled-tasks', false)
    },
    kubernetes: {
      namespace,
      kubeconfig: optional('kubeconfig'),
      context: optional('context'),
      eksCluster: eksCluster(optional('eks-cluster'), optional('kubeconfig'), optional('context'), problems),
      fieldManager: input('field-manager') || 'deploy-service',
      forceConflicts: boolean('force-conflicts', false),
      helmValues: input('helm-values')
        .split(/[\n,]/)
        .map(file => file.trim())
        .filter(file => file !== ''),
      helmSet,
      prune,
      adopt: 'problem' in adopt ? [] : adopt.adopt,
      pruneVolumeClaims,
      waitForLoadBalancers: boolean('wait-for-load-balancers', true)
    }
  }
  if (request.dryRun && mode === 'render') {
    problems.add({ input: 'dry-run', message: "mode 'render' never touches the server; drop dry-run or use mode 'deploy'" })
  }
  // A deploy step shared by push and pull_request (`dry-run: ${{ github.event_name == 'pull_request' }}`)
  // keeps `pr-comment: true` on its deploys too, so there it is only a note; these modes never comment.
  if (request.github.prComment && (mode === 'render' || mode === 'rollback' || mode === 'continue' || mode === 'follow')) {
    problems.add({ input: 'pr-comment', message: `comments the plan of a dry run on a pull request; mode '${mode}' has no plan to comment: drop pr-comment or use mode 'deploy' with dry-run: true` })
  }
  if (request.ecs.updateScheduledTasks && !request.wait) {
    problems.add({ input: 'update-scheduled-tasks', message: "moves the scheduled tasks once the deploy is proven healthy; with 'wait: false' nothing proves it: drop one of them" })
  }
  if (request.ecs.onPause === 'verify' && !verify) {
    problems.add({ input: 'on-pause', message: "'verify' runs verify-url or verify-command at the pause: set one of them" })
  }
  // `mode: render` shows the pre-deploy Job (Kubernetes) with the rest; it runs nothing.
  if (mode === 'rollback' || mode === 'continue' || mode === 'follow') {
    if (preDeploy) problems.add({ input: 'pre-deploy-command', message: `runs before a deploy; mode '${mode}' never runs it` })
  }
  if (services.length > 1) severalServicesProblems(request, problems)
  problems.throwIfAny()
  return request
}

/**
 * `hand-off-at`: an ECS lifecycle stage at which a deploy stops waiting (status `in-progress`) and
 * leaves the verdict to a later job (`mode: follow`).
 */
function handOffAt(mode: Mode, value: string | undefined, wait: string, problems: ProblemList): DeployRequest['ecs']['handOffAt'] {
  if (value === undefined) return undefined
  const stage = LIFECYCLE_STAGES.find(s => s === value.toUpperCase())
  if (!stage) {
    problems.add({ input: 'hand-off-at', message: `'${value}' is not an ECS lifecycle stage: use one of ${LIFECYCLE_STAGES.join(', ')} (BAKE_TIME hands off a long bake)` })
    return undefined
  }
  if (mode !== 'deploy' && mode !== 'continue') problems.add({ input: 'hand-off-at', message: `is used with mode 'deploy' or 'continue'; mode '${mode}' follows to the end` })
  if (FALSE.includes(wait)) problems.add({ input: 'hand-off-at', message: "stops waiting at a stage; with wait: false nothing is waited for: drop one of them" })
  return stage
}

/** Several services are deployed together on ECS only, by `mode: deploy`, without a pre-deploy task. */
function severalServicesProblems(request: DeployRequest, problems: ProblemList): void {
  const names = request.services.map(name => `'${name}'`).join(', ')
  if (request.platform === 'kubernetes') {
    problems.add({ input: 'service', message: `names ${request.services.length} workloads (${names}); Kubernetes deploys one workload per step: name one, or use one step per workload (a matrix)` })
  }
  if (request.mode !== 'deploy') {
    problems.add({ input: 'service', message: `names ${request.services.length} services (${names}); mode '${request.mode}' acts on one service: name one service` })
  }
  if (request.preDeploy) {
    problems.add({ input: 'pre-deploy-command', message: `runs one task before one service changes; 'service' names ${request.services.length}: run it in a step of its own before this one, or name one service` })
  }
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/
const ADOPT_ENTRY = /^[A-Z][A-Za-z0-9]*\/[^\s/,]+$/

/**
 * `adopt`: `true` (every object of the set another ApplySet holds), `false`/empty (none), or a list of
 * `Kind/name` (comma or newline separated).
 */
export function parseAdopt(text: string): { adopt: 'all' | string[] } | { problem: string } {
  if (text === '' || FALSE.includes(text)) return { adopt: [] }
  if (TRUE.includes(text)) return { adopt: 'all' }
  const entries = text
    .split(/[\n,]/)
    .map(entry => entry.trim())
    .filter(entry => entry !== '')
  const bad = entries.filter(entry => !ADOPT_ENTRY.test(entry))
  if (bad.length) return { problem: `${bad.map(entry => `'${entry}'`).join(', ')} ${bad.length === 1 ? 'is' : 'are'} not Kind/name (e.g. ClusterRole/shop-reader): list the objects to take over from another ApplySet, or use true for all` }
  return { adopt: entries }
}

const SERVICE_DEPLOYMENT_ARN = /^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:service-deployment\/[A-Za-z0-9_-]{1,255}\/[A-Za-z0-9_-]{1,255}\/[A-Za-z0-9_-]+$/

/**
 * `pre-deploy-command`: a YAML or JSON list of strings is the argv as given; any other text is run by
 * `sh -c` (so the image needs a shell).
 */
export function parseCommand(text: string): string[] | string {
  if (!/^\s*(\[|- )/.test(text)) return ['sh', '-c', text]
  let value: unknown
  try {
    value = parseYaml(text)
  } catch (error) {
    return `is not a YAML/JSON list of strings: ${(error as Error).message.split('\n')[0]}`
  }
  if (!Array.isArray(value) || value.length === 0 || !value.every(part => typeof part === 'string')) {
    return 'a list must hold at least one string and only strings (e.g. ["./migrate", "up"]); or give a command for sh -c'
  }
  return value
}

/** `verify-status`: codes and ranges, comma-separated: `200`, `200-299`, `2xx`, `200,204,301-308`. */
export function parseStatuses(text: string): Array<[number, number]> | string {
  const ranges: Array<[number, number]> = []
  for (const part of text.split(',').map(p => p.trim())) {
    const hundreds = /^([1-5])xx$/.exec(part)
    const codes = /^(\d{3})(?:-(\d{3}))?$/.exec(part)
    const range = hundreds ? [Number(hundreds[1]) * 100, Number(hundreds[1]) * 100 + 99] : codes ? [Number(codes[1]), Number(codes[2] ?? codes[1])] : undefined
    if (!range || range[0] < 100 || range[1] > 599 || range[0] > range[1]) {
      return `'${part}' is not an HTTP status or range: use e.g. 200, 200-299, 2xx or 200,204`
    }
    ranges.push([range[0], range[1]])
  }
  return ranges
}

function gitHubContext(env: Env, environment: string | undefined, environmentUrl: string | undefined, token: string | undefined, prComment: boolean): GitHubContext {
  const serverUrl = env.GITHUB_SERVER_URL || 'https://github.com'
  const repository = env.GITHUB_REPOSITORY || ''
  const runId = env.GITHUB_RUN_ID || ''
  return {
    environment,
    environmentUrl,
    token: token || env.GITHUB_TOKEN || undefined,
    prComment,
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

/** EKS's own rule for a cluster name (1-100 characters, a letter or digit first). */
const EKS_CLUSTER_NAME = /^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/

/** The `eks-cluster` input: a cluster name, and never beside a kubeconfig or context (which would win is unclear). */
function eksCluster(name: string | undefined, kubeconfig: string | undefined, context: string | undefined, problems: ProblemList): string | undefined {
  if (name === undefined) return undefined
  if (!EKS_CLUSTER_NAME.test(name)) problems.add({ input: 'eks-cluster', message: `'${name}' is not an EKS cluster name (letters, digits, '-' and '_', up to 100): give the name, not the ARN` })
  if (kubeconfig !== undefined || context !== undefined) {
    problems.add({ input: 'eks-cluster', message: `names the cluster and its credentials already: drop ${kubeconfig !== undefined ? "'kubeconfig'" : "'context'"} (eks-cluster needs no kubeconfig)` })
  }
  return name
}
