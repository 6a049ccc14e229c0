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
  type RegisterTaskDefinitionCommandInput,
  type Service,
  type Tag,
  type Task,
  type TaskDefinition
} from '@aws-sdk/client-ecs'
import { UserError, errorMessage } from '../../errors.js'
import { retry, type RetryOptions } from '../../rollout/retry.js'

// The SDK retries each call a little (adaptive: it also paces sends); this loop on top keeps a
// throttling storm from failing the deploy. Safe for writes too: a throttled request was not run,
// and a repeated register or update only repeats the same change.
const RETRY: RetryOptions = { attempts: 10, baseMs: 500, maxMs: 5000 }

/**
 * The ECS calls a deploy makes, each rethrown with what we were doing. Mistakes the user can fix
 * (unknown cluster or service, no region, no or denied credentials) become UserErrors that name the
 * input and the fix. Throttling is retried by the SDK's adaptive retry, and the wait loop on top.
 */
export class EcsApi {
  readonly client: ECSClient
  readonly cluster: string

  constructor(cluster: string, client = new ECSClient({ retryMode: 'adaptive', maxAttempts: 3 })) {
    this.cluster = cluster
    this.client = client
  }

  /** The service, which must exist and be ACTIVE. */
  async describeService(service: string, abortSignal?: AbortSignal): Promise<Service> {
    const output = await this.call(`describe service '${service}'`, () =>
      this.client.send(new DescribeServicesCommand({ cluster: this.cluster, services: [service] }), { abortSignal })
    )
    const found = output.services?.find(s => s.serviceName === service)
    if (!found) {
      const reason = output.failures?.[0]?.reason ?? 'MISSING'
      throw new UserError({ input: 'service', message: `ECS service '${service}' was not found in cluster '${this.cluster}' (${reason}): check 'service' and 'cluster'` })
    }
    return found
  }

  async describeTaskDefinition(reference: string, input = 'template'): Promise<{ taskDefinition: TaskDefinition; tags: Tag[] }> {
    const output = await this.call(`describe task definition '${reference}'`, () =>
      this.client.send(new DescribeTaskDefinitionCommand({ taskDefinition: reference, include: ['TAGS'] }))
    , input)
    if (!output.taskDefinition) throw new UserError({ input, message: `task definition '${reference}' does not exist` })
    return { taskDefinition: output.taskDefinition, tags: output.tags ?? [] }
  }

  async registerTaskDefinition(definition: RegisterTaskDefinitionCommandInput): Promise<TaskDefinition> {
    const output = await this.call(`register task definition '${definition.family}'`, () =>
      this.client.send(new RegisterTaskDefinitionCommand(definition))
    )
    if (!output.taskDefinition?.taskDefinitionArn) throw new Error('RegisterTaskDefinition returned no task definition')
    return output.taskDefinition
  }

  async updateService(service: string, change: { taskDefinition: string; desiredCount?: number; forceNewDeployment?: boolean }): Promise<Service> {
    const output = await this.call(`update service '${service}'`, () =>
      this.client.send(new UpdateServiceCommand({ cluster: this.cluster, service, ...change }))
    )
    if (!output.service) throw new Error('UpdateService returned no service')
    return output.service
  }

  /** Task-definition ARNs of a family, newest first. */
  async listRevisions(family: string, status: 'ACTIVE' | 'INACTIVE' = 'ACTIVE'): Promise<string[]> {
    const arns: string[] = []
    let nextToken: string | undefined
    do {
      const output = await this.call(`list revisions of '${family}'`, () =>
        this.client.send(new ListTaskDefinitionsCommand({ familyPrefix: family, status, sort: 'DESC', nextToken }))
      )
      arns.push(...(output.taskDefinitionArns ?? []).filter(arn => arn.split('/').pop()?.replace(/:\d+$/, '') === family))
      nextToken = output.nextToken
    } while (nextToken)
    // Newest first, whatever order the server listed them in.
    return arns.sort((a, b) => revisionOf(b) - revisionOf(a))
  }

