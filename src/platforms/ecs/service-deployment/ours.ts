// Which service deployment is ours: the one our UpdateService created, proved by what ECS says of it
// (created at or after our call, its target service revision running the task definition we deployed),
// never by "it differs from the one current before" (src/rollout/ownership.ts).
import type { Service, ServiceDeployment, ServiceDeploymentBrief } from '@aws-sdk/client-ecs'
import { shortArn } from '../assess.js'
import type { EcsApi } from '../client.js'
import { ServiceDeploymentApi } from './client.js'

/**
 * Our UpdateService call, and what a service deployment must show to be the one it created: created at
 * or after `since`, and its target service revision runs `revision`, the task definition our call
 * deployed. Never "it differs from the one current before": a deployment someone else started while
 * our pre-deploy task ran is newer than that, and is not ours.
 */
export interface OurCall {
  /** The task definition our UpdateService deployed. */
  revision: string
  /**
   * ECS's own time of our call, less CREATED_AT_TOLERANCE_MS: the createdAt of the deployment our
   * UpdateService answer names (ECS's clock, so no clock skew); our clock just before the call when the
   * answer names none.
   */
  since: number
  /** The service's current service deployment before our update: never ours. */
  before?: string
}

/**
 * ECS writes a deployment and its service deployment in one UpdateService request; their createdAt may
 * differ by that request's handling. One second covers it; a deployment someone else started a moment
 * before ours still fails the other half of the proof (its target revision runs their task definition).
 */
export const CREATED_AT_TOLERANCE_MS = 1000

/** ListServiceDeployments at most this often while our service deployment is not known. */
const LIST_EVERY_MS = 5_000

/** Finds, among the service's service deployments, the one our UpdateService created. */
export class OurServiceDeployment {
  private readonly ours: OurCall
  /** Service deployments looked at and found not ours: never looked at again. */
  private readonly notOurs = new Set<string>()
  /** Service revision ARN -> its task definition (a revision never changes). */
  private readonly revisions = new Map<string, string>()
  /** When ListServiceDeployments was last called (-Infinity: never). */
  private listedAt = -Infinity

  constructor(ours: OurCall) {
    this.ours = ours
  }

  /** The one our UpdateService answer named as current, when it is ours, with the service deployment as read. */
  async answered(api: EcsApi, arn: string, signal: AbortSignal): Promise<ServiceDeployment | undefined> {
    if (arn === this.ours.before || this.notOurs.has(arn)) return undefined
    const read: { sd?: ServiceDeployment } = {}
    return (await this.check(api, arn, signal, read)) ? read.sd : undefined
  }

  /**
   * Ours among the service's current one and (listed at most every LIST_EVERY_MS, when the current one
   * is not a candidate) those created since our call, oldest first. Throws ServiceDeploymentsUnavailable
   * when the calls are denied or not there.
   */
  async find(api: EcsApi, service: Service, signal: AbortSignal): Promise<string | undefined> {
    const { before, since } = this.ours
    const current = service.currentServiceDeployment
    const candidates: string[] = []
    if (current && current !== before && !this.notOurs.has(current)) candidates.push(current)
    const now = Date.now()
    if (candidates.length === 0 && now - this.listedAt >= LIST_EVERY_MS) {
      this.listedAt = now
      // The list's filter is only a window (a few minutes' margin); the proof is exact.
      const listed = await new ServiceDeploymentApi(api).list(service.serviceName ?? '', new Date(since - 300_000), signal)
      candidates.push(...oldestFirst(listed.filter(d => d.serviceDeploymentArn && d.serviceDeploymentArn !== before &&
        !this.notOurs.has(d.serviceDeploymentArn) && (d.createdAt === undefined || d.createdAt.getTime() >= since))))
    }
    for (const arn of candidates.slice(0, 5)) if (await this.check(api, arn, signal)) return arn
    return undefined
  }

  /** Whether `arn` is proved ours; one proved not ours is remembered and never looked at again. */
  private async check(api: EcsApi, arn: string, signal: AbortSignal, read: { sd?: ServiceDeployment } = {}): Promise<boolean> {
    const verdict = await this.proved(api, arn, signal, read)
    if (verdict === 'not ours') this.notOurs.add(arn)
    return verdict === 'ours'
  }

  /**
   * Whether our UpdateService created service deployment `arn`: created at or after our call, and its
   * target service revision runs the task definition we deployed. `unknown`: not visible yet, or no
   * target revision named yet (looked at again later).
   */
  private async proved(api: EcsApi, arn: string, signal: AbortSignal, read: { sd?: ServiceDeployment }): Promise<'ours' | 'not ours' | 'unknown'> {
    const sd = await api.describeServiceDeployment(arn, signal)
    if (!sd) return 'unknown'
    read.sd = sd
    const createdAt = sd.createdAt?.getTime()
    if (createdAt === undefined || createdAt < this.ours.since) return 'not ours'
    const target = sd.targetServiceRevision?.arn
    if (!target) return 'unknown'
    let taskDefinition = this.revisions.get(target)
    if (taskDefinition === undefined) {
      const revision = await new ServiceDeploymentApi(api).describeRevision(target, signal)
      if (!revision?.taskDefinition) return 'unknown'
      taskDefinition = revision.taskDefinition
      this.revisions.set(target, taskDefinition)
    }
    return sameTaskDefinition(taskDefinition, this.ours.revision) ? 'ours' : 'not ours'
  }
}

/** Listed service deployments, oldest first (the API reference promises no order: createdAt decides). */
function oldestFirst(listed: readonly ServiceDeploymentBrief[]): string[] {
  const createdAt = (d: ServiceDeploymentBrief) => d.createdAt?.getTime() ?? 0
  return [...listed].sort((a, b) => createdAt(a) - createdAt(b)).map(d => d.serviceDeploymentArn!)
}

/** The same task definition, named by full ARN or by family:revision. */
function sameTaskDefinition(a: string, b: string): boolean {
  return a === b || shortArn(a) === shortArn(b)
}
