import {
  BatchGetApplicationsCommand,
  BatchGetDeploymentGroupsCommand,
  BatchGetDeploymentTargetsCommand,
  CodeDeployClient,
  ContinueDeploymentCommand,
  CreateDeploymentCommand,
  GetDeploymentCommand,
  ListApplicationsCommand,
  ListDeploymentGroupsCommand,
  ListDeploymentTargetsCommand,
  ListDeploymentsCommand,
  StopDeploymentCommand,
  type CodeDeployClientConfig,
  type DeploymentGroupInfo,
  type DeploymentInfo,
  type ECSTarget
} from '@aws-sdk/client-codedeploy'
import { UserError, errorMessage } from '../../../errors.js'
import { errnoOf, isThrottling, retry, wasNotExecuted } from '../../../rollout/retry.js'
import { AWS_CLIENT_BOUNDS, CONNECT_TIMEOUT_MS, ECS_RETRY, REQUEST_TIMEOUT_MS } from '../client.js'
import { shortArn } from '../assess.js'
import type { Owned } from '../../../rollout/ownership.js'

/** What a destructive CodeDeploy call carries: our deployment, as read right before the call. */
export interface CodeDeployRead {
  deploymentId: string
  status: string
}

/**
 * A CodeDeploy client bounded like the ECS one (connect, request; no SDK retry of its own: every call
 * goes through the ECS retry policy). Region, credentials and endpoint (AWS_ENDPOINT_URL_CODEDEPLOY)
 * come from the standard AWS chain unless given.
 */
export function createCodeDeployClient(config: CodeDeployClientConfig = {}): CodeDeployClient {
  return new CodeDeployClient({
    ...AWS_CLIENT_BOUNDS,
    ...config
  })
}

/** The CodeDeploy application and deployment group that deploy one ECS service. */
export interface DeploymentGroupRef {
  application: string
  group: DeploymentGroupInfo
}

/**
 * The CodeDeploy calls a deploy makes, each through the one retry policy (ECS_RETRY) and rethrown
 * with what we were doing; mistakes the user can fix become UserErrors that say what to change.
 */
export class CodeDeployApi {
  readonly client: CodeDeployClient
  private readonly cancel?: AbortSignal
  private readonly targetIds = new Map<string, string[]>()

  constructor(client: CodeDeployClient = createCodeDeployClient(), cancel?: AbortSignal) {
    this.client = client
    this.cancel = cancel
  }

  /**
   * The deployment group whose ecsServices name this cluster and service, searched across every
   * application (CodeDeploy has no lookup by service). None, or more than one, is a UserError.
   */
  async findDeploymentGroup(cluster: string, service: string, signal?: AbortSignal): Promise<DeploymentGroupRef> {
    const abortSignal = this.signalFor(signal)
    const applications = await this.pages('list CodeDeploy applications', token => this.client.send(new ListApplicationsCommand({ nextToken: token }), { abortSignal }), o => o.applications, abortSignal)
    const found: DeploymentGroupRef[] = []
    const ecsApplications = await this.ecsApplications(applications, abortSignal)
    for (const application of ecsApplications) {
      const names = await this.pages(`list deployment groups of CodeDeploy application '${application}'`,
        token => this.client.send(new ListDeploymentGroupsCommand({ applicationName: application, nextToken: token }), { abortSignal }), o => o.deploymentGroups, abortSignal)
      // BatchGetDeploymentGroups takes at most 100 names.
      for (let i = 0; i < names.length; i += 100) {
        const output = await this.call(`describe deployment groups of CodeDeploy application '${application}'`, () =>
          this.client.send(new BatchGetDeploymentGroupsCommand({ applicationName: application, deploymentGroupNames: names.slice(i, i + 100) }), { abortSignal }), abortSignal)
        for (const group of output.deploymentGroupsInfo ?? []) {
          const targets = group.ecsServices ?? []
          if (targets.some(t => t.serviceName === service && shortArn(t.clusterName ?? '') === shortArn(cluster))) found.push({ application, group })
        }
      }
    }
    const where = `ECS service '${service}' of cluster '${shortArn(cluster)}'`
    if (found.length === 0) {
      throw new UserError({
        input: 'service',
        message: `${where} uses the CODE_DEPLOY deployment controller, but no CodeDeploy deployment group deploys it (searched the ${ecsApplications.length} ECS application${ecsApplications.length === 1 ? '' : 's'} of ${applications.length} in this region): create an ECS deployment group for it (ecsServices: cluster '${shortArn(cluster)}', service '${service}'), or check the region; nothing was registered`
      })
    }
    if (found.length > 1) {
      throw new UserError({
        input: 'service',
        message: `${where} is deployed by ${found.length} CodeDeploy deployment groups (${found.map(f => `${f.application}/${f.group.deploymentGroupName}`).join(', ')}), so which one to use is not clear: keep one deployment group per service; nothing was registered`
      })
    }
    return found[0]
  }

