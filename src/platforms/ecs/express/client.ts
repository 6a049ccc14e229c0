// The ECS Express calls (DescribeExpressGatewayService, UpdateExpressGatewayService), made through
// EcsApi's one retry policy and explained errors. Loaded only for Express services.
import {
  DescribeExpressGatewayServiceCommand,
  UpdateExpressGatewayServiceCommand,
  type ECSExpressGatewayService,
  type ExpressGatewayContainer,
  type ExpressGatewayServiceConfiguration,
  type UpdatedExpressGatewayService
} from '@aws-sdk/client-ecs'
import type { Owned } from '../../../rollout/ownership.js'
import type { EcsApi, ServiceRead } from '../client.js'

/** What a deploy changes on an Express service: the primary container's image, or the whole task definition. */
export type ExpressChange = { primaryContainer: ExpressGatewayContainer } | { taskDefinitionArn: string }

export class ExpressApi {
  readonly ecs: EcsApi

  constructor(ecs: EcsApi) {
    this.ecs = ecs
  }

  async describe(serviceArn: string, signal?: AbortSignal): Promise<ECSExpressGatewayService> {
    const output = await this.ecs.send(`describe Express service '${serviceArn}'`, abortSignal =>
      this.ecs.client.send(new DescribeExpressGatewayServiceCommand({ serviceArn }), { abortSignal }), signal)
    if (!output.service) throw new Error(`DescribeExpressGatewayService returned no service for '${serviceArn}'`)
    return output.service
  }

  /** Starts a deployment of `change`; every setting it does not name stays as it is. */
  async update(serviceArn: string, change: ExpressChange, signal?: AbortSignal): Promise<UpdatedExpressGatewayService> {
    const output = await this.ecs.send(`update Express service '${serviceArn}'`, abortSignal =>
      this.ecs.client.send(new UpdateExpressGatewayServiceCommand({ serviceArn, ...change }), { abortSignal }), signal)
    return output.service ?? {}
  }

  /**
   * The rollback update: only with the proof, read right before, that the service still runs our revision
   * (asked for, not read: Express has no conditional update, so the proof's read is the precondition).
   */
  async rollBack(_owned: Owned<ServiceRead>, serviceArn: string, change: ExpressChange, signal?: AbortSignal): Promise<UpdatedExpressGatewayService> {
    return this.update(serviceArn, change, signal)
  }
}

/**
 * The configuration that runs `taskDefinition` (the service's current one), else the newest: ECS lists
 * one per service revision still active.
 */
export function configurationOf(service: ECSExpressGatewayService, taskDefinition: string | undefined): ExpressGatewayServiceConfiguration | undefined {
  const configs = service.activeConfigurations ?? []
  return configs.find(c => c.taskDefinitionArn === taskDefinition) ??
    [...configs].sort((a, b) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0))[0]
}

/**
 * The service's URL: its public ingress path where it has one, else its private one. ECS gives a host
 * name; a value that already has a scheme is kept as it is.
 */
export function endpointUrlOf(config: ExpressGatewayServiceConfiguration | undefined): string | undefined {
  const paths = config?.ingressPaths ?? []
  const endpoint = (paths.find(p => p.accessType === 'PUBLIC') ?? paths[0])?.endpoint?.trim()
  if (!endpoint) return undefined
  return /^https?:\/\//i.test(endpoint) ? endpoint.replace(/\/+$/, '') : `https://${endpoint.replace(/\/+$/, '')}`
}
