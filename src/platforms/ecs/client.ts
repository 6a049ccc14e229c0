import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  ListClustersCommand,
  ListServicesCommand,
  ListTaskDefinitionsCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
  DeregisterTaskDefinitionCommand,
  DescribeServiceDeploymentsCommand,
  TagResourceCommand,
  type ServiceDeployment,
  type ECSClientConfig,
  type RegisterTaskDefinitionCommandInput,
  type Service,
  type Tag,
  type Task,
  type TaskDefinition
} from '@aws-sdk/client-ecs'
import type { CloudWatchLogsClientConfig } from '@aws-sdk/client-cloudwatch-logs'
import { randomUUID } from 'node:crypto'
import { UserError, errorMessage } from '../../errors.js'
import { errnoOf, isThrottling, retry, wasNotExecuted, type RetryOptions } from '../../rollout/retry.js'
import type { Owned } from '../../rollout/ownership.js'
import { revisionNumber } from './assess.js'
import { ServiceDeploymentsUnavailable, unavailableAs } from './service-deployment/errors.js'

/** How long one try may take: connecting, then the whole request and answer. */
export const CONNECT_TIMEOUT_MS = 3_000
export const REQUEST_TIMEOUT_MS = 10_000

/**
 * The one retry loop for ECS calls (the SDK's own retry is off: maxAttempts 1, so no stacking of
 * its tries under ours). Throttling is retried patiently, for up to 2 minutes per call (bounded by
 * time, not tries), with full-jitter backoff up to 2 s, about one try a second: a throttled request
 * was not run, and a storm passes. Server errors, timeouts and dropped or refused connections get up
 * to 4 tries, started within 20 s of the first that failed: an endpoint that never answers (10 s per
 * try) ends after 2 tries, in about 21 s; one that refuses, after 4 tries in a few seconds.
 * Cancellation and deadlines end the wait between tries (abortSignal).
 */
export const ECS_RETRY: Omit<RetryOptions, 'signal'> = { attempts: Infinity, withinMs: 120_000, baseMs: 500, maxMs: 2_000, failures: { attempts: 4, withinMs: 20_000 } }

/** What a rollback UpdateService carries: the service as just read (ownership.ts proves it). */
export interface ServiceRead {
  service: string
  /** The PRIMARY deployment as just read. */
  deploymentId?: string
  /** The task definition it runs: ours. */
  taskDefinition: string
}

/** Tag on each registration, unique to it: finds the revision an ambiguous RegisterTaskDefinition made. */
export const REGISTRATION_TAG = 'deploy-service:registration'

/**
 * How every AWS client of the action is bounded (ECS, CodeDeploy, CloudWatch Logs): each try limited
 * (connect, then the whole request), and no retry of the SDK's own, since our one retry policy retries.
 */
export const AWS_CLIENT_BOUNDS = {
  maxAttempts: 1,
  requestHandler: { connectionTimeout: CONNECT_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, throwOnRequestTimeout: true, socketTimeout: REQUEST_TIMEOUT_MS }
}

/**
 * An ECS client configured as the action needs it: each try bounded (connect, request), no retry of
 * its own (EcsApi retries), the rest (region, credentials, endpoint) from the standard AWS chain
 * unless given.
 */
export function createEcsClient(config: ECSClientConfig = {}): ECSClient {
  return new ECSClient({ ...AWS_CLIENT_BOUNDS, ...config })
}

/**
 * The ECS calls a deploy makes, each rethrown with what we were doing. Mistakes the user can fix
 * (unknown cluster or service, no region, no or denied credentials) become UserErrors that name the
 * input and the fix. Every method takes an optional AbortSignal (last): cancellation aborts the
 * request in flight and the wait between tries.
 */
export class EcsApi {
  readonly client: ECSClient
  readonly cluster: string
  /** Where the last request went, for messages about an endpoint that does not answer. */
  private endpoint = ''

  /** The run's cancellation (SIGINT/SIGTERM): every call made through this client ends when it fires. */
  private cancel?: AbortSignal

  /** Ends every call, in prepare as later, when the run is cancelled. */
  cancelOn(signal: AbortSignal): this {
    this.cancel = signal
    return this
  }

  protected signalFor(given?: AbortSignal): AbortSignal | undefined {
    if (!this.cancel) return given
    return given ? AbortSignal.any([given, this.cancel]) : this.cancel
  }

