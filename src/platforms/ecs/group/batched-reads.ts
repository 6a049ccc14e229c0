// Several services followed together must not cost one DescribeServices per service and look: the reads
// that the members of a group ask for at the same moment (one look of the group) go out together, up to
// 10 services per DescribeServices and 20 service deployments per DescribeServiceDeployments (the limits
// of the ECS API reference). Nothing is cached: every answer comes from a call sent after it was asked
// for, so a read made to prove a target ours (src/rollout/ownership.ts) is as fresh as a call of its own.
import { DescribeServiceDeploymentsCommand, DescribeServicesCommand, type Service, type ServiceDeployment } from '@aws-sdk/client-ecs'
import { UserError } from '../../../errors.js'
import { EcsApi } from '../client.js'
import { unavailableAs } from '../service-deployment/errors.js'

/** DescribeServices takes at most 10 services, DescribeServiceDeployments at most 20 ARNs. */
export const SERVICES_PER_CALL = 10
export const SERVICE_DEPLOYMENTS_PER_CALL = 20

interface Asked<T> {
  key: string
  signal?: AbortSignal
  resolve(value: T | undefined): void
  reject(error: unknown): void
}

/**
 * Gathers the keys asked for until the current turn of the event loop ends (the members of a group all
 * ask in the same turn), then fetches them in chunks of `size`, each chunk one call.
 */
class Gather<T> {
  private asked: Asked<T>[] = []
  private readonly size: number
  private readonly fetch: (keys: string[], signal?: AbortSignal) => Promise<Map<string, T>>

  constructor(size: number, fetch: (keys: string[], signal?: AbortSignal) => Promise<Map<string, T>>) {
    this.size = size
    this.fetch = fetch
  }

  get(key: string, signal?: AbortSignal): Promise<T | undefined> {
    return new Promise((resolve, reject) => {
      if (this.asked.length === 0) setImmediate(() => void this.flush())
      this.asked.push({ key, signal, resolve, reject })
    })
  }

  private async flush(): Promise<void> {
    const asked = this.asked
    this.asked = []
    // The calls end only when every asker's signal fired: one member's cancellation must not fail the others.
    const live = asked.filter(a => !a.signal?.aborted)
    for (const a of asked) if (a.signal?.aborted) a.reject(a.signal.reason)
    const signals = live.map(a => a.signal)
    const signal = signals.every(s => s !== undefined) && signals.length > 0 && signals.every(s => s === signals[0]) ? signals[0] : undefined
    const keys = [...new Set(live.map(a => a.key))]
    const chunks: string[][] = []
    for (let i = 0; i < keys.length; i += this.size) chunks.push(keys.slice(i, i + this.size))
    await Promise.all(chunks.map(async chunk => {
      const waiting = live.filter(a => chunk.includes(a.key))
      try {
        const found = await this.fetch(chunk, signal)
        for (const a of waiting) a.resolve(found.get(a.key))
      } catch (error) {
        for (const a of waiting) a.reject(error)
      }
    }))
  }
}

/**
 * The EcsApi a group's members share: describeService and describeServiceDeployment gathered as above,
 * every other call (and its retries, errors and cancellation) as EcsApi makes it.
 */
export class BatchedEcsApi extends EcsApi {
  /** Calls made, by operation: what the group cost, for the log and the benchmark. */
  readonly calls = { DescribeServices: 0, DescribeServiceDeployments: 0 }

  private readonly services = new Gather<Service>(SERVICES_PER_CALL, async (names, signal) => {
    const abortSignal = this.signalFor(signal)
    this.calls.DescribeServices++
    const output = await this.call(`describe services ${names.map(n => `'${n}'`).join(', ')}`, () =>
      this.client.send(new DescribeServicesCommand({ cluster: this.cluster, services: names }), { abortSignal })
    , undefined, abortSignal)
    return new Map((output.services ?? []).map(s => [s.serviceName ?? '', s]))
  })

  private readonly deployments = new Gather<ServiceDeployment>(SERVICE_DEPLOYMENTS_PER_CALL, async (arns, signal) => {
    const abortSignal = this.signalFor(signal)
    this.calls.DescribeServiceDeployments++
    const output = await this.call(`describe service deployments ${arns.join(', ')}`, () =>
      unavailableAs('ecs:DescribeServiceDeployments', this.client.send(new DescribeServiceDeploymentsCommand({ serviceDeploymentArns: arns }), { abortSignal }))
    , undefined, abortSignal)
    return new Map((output.serviceDeployments ?? []).map(d => [d.serviceDeploymentArn ?? '', d]))
  })

  constructor(base: EcsApi) {
    super(base.cluster, base.client)
  }

  override async describeService(service: string, signal?: AbortSignal): Promise<Service> {
    const found = await this.services.get(service, signal)
    if (!found) throw new UserError({ input: 'service', message: `ECS service '${service}' was not found in cluster '${this.cluster}' (MISSING): check 'service' and 'cluster'` })
    return found
  }

  override async describeServiceDeployment(arn: string, signal?: AbortSignal): Promise<ServiceDeployment | undefined> {
    return this.deployments.get(arn, signal)
  }
}