  /** Only applications of the ECS compute platform can deploy a service (BatchGetApplications: 100 names a call). */
  private async ecsApplications(names: string[], abortSignal?: AbortSignal): Promise<string[]> {
    const ecs: string[] = []
    for (let i = 0; i < names.length; i += 100) {
      const output = await this.call('describe CodeDeploy applications', () =>
        this.client.send(new BatchGetApplicationsCommand({ applicationNames: names.slice(i, i + 100) }), { abortSignal }), abortSignal)
      ecs.push(...(output.applicationsInfo ?? []).filter(a => a.computePlatform === 'ECS').map(a => a.applicationName!))
    }
    return ecs
  }

  /**
   * The rollback's CreateDeployment (of the revision that ran before ours), only with the proof, read
   * right before, that no deployment but ours has been made in the group since ours.
   */
  async redeploy(owned: Owned<CodeDeployRead>, input: { application: string; group: string; appSpec: string; description: string }, signal?: AbortSignal): Promise<string> {
    // The description names the deployment it undoes (CodeDeploy keeps at most 100 characters).
    const undoes = ` (undoes ${owned.precondition.deploymentId})`
    return this.createDeployment({ ...input, description: `${input.description.slice(0, 100 - undoes.length)}${undoes}` }, signal)
  }

  /** Ids of the group's deployments created at or after `since` (ListDeployments createTimeRange), any status. */
  async deploymentsSince(application: string, group: string, since: Date, signal?: AbortSignal): Promise<string[]> {
    const abortSignal = this.signalFor(signal)
    return this.pages(`list deployments of ${application}/${group}`, token => this.client.send(new ListDeploymentsCommand({
      applicationName: application, deploymentGroupName: group, createTimeRange: { start: since }, nextToken: token
    }), { abortSignal }), o => o.deployments, abortSignal)
  }

  /**
   * Creates one deployment of our change, even when a try fails ambiguously (a 5xx, a reset, a timeout after
   * sending: it may have been created). CodeDeploy allows one active deployment per group, so the next
   * try is refused (DeploymentLimitExceeded); the active deployment whose AppSpec is ours (it names the
   * task definition this run registered) is then the one the lost answer named.
   */
  async createDeployment(input: { application: string; group: string; appSpec: string; description: string }, signal?: AbortSignal): Promise<string> {
    const abortSignal = this.signalFor(signal)
    let mayHaveCreated = false
    const output = await this.call(`create a CodeDeploy deployment in ${input.application}/${input.group}`, async () => {
      try {
        return await this.client.send(new CreateDeploymentCommand({
          applicationName: input.application,
          deploymentGroupName: input.group,
          description: input.description,
          revision: { revisionType: 'AppSpecContent', appSpecContent: { content: input.appSpec } }
        }), { abortSignal })
      } catch (error) {
        if (mayHaveCreated && (error as { name?: string }).name === 'DeploymentLimitExceededException') {
          const ours = await this.activeDeploymentWith(input, abortSignal)
          if (ours) return { deploymentId: ours }
        }
        mayHaveCreated ||= !wasNotExecuted(error)
        throw error
      }
    }, abortSignal)
    if (!output.deploymentId) throw new Error('CreateDeployment returned no deployment id')
    return output.deploymentId
  }