  constructor(cluster: string, client = createEcsClient()) {
    this.cluster = cluster
    this.client = client
    client.middlewareStack.add(
      next => async args => {
        const request = args.request as { protocol?: string; hostname?: string; port?: number }
        if (request.hostname) this.endpoint = `${request.protocol ?? 'https:'}//${request.hostname}${request.port ? `:${request.port}` : ''}`
        return next(args)
      },
      { step: 'finalizeRequest', name: 'deployServiceEndpoint', override: true }
    )
  }

  /** The service, which must exist and be ACTIVE. */
  async describeService(service: string, signal?: AbortSignal): Promise<Service> {
    const abortSignal = this.signalFor(signal)
    const output = await this.call(`describe service '${service}'`, () =>
      this.client.send(new DescribeServicesCommand({ cluster: this.cluster, services: [service] }), { abortSignal })
    , undefined, abortSignal)
    const found = output.services?.find(s => s.serviceName === service)
    if (!found) {
      const reason = output.failures?.[0]?.reason ?? 'MISSING'
      throw new UserError({ input: 'service', message: `ECS service '${service}' was not found in cluster '${this.cluster}' (${reason}): check 'service' and 'cluster'` })
    }
    return found
  }

  async describeTaskDefinition(reference: string, input = 'template', signal?: AbortSignal): Promise<{ taskDefinition: TaskDefinition; tags: Tag[] }> {
    const abortSignal = this.signalFor(signal)
    const output = await this.call(`describe task definition '${reference}'`, () =>
      this.client.send(new DescribeTaskDefinitionCommand({ taskDefinition: reference, include: ['TAGS'] }), { abortSignal })
    , input, abortSignal)
    if (!output.taskDefinition) throw new UserError({ input, message: `task definition '${reference}' does not exist` })
    return { taskDefinition: output.taskDefinition, tags: output.tags ?? [] }
  }

  /**
   * Registers once, even when a try fails ambiguously (a 5xx, a reset, a timeout after sending: it
   * may have been registered). Each registration carries a tag of its own; before trying again after
   * such a failure, the newest revisions of the family are searched for it.
   */
  async registerTaskDefinition(definition: RegisterTaskDefinitionCommandInput, signal?: AbortSignal): Promise<TaskDefinition> {
    const abortSignal = this.signalFor(signal)
    const registration = randomUUID()
    const tagged = { ...definition, tags: [...(definition.tags ?? []).filter(tag => tag.key !== REGISTRATION_TAG), { key: REGISTRATION_TAG, value: registration }] }
    let mayHaveRegistered = false
    const output = await this.call(`register task definition '${definition.family}'`, async () => {
      if (mayHaveRegistered) {
        const earlier = await this.findRegistration(definition.family!, registration, abortSignal).catch(error => {
          // Not knowing whether it registered, registering again could make a second revision: stop here.
          throw new Error(`the last try may have registered a revision, and looking for it failed: ${errorMessage(error)}`, { cause: error })
        })
        if (earlier) return { taskDefinition: earlier }
      }
      try {
        return await this.client.send(new RegisterTaskDefinitionCommand(tagged), { abortSignal })
      } catch (error) {
        mayHaveRegistered ||= !wasNotExecuted(error)
        throw error
      }
    }, undefined, abortSignal)
    if (!output.taskDefinition?.taskDefinitionArn) throw new Error('RegisterTaskDefinition returned no task definition')
    return output.taskDefinition
  }

  /** The revision among the newest of `family` that carries registration tag `id`, if any. */
  private async findRegistration(family: string, id: string, abortSignal?: AbortSignal): Promise<TaskDefinition | undefined> {
    // A few newest are enough: the lost answer is seconds old; others may have registered since.
    for (const arn of (await this.listRevisions(family, 'ACTIVE', abortSignal)).slice(0, 5)) {
      const { taskDefinition, tags } = await this.describeTaskDefinition(arn, 'template', abortSignal)
      if (tags.some(tag => tag.key === REGISTRATION_TAG && tag.value === id)) return taskDefinition
    }
    return undefined
  }

  /**
   * Starts a deploy of our change. Retried like any call: repeating the same update leaves the service
   * as one update would (with force-new-deployment, at worst one more deployment of the same revision,
   * which is followed). Putting a previous revision back is `rollBackService`, which needs the proof.
   */
  async updateService(service: string, change: { taskDefinition: string; desiredCount?: number; forceNewDeployment?: boolean }, signal?: AbortSignal): Promise<Service> {
    const abortSignal = this.signalFor(signal)
    const output = await this.call(`update service '${service}'`, () =>
      this.client.send(new UpdateServiceCommand({ cluster: this.cluster, service, ...change }), { abortSignal })
    , undefined, abortSignal)
    if (!output.service) throw new Error('UpdateService returned no service')
    return output.service
  }

