// The service-deployment calls (ListServiceDeployments, StopServiceDeployment, ContinueServiceDeployment,
// DescribeServiceRevisions), made through EcsApi's one retry policy, cancellation and explained errors.
// DescribeServiceDeployments stays on EcsApi: a group's members share it batched (../group/batched-reads.ts).
import {
  ContinueServiceDeploymentCommand,
  DescribeServiceRevisionsCommand,
  ListServiceDeploymentsCommand,
  StopServiceDeploymentCommand,
  type ServiceDeployment,
  type ServiceDeploymentBrief,
  type ServiceRevision
} from '@aws-sdk/client-ecs'
import type { Owned } from '../../../rollout/ownership.js'
import { wasNotExecuted } from '../../../rollout/retry.js'
import type { EcsApi } from '../client.js'
import { unavailableAs } from './errors.js'

/** What StopServiceDeployment / ContinueServiceDeployment carry: the service deployment as just read. */
export interface ServiceDeploymentRead {
  service: string
  serviceDeploymentArn: string
  status: string
  /** The PAUSE hook it waits at (AWAITING_ACTION), where it waits at one. */
  hookId?: string
}

export class ServiceDeploymentApi {
  readonly ecs: EcsApi

  constructor(ecs: EcsApi) {
    this.ecs = ecs
  }

  /**
   * The service deployments of a service created at or after `after`, newest first (one page: a
   * deploy looks for the one it just started). Throws ServiceDeploymentsUnavailable when the
   * call is denied or not there (an IAM policy without it, an endpoint that does not know it).
   */
  async list(service: string, after: Date, signal?: AbortSignal): Promise<ServiceDeploymentBrief[]> {
    const output = await this.ecs.send(`list service deployments of '${service}'`, abortSignal =>
      unavailableAs('ecs:ListServiceDeployments', this.ecs.client.send(new ListServiceDeploymentsCommand({ cluster: this.ecs.cluster, service, createdAt: { after }, maxResults: 20 }), { abortSignal }))
    , signal)
    return output.serviceDeployments ?? []
  }

  /**
   * A service revision (its task definition): undefined when ECS does not know it. Throws
   * ServiceDeploymentsUnavailable when the call is denied or not there, like the service-deployment calls.
   */
  async describeRevision(arn: string, signal?: AbortSignal): Promise<ServiceRevision | undefined> {
    const output = await this.ecs.send(`describe service revision '${arn}'`, abortSignal =>
      unavailableAs('ecs:DescribeServiceRevisions', this.ecs.client.send(new DescribeServiceRevisionsCommand({ serviceRevisionArns: [arn] }), { abortSignal }))
    , signal)
    return output.serviceRevisions?.find(r => r.serviceRevisionArn === arn)
  }

  /**
   * ECS's own rollback of our service deployment in flight: at the PAUSE hook it waits at, by
   * ContinueServiceDeployment ROLLBACK; otherwise by StopServiceDeployment ROLLBACK.
   */
  async rollBack(owned: Owned<ServiceDeploymentRead>, signal?: AbortSignal): Promise<void> {
    return owned.precondition.hookId ? this.continue(owned, 'ROLLBACK', signal) : this.stop(owned, 'ROLLBACK', signal)
  }

  /**
   * ECS's own rollback (ROLLBACK) of a service deployment in flight, or its end where it stands (ABORT),
   * only with the proof that it is ours and still the service's current one. After a failure that may
   * have run (a 5xx, a reset), the deployment is read before trying again: one already stopping or
   * rolling back means the first try took.
   */
  async stop(owned: Owned<ServiceDeploymentRead>, stopType: 'ROLLBACK' | 'ABORT', signal?: AbortSignal): Promise<void> {
    const arn = owned.precondition.serviceDeploymentArn
    await this.onceAfterAmbiguity(`stop service deployment '${arn}' (${stopType})`, arn, signal,
      sd => (stopType === 'ROLLBACK' ? sd.status?.startsWith('ROLLBACK') : ['STOP_REQUESTED', 'STOPPED'].includes(sd.status ?? '')) ?? false,
      abortSignal => this.ecs.client.send(new StopServiceDeploymentCommand({ serviceDeploymentArn: arn, stopType }), { abortSignal }))
  }

  /**
   * Continues (or rolls back) a service deployment paused at the PAUSE hook the proof read, only with
   * the proof that it is ours and still the service's current one. After a failure that may have run,
   * a hook no longer awaiting action (or, for ROLLBACK, a deployment rolling back) means the first try took.
   */
  async continue(owned: Owned<ServiceDeploymentRead>, action: 'CONTINUE' | 'ROLLBACK', signal?: AbortSignal): Promise<void> {
    const { serviceDeploymentArn: arn, hookId } = owned.precondition
    if (!hookId) throw new Error(`service deployment '${arn}' waits at no PAUSE hook: nothing to ${action === 'CONTINUE' ? 'continue' : 'roll back'} there`)
    await this.onceAfterAmbiguity(`continue service deployment '${arn}' at hook ${hookId} (${action})`, arn, signal,
      sd => {
        const hook = sd.lifecycleHookDetails?.find(h => h.hookId === hookId)
        return (action === 'ROLLBACK' && Boolean(sd.status?.startsWith('ROLLBACK'))) || (hook !== undefined && hook.status !== 'AWAITING_ACTION')
      },
      abortSignal => this.ecs.client.send(new ContinueServiceDeploymentCommand({ serviceDeploymentArn: arn, hookId, action }), { abortSignal }))
  }

  /**
   * A call on service deployment `arn` that must not be made twice: retried as any call, but once a try
   * failed in a way that may have run, the deployment is read first and `took` says whether it did.
   */
  private async onceAfterAmbiguity(what: string, arn: string, signal: AbortSignal | undefined, took: (sd: ServiceDeployment) => boolean, send: (abortSignal?: AbortSignal) => Promise<unknown>): Promise<void> {
    let mayHaveRun = false
    await this.ecs.send(what, async abortSignal => {
      if (mayHaveRun) {
        const sd = await this.ecs.describeServiceDeployment(arn, abortSignal)
        if (sd && took(sd)) return
      }
      try {
        await send(abortSignal)
      } catch (error) {
        mayHaveRun ||= !wasNotExecuted(error)
        throw error
      }
    }, signal, { input: 'service-deployment-arn' })
  }
}