  /** The group's active deployment whose AppSpec is exactly `appSpec`, if any. */
  private async activeDeploymentWith(input: { application: string; group: string; appSpec: string }, abortSignal?: AbortSignal): Promise<string | undefined> {
    const active = await this.pages(`list active deployments of ${input.application}/${input.group}`, token => this.client.send(new ListDeploymentsCommand({
      applicationName: input.application, deploymentGroupName: input.group, includeOnlyStatuses: ['Created', 'Queued', 'InProgress', 'Ready', 'Baking'], nextToken: token
    }), { abortSignal }), o => o.deployments, abortSignal)
    for (const id of active) {
      const info = await this.getDeployment(id, abortSignal)
      if (info.revision?.appSpecContent?.content === input.appSpec) return id
    }
    return undefined
  }

  async getDeployment(deploymentId: string, signal?: AbortSignal): Promise<DeploymentInfo> {
    const abortSignal = this.signalFor(signal)
    const output = await this.call(`get CodeDeploy deployment '${deploymentId}'`, () => this.client.send(new GetDeploymentCommand({ deploymentId }), { abortSignal }), abortSignal)
    if (!output.deploymentInfo) throw new Error(`GetDeployment returned nothing for '${deploymentId}'`)
    return output.deploymentInfo
  }

  /**
   * The ECS target of a deployment (one per ECS deployment: `cluster:service`) with its lifecycle
   * events and task sets; undefined before CodeDeploy has started it (DeploymentNotStartedException).
   */
  async ecsTarget(deploymentId: string, signal?: AbortSignal): Promise<ECSTarget | undefined> {
    const abortSignal = this.signalFor(signal)
    try {
      // A deployment's targets never change once it started: listed once, then only read.
      const ids = this.targetIds.get(deploymentId) ?? await this.pages(`list targets of CodeDeploy deployment '${deploymentId}'`,
        token => this.client.send(new ListDeploymentTargetsCommand({ deploymentId, nextToken: token }), { abortSignal }), o => o.targetIds, abortSignal)
      if (ids.length === 0) return undefined
      this.targetIds.set(deploymentId, ids)
      const output = await this.call(`get targets of CodeDeploy deployment '${deploymentId}'`, () =>
        this.client.send(new BatchGetDeploymentTargetsCommand({ deploymentId, targetIds: ids.slice(0, 25) }), { abortSignal }), abortSignal)
      return output.deploymentTargets?.find(t => t.ecsTarget)?.ecsTarget
    } catch (error) {
      if ((error as { name?: string }).name === 'DeploymentNotStartedException') return undefined
      throw error
    }
  }

  /**
   * CodeDeploy's own rollback: stop the deployment and put the original task set back; only with the
   * proof that it is ours (its CreateDeployment answer) and still in flight, read right before.
   */
  async stopAndRollBack(owned: Owned<CodeDeployRead>, signal?: AbortSignal): Promise<{ status?: string; message?: string; alreadyCompleted?: boolean }> {
    const abortSignal = this.signalFor(signal)
    const { deploymentId } = owned.precondition
    try {
      const output = await this.call(`stop CodeDeploy deployment '${deploymentId}'`, () =>
        this.client.send(new StopDeploymentCommand({ deploymentId, autoRollbackEnabled: true }), { abortSignal }), abortSignal)
      return { status: output.status, message: output.statusMessage }
    } catch (error) {
      if ((error as { name?: string }).name === 'DeploymentAlreadyCompletedException') return { alreadyCompleted: true, message: errorMessage(error) }
      throw error
    }
  }

  /** Reroutes traffic of a deployment that waits in Ready (deploymentReadyOption STOP_DEPLOYMENT). */
  async continueDeployment(deploymentId: string, signal?: AbortSignal): Promise<void> {
    const abortSignal = this.signalFor(signal)
    await this.call(`continue CodeDeploy deployment '${deploymentId}'`, () =>
      this.client.send(new ContinueDeploymentCommand({ deploymentId, deploymentWaitType: 'READY_WAIT' }), { abortSignal }), abortSignal)
  }