  /**
   * The rollback UpdateService: only with the proof, read right before, that the service still rolls out
   * our deployment (ECS has no conditional update: that read is the strongest precondition it offers).
   */
  async rollBackService(owned: Owned<ServiceRead>, taskDefinition: string, signal?: AbortSignal, desiredCount?: number): Promise<Service> {
    return this.updateService(owned.precondition.service, { taskDefinition, desiredCount }, signal)
  }

  /**
   * A call of a room of its own (ECS Express, service deployments, one-off tasks): the retry, cancellation
   * and explained errors of the calls here. `input` is the one a ClientException names; `outlivesCancel`,
   * for a call made because the run is ending (StopTask), leaves the call to `signal` alone.
   */
  async send<T>(what: string, send: (abortSignal?: AbortSignal) => Promise<T>, signal?: AbortSignal, options: { input?: string; outlivesCancel?: boolean } = {}): Promise<T> {
    const abortSignal = options.outlivesCancel ? signal : this.signalFor(signal)
    return this.call(what, () => send(abortSignal), options.input, abortSignal)
  }

  /** Adds tags to a task definition (TagResource); tags of the same keys are replaced. */
  async tagTaskDefinition(arn: string, tags: Tag[], signal?: AbortSignal): Promise<void> {
    const abortSignal = this.signalFor(signal)
    await this.call(`tag task definition '${arn}'`, () => this.client.send(new TagResourceCommand({ resourceArn: arn, tags }), { abortSignal }), undefined, abortSignal)
  }

  /** Task-definition ARNs of a family, newest first. */
  async listRevisions(family: string, status: 'ACTIVE' | 'INACTIVE' = 'ACTIVE', signal?: AbortSignal): Promise<string[]> {
    const abortSignal = this.signalFor(signal)
    const listed = await this.pages(`list revisions of '${family}'`, nextToken =>
      this.client.send(new ListTaskDefinitionsCommand({ familyPrefix: family, status, sort: 'DESC', nextToken }), { abortSignal }), o => o.taskDefinitionArns, abortSignal)
    // Newest first, whatever order the server listed them in.
    return listed.filter(arn => arn.split('/').pop()?.replace(/:\d+$/, '') === family).sort((a, b) => revisionNumber(b) - revisionNumber(a))
  }

  /** Every service of every cluster these credentials can see (keep-revisions reads what each runs and would roll back to). */
  async allServices(signal?: AbortSignal): Promise<Service[]> {
    const abortSignal = this.signalFor(signal)
    const all: Service[] = []
    const clusters = await this.pages('list clusters', token => this.client.send(new ListClustersCommand({ nextToken: token }), { abortSignal }), o => o.clusterArns, abortSignal)
    for (const cluster of clusters) {
      const services = await this.pages(`list services of '${cluster}'`, token => this.client.send(new ListServicesCommand({ cluster, nextToken: token }), { abortSignal }), o => o.serviceArns, abortSignal)
      for (let i = 0; i < services.length; i += 10) {
        const output = await this.call('describe services', () => this.client.send(new DescribeServicesCommand({ cluster, services: services.slice(i, i + 10) }), { abortSignal }), undefined, abortSignal)
        all.push(...(output.services ?? []))
      }
    }
    return all
  }

  private async pages<O extends { nextToken?: string }>(what: string, send: (token?: string) => Promise<O>, items: (output: O) => string[] | undefined, abortSignal?: AbortSignal): Promise<string[]> {
    const all: string[] = []
    let token: string | undefined
    do {
      const output = await this.call(what, () => send(token), undefined, abortSignal)
      all.push(...(items(output) ?? []))
      token = output.nextToken
    } while (token)
    return all
  }

  /**
   * Deregisters the task definition that `owned` proved deregistrable at this moment (ifOurs in
   * revisions.ts): the target is the proof's own, so no other revision can be deregistered with it.
   */
  async deregisterTaskDefinition(owned: Owned<{ taskDefinitionArn: string }>, signal?: AbortSignal): Promise<void> {
    const abortSignal = this.signalFor(signal)
    const arn = owned.precondition.taskDefinitionArn
    await this.call(`deregister '${arn}'`, () => this.client.send(new DeregisterTaskDefinitionCommand({ taskDefinition: arn }), { abortSignal }), undefined, abortSignal)
  }