  /** Task definitions that any service of any cluster runs or is deploying: never to be deregistered. */
  async taskDefinitionsInUse(): Promise<Set<string>> {
    const inUse = new Set<string>()
    const clusters = await this.pages('list clusters', token => this.client.send(new ListClustersCommand({ nextToken: token })), o => o.clusterArns)
    for (const cluster of clusters) {
      const services = await this.pages(`list services of '${cluster}'`, token => this.client.send(new ListServicesCommand({ cluster, nextToken: token })), o => o.serviceArns)
      for (let i = 0; i < services.length; i += 10) {
        const output = await this.call('describe services', () => this.client.send(new DescribeServicesCommand({ cluster, services: services.slice(i, i + 10) })))
        for (const service of output.services ?? []) {
          if (service.taskDefinition) inUse.add(service.taskDefinition)
          for (const deployment of service.deployments ?? []) if (deployment.taskDefinition) inUse.add(deployment.taskDefinition)
        }
      }
    }
    return inUse
  }

  private async pages<O extends { nextToken?: string }>(what: string, send: (token?: string) => Promise<O>, items: (output: O) => string[] | undefined): Promise<string[]> {
    const all: string[] = []
    let token: string | undefined
    do {
      const output = await this.call(what, () => send(token))
      all.push(...(items(output) ?? []))
      token = output.nextToken
    } while (token)
    return all
  }

  async deregisterTaskDefinition(arn: string): Promise<void> {
    await this.call(`deregister '${arn}'`, () => this.client.send(new DeregisterTaskDefinitionCommand({ taskDefinition: arn })))
  }

  /** Recently stopped tasks of the service (ECS keeps them for about an hour). */
  async listStoppedTasks(service: string, abortSignal?: AbortSignal): Promise<string[]> {
    const output = await this.call(`list stopped tasks of '${service}'`, () =>
      this.client.send(new ListTasksCommand({ cluster: this.cluster, serviceName: service, desiredStatus: 'STOPPED' }), { abortSignal })
    )
    return output.taskArns ?? []
  }

  async describeTasks(arns: string[], abortSignal?: AbortSignal): Promise<Task[]> {
    const tasks: Task[] = []
    for (let i = 0; i < arns.length; i += 100) {
      const output = await this.call('describe tasks', () =>
        this.client.send(new DescribeTasksCommand({ cluster: this.cluster, tasks: arns.slice(i, i + 100) }), { abortSignal })
      )
      tasks.push(...(output.tasks ?? []))
    }
    return tasks
  }

  private async call<T>(what: string, send: () => Promise<T>, input?: string): Promise<T> {
    try {
      return await retry(send, RETRY)
    } catch (error) {
      throw explain(error, what, this.cluster, input)
    }
  }

  /**
   * Every stopped task one service deployment started, all pages: ECS sets a service task's
   * `startedBy` to the id of the deployment that started it. startedBy must be ListTasks' only
   * filter (besides cluster and desiredStatus). ECS lists stopped tasks for at least an hour.
   */
  async listStoppedTasksOfDeployment(deploymentId: string, abortSignal?: AbortSignal): Promise<string[]> {
    const arns: string[] = []
    let nextToken: string | undefined
    do {
      const output = await this.call(`list stopped tasks of deployment '${deploymentId}'`, () =>
        this.client.send(new ListTasksCommand({ cluster: this.cluster, startedBy: deploymentId, desiredStatus: 'STOPPED', nextToken }), { abortSignal })
      )
      arns.push(...(output.taskArns ?? []))
      nextToken = output.nextToken
    } while (nextToken)
    return arns
  }
}

/** Turns an SDK error into one the user can act on; transient errors keep their name for retry logic. */
function explain(error: unknown, what: string, cluster: string, input?: string): Error {
  let name = (error as { name?: string })?.name ?? ''
  let message = errorMessage(error)
  // An answer that is not ECS JSON (an XML error from a proxy or an emulator): read its code.
  const body = (error as { $response?: { body?: unknown } })?.$response?.body
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
  if ((status === 401 || status === 403) && /Deserialization error|not valid JSON/.test(message)) {
    // Some endpoints answer an auth failure in XML that the JSON protocol cannot read: the status says enough.
    return fix(`AWS refused the request (HTTP ${status}): the credentials are invalid or not allowed to call ECS; check aws-actions/configure-aws-credentials and the role's ECS permissions`)
  }
  if (/Region is missing/i.test(message)) return fix('no AWS region: set AWS_REGION (aws-actions/configure-aws-credentials does)')
  const wrapped = new Error(`could not ${what}: ${message}`, { cause: error })
  // Keep what the retry predicate looks at.
  Object.assign(wrapped, { name, $metadata: (error as { $metadata?: unknown })?.$metadata, code: (error as { code?: unknown })?.code })
  return wrapped
}

function revisionOf(arn: string): number {
  return Number(/:(\d+)$/.exec(arn)?.[1] ?? 0)
}