  private signalFor(given?: AbortSignal): AbortSignal | undefined {
    if (!this.cancel) return given
    return given ? AbortSignal.any([given, this.cancel]) : this.cancel
  }

  private async pages<O extends { nextToken?: string }>(what: string, send: (token?: string) => Promise<O>, items: (output: O) => string[] | undefined, abortSignal?: AbortSignal): Promise<string[]> {
    const all: string[] = []
    let token: string | undefined
    do {
      const output = await this.call(what, () => send(token), abortSignal)
      all.push(...(items(output) ?? []))
      token = output.nextToken || undefined
    } while (token)
    return all
  }

  private async call<T>(what: string, send: () => Promise<T>, abortSignal?: AbortSignal): Promise<T> {
    const startedAt = Date.now()
    let tries = 0
    try {
      return await retry(() => {
        tries++
        return send()
      }, { ...ECS_RETRY, signal: abortSignal })
    } catch (error) {
      if (abortSignal?.aborted) {
        throw Object.assign(new Error(`could not ${what}: ${errorMessage(abortSignal.reason)}`, { cause: abortSignal.reason }), { name: 'AbortError' })
      }
      throw explain(error, what, `${tries} ${tries === 1 ? 'try' : 'tries'} in ${Math.round((Date.now() - startedAt) / 1000)}s`)
    }
  }
}

/** An SDK error the user can act on; other errors keep what the retry predicates and callers read. */
function explain(error: unknown, what: string, tried: string): Error {
  const name = (error as { name?: string })?.name ?? ''
  const message = errorMessage(error)
  const fix = (text: string, input?: string): UserError => new UserError({ input, message: `could not ${what}: ${text}` })
  switch (name) {
    case 'AccessDeniedException':
    case 'AccessDenied':
      return fix(`access denied (${message}): give the role the CodeDeploy permission the message names (README: CodeDeploy-controlled services)`)
    case 'UnrecognizedClientException':
    case 'InvalidSignatureException':
    case 'ExpiredTokenException':
      return fix(`AWS rejected the credentials (${message}): check aws-actions/configure-aws-credentials`)
    case 'CredentialsProviderError':
      return fix('no AWS credentials found: run aws-actions/configure-aws-credentials before this step')
    case 'DeploymentLimitExceededException':
      return fix(`${message}: the deployment group already has a deployment in progress; wait for it to finish or stop it, then deploy again`, 'service')
    case 'InvalidRevisionException':
    case 'InvalidTrafficRoutingConfigurationException':
    case 'InvalidLoadBalancerInfoException':
    case 'InvalidRoleException':
    case 'DeploymentGroupDoesNotExistException':
    case 'ApplicationDoesNotExistException':
      return fix(message, 'service')
  }
  if (/Region is missing/i.test(message)) return fix('no AWS region: set AWS_REGION (aws-actions/configure-aws-credentials does)')
  const status = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode
  const code = errnoOf(error)
  const network =
    code === 'ECONNREFUSED' ? 'the CodeDeploy endpoint refused the connection (nothing listens there)'
    : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'the CodeDeploy endpoint could not be resolved (DNS)'
    : name === 'TimeoutError' && /did not establish a connection/.test(message) ? `could not connect to the CodeDeploy endpoint within ${CONNECT_TIMEOUT_MS / 1000}s`
    : name === 'TimeoutError' ? `the CodeDeploy endpoint did not answer within ${REQUEST_TIMEOUT_MS / 1000}s`
    : code === 'ECONNRESET' || code === 'EPIPE' ? 'the CodeDeploy endpoint dropped the connection'
    : undefined
  const text = network
    ? `${network} (${tried}): check the network path to CodeDeploy, the region, and AWS_ENDPOINT_URL_CODEDEPLOY or a proxy if one is set`
    : `${message}${isThrottling(error) || (status ?? 0) >= 500 ? ` (${tried})` : ''}`
  const wrapped = new Error(`could not ${what}: ${text}`, { cause: error })
  return Object.assign(wrapped, { name: name || wrapped.name, $metadata: (error as { $metadata?: unknown })?.$metadata, code: errnoOf(error) || (error as { code?: unknown })?.code })
}