  async describeTasks(arns: string[], signal?: AbortSignal): Promise<Task[]> {
    const abortSignal = this.signalFor(signal)
    const tasks: Task[] = []
    for (let i = 0; i < arns.length; i += 100) {
      const output = await this.call('describe tasks', () =>
        this.client.send(new DescribeTasksCommand({ cluster: this.cluster, tasks: arns.slice(i, i + 100) }), { abortSignal })
      , undefined, abortSignal)
      tasks.push(...(output.tasks ?? []))
    }
    return tasks
  }

  protected async call<T>(what: string, send: () => Promise<T>, input?: string, abortSignal?: AbortSignal, policy: Omit<RetryOptions, 'signal'> = ECS_RETRY): Promise<T> {
    const startedAt = Date.now()
    let tries = 0
    try {
      return await retry(() => {
        tries++
        return send()
      }, { ...policy, signal: abortSignal })
    } catch (error) {
      if (abortSignal?.aborted) {
        // Cancelled or past the deadline: say so, not "socket hang up" or "aborted".
        throw Object.assign(new Error(`could not ${what}: ${errorMessage(abortSignal.reason)}`, { cause: abortSignal.reason }), { name: 'AbortError' })
      }
      throw explain(error, what, this.cluster, input, { endpoint: this.endpoint, tries, ms: Date.now() - startedAt })
    }
  }

  /**
   * One service deployment; undefined when ECS does not know it (yet). Throws ServiceDeploymentsUnavailable
   * when the call is denied or not there. Here, not in ./service-deployment/client.ts: a group's members
   * share it batched (BatchedEcsApi overrides it), and the ownership proofs read through it.
   */
  async describeServiceDeployment(arn: string, signal?: AbortSignal): Promise<ServiceDeployment | undefined> {
    const abortSignal = this.signalFor(signal)
    const output = await this.call(`describe service deployment '${arn}'`, () =>
      unavailableAs('ecs:DescribeServiceDeployments', this.client.send(new DescribeServiceDeploymentsCommand({ serviceDeploymentArns: [arn] }), { abortSignal }))
    , undefined, abortSignal)
    return output.serviceDeployments?.find(d => d.serviceDeploymentArn === arn)
  }

  /**
   * Every stopped task one service deployment started, all pages: ECS sets a service task's
   * `startedBy` to the id of the deployment that started it. startedBy must be ListTasks' only
   * filter (besides cluster and desiredStatus). ECS lists stopped tasks for at least an hour.
   */
  async listStoppedTasksOfDeployment(deploymentId: string, signal?: AbortSignal): Promise<string[]> {
    const abortSignal = this.signalFor(signal)
    return this.pages(`list stopped tasks of deployment '${deploymentId}'`, nextToken =>
      this.client.send(new ListTasksCommand({ cluster: this.cluster, startedBy: deploymentId, desiredStatus: 'STOPPED', nextToken }), { abortSignal }), o => o.taskArns, abortSignal)
  }

  /**
   * How the CloudWatch Logs client that reads a one-off task's log is made, beside the credentials
   * it shares with this client: the standard chain (AWS_ENDPOINT_URL_CLOUDWATCH_LOGS ...) by default.
   */
  logsClientConfig: Partial<CloudWatchLogsClientConfig> = {}
}

/** How the failed call went: where it was sent, how many tries, for how long. */
interface CallTrace {
  endpoint: string
  tries: number
  ms: number
}

/** Turns an SDK error into one the user can act on; transient errors keep their name for retry logic. */
function explain(error: unknown, what: string, cluster: string, input: string | undefined, trace: CallTrace): Error {
  if (error instanceof ServiceDeploymentsUnavailable) return error
  let name = (error as { name?: string })?.name ?? ''
  let message = errorMessage(error)
  const response = (error as { $response?: { body?: unknown; headers?: Record<string, string> } })?.$response
  // An answer that is not ECS JSON (an XML error from a proxy or an emulator): read its code.
  const body = response?.body
  if (typeof body === 'string' && /<Code>/.test(body)) {
    name = /<Code>([^<]+)<\/Code>/.exec(body)?.[1] ?? name
    message = /<Message>([^<]+)<\/Message>/.exec(body)?.[1] ?? message
  }
  const fix = (text: string, at?: string): UserError => new UserError({ input: at, message: `could not ${what}: ${text}` })
  switch (name) {
    case 'ClusterNotFoundException':
      return fix(`cluster '${cluster}' does not exist: check the 'cluster' input and the region`, 'cluster')
    case 'ServiceNotFoundException':
      return fix(`the service does not exist in cluster '${cluster}'`, 'service')
    case 'ServiceNotActiveException':
      return fix('the service is not ACTIVE (it is being deleted or was deleted): deploy to an active service', 'service')
    case 'AccessDeniedException':
    case 'AccessDenied':
    case 'UnauthorizedOperation':
      return fix(`access denied (${message}): give the role the ECS permission the message names`)
    case 'UnrecognizedClientException':
    case 'InvalidClientTokenId':
    case 'InvalidSignatureException':
    case 'ExpiredTokenException':
    case 'SignatureDoesNotMatch':
      return fix(`AWS rejected the credentials (${message}): check aws-actions/configure-aws-credentials`)
    case 'CredentialsProviderError':
      return fix('no AWS credentials found: run aws-actions/configure-aws-credentials before this step')
    case 'ClientException':
    case 'InvalidParameterException':
      return fix(message, input)
  }
  const status = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode
  const where = trace.endpoint ? `the ECS endpoint ${trace.endpoint}` : 'the ECS endpoint'
  const tried = `${trace.tries} ${trace.tries === 1 ? 'try' : 'tries'} in ${Math.round(trace.ms / 1000)}s`
  // The JSON parser's message quotes the answer's first characters; the content type alone is not
  // enough (moto sends its XML errors as text/html).
  const start = typeof body === 'string' ? body.slice(0, 40) : /Unexpected token .*?, "([^"]*)"/.exec(message)?.[1] ?? ''
  if (/^\s*<(!doctype|html|head|body|title|h1|center|meta)\b/i.test(start)) {
    // A captive portal, a corporate proxy's error page, a load balancer's 502: not something ECS says.
    return keepRetryFields(new Error(`could not ${what}: ${where} answered HTML (HTTP ${status ?? '?'}), not ECS JSON: a proxy or wrong endpoint? Check AWS_ENDPOINT_URL_ECS / AWS_ENDPOINT_URL and HTTPS_PROXY (${tried})`, { cause: error }), error, name)
  }
  if ((status === 401 || status === 403) && /Deserialization error|not valid JSON/.test(message)) {
    // Some endpoints answer an auth failure in XML that the JSON protocol cannot read: the status says enough.
    return fix(`AWS refused the request (HTTP ${status}): the credentials are invalid or not allowed to call ECS; check aws-actions/configure-aws-credentials and the role's ECS permissions`)
  }
  if (/Deserialization error|is not valid JSON/.test(message)) {
    // Neither JSON nor HTML: plain text from a gateway, a truncated answer. Quoted short and on one line.
    const quoted = start.replace(/[^\x20-\x7e]+/g, ' ').slice(0, 20)
    return keepRetryFields(new Error(`could not ${what}: ${where} answered HTTP ${status ?? '?'} with something that is not ECS JSON${quoted ? ` (it starts '${quoted}')` : ''}: a proxy or wrong endpoint? Check AWS_ENDPOINT_URL_ECS / AWS_ENDPOINT_URL and HTTPS_PROXY (${tried})`, { cause: error }), error, name)
  }
  if (/Region is missing/i.test(message)) return fix('no AWS region: set AWS_REGION (aws-actions/configure-aws-credentials does)')
  const code = errnoOf(error)
  const network =
    code === 'ECONNREFUSED' ? `${where} refused the connection (nothing listens there)`
    : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? `${where} could not be resolved (DNS)`
    : name === 'TimeoutError' && /did not establish a connection/.test(message) ? `could not connect to ${where} within ${CONNECT_TIMEOUT_MS / 1000}s`
    : name === 'TimeoutError' ? `${where} did not answer within ${REQUEST_TIMEOUT_MS / 1000}s`
    : code === 'ECONNRESET' || code === 'EPIPE' ? `${where} dropped the connection`
    : undefined
  if (network) {
    return keepRetryFields(new Error(`could not ${what}: ${network} (${tried}): check the network path to ECS, the region, and AWS_ENDPOINT_URL_ECS or a proxy if one is set`, { cause: error }), error, name)
  }
  const wrapped = new Error(`could not ${what}: ${message}${isThrottling(error) || (status ?? 0) >= 500 ? ` (${tried})` : ''}`, { cause: error })
  return keepRetryFields(wrapped, error, name)
}

/** Keeps what the retry predicates look at (name, HTTP status, errno) on a rewrapped error. */
function keepRetryFields(wrapped: Error, error: unknown, name: string): Error {
  return Object.assign(wrapped, { name: name || wrapped.name, $metadata: (error as { $metadata?: unknown })?.$metadata, code: errnoOf(error) || (error as { code?: unknown })?.code })
}
