// ECS Express Mode services (resourceManagementType ECS): ECS owns their load balancer, URL, scaling,
// alarm and canary deployments. A deploy changes only the primary container's image
// (UpdateExpressGatewayService primaryContainer, the rest of the container as it is) or, with a
// template, the whole task definition (taskDefinitionArn); the service deployment it starts is followed
// like any other (EcsRollout). Loaded only for Express services.
import * as core from '@actions/core'
import type { Service, TaskDefinition } from '@aws-sdk/client-ecs'
import { UserError } from '../../../errors.js'
import { withTags, type TaskDefinitionInput } from '../../../render/task-definition.js'
import type { DeployRequest } from '../../../request.js'
import type { Plan, Rendered } from '../../../rollout/platform.js'
import type { Progress } from '../../../rollout/progress.js'
import { shortArn } from '../assess.js'
import type { EcsApi } from '../client.js'
import { taskDefinitionDiff } from '../diff.js'
import { PREVIOUS_TAG } from '../revisions.js'
import { EcsRollout } from '../rollout.js'
import { describeStrategy, timeoutWarning } from '../service-deployment/assess.js'
import { configurationOf, endpointUrlOf, ExpressApi, type ExpressChange } from './client.js'

/** The container a task definition given to an Express service must have (API reference, taskDefinitionArn). */
const MAIN = 'Main'

export function isExpress(service: Service): boolean {
  return service.resourceManagementType === 'ECS'
}

export interface ExpressPlanArgs {
  request: DeployRequest
  api: EcsApi
  service: Service
  live: TaskDefinition
  rendered: Rendered & { taskDefinition: TaskDefinitionInput }
  checkedBy: string
}

export async function planExpress({ request, api, service, live, rendered, checkedBy }: ExpressPlanArgs): Promise<Plan> {
  const name = service.serviceName ?? request.service
  refuseManaged(request, name)
  const express = new ExpressApi(api)
  const serviceArn = service.serviceArn!
  const config = configurationOf(await express.describe(serviceArn), live.taskDefinitionArn)
  const endpointUrl = endpointUrlOf(config)
  const previous = live.taskDefinitionArn!
  const images = rendered.images.map(change => ({ ...change, previous: live.containerDefinitions?.find(c => c.name === change.container)?.image ?? '' }))
  const definition = withTags(rendered.taskDefinition, { 'deploy-service:commit': request.github.sha, 'deploy-service:run': request.github.runUrl })
  // Without a template only the image changes: the primary container as ECS describes it, with the new image.
  const primary = config?.primaryContainer
  if (!request.template) {
    if (images.length !== 1) throw new UserError({ input: 'container', message: `Express service '${name}' takes one image, its primary container's; ${images.length} containers were chosen (${images.map(i => i.container).join(', ')}): name one with 'container', or give a task definition with 'template'` })
    if (!primary) throw new UserError({ input: 'service', message: `ECS describes no primary container for Express service '${name}' (DescribeExpressGatewayService): give a task definition with 'template'` })
  } else {
    checkTemplate(rendered.taskDefinition, request.template)
  }
  const strategy = describeStrategy(service)
  const tooShort = request.wait ? timeoutWarning(strategy, request.timeoutMs) : undefined
  if (tooShort) core.warning(tooShort)
  const what = request.template ? `a new revision of ${definition.family} (taskDefinitionArn)` : `image ${images[0]!.previous} -> ${images[0]!.next} (primary container)`
  return {
    ...rendered,
    images,
    previousRevision: previous,
    endpointUrl,
    description: `ECS Express service ${name} (cluster ${request.ecs.cluster}${endpointUrl ? `, ${endpointUrl}` : ''}): ${shortArn(previous)} -> ${what}; ${strategy.line}${tooShort ? `; warning: ${tooShort}` : ''}`,
    dryRun: async () => taskDefinitionDiff(live, definition),
    checkedBy,
    apply: async (progress, signal) => {
      const registered = request.template
        ? (await api.registerTaskDefinition(withTags(definition, { [PREVIOUS_TAG]: previous }) as never, signal)).taskDefinitionArn!
        : undefined
      if (registered) progress.step(`registered task definition ${shortArn(registered)}`)
      const change: ExpressChange = registered ? { taskDefinitionArn: registered } : { primaryContainer: { ...primary!, image: images[0]!.next } }
      // What the rollback puts back: the same kind of change, as it was before.
      const back: ExpressChange = registered ? { taskDefinitionArn: previous } : { primaryContainer: primary! }
      const rollout = await start(express, name, serviceArn, change, previous, progress, signal, service.currentServiceDeployment)
      rollout.onPause = request.ecs.onPause
      rollout.outputs['endpoint-url'] = endpointUrl ?? ''
      rollout.restoreBy = async (owned, restoring, restoreSignal) => {
        const restored = await start(express, name, serviceArn, back, rollout.revision, restoring, restoreSignal, rollout.follow.ownArn, async () => express.rollBack(owned, serviceArn, back, restoreSignal))
        restored.outputs['endpoint-url'] = endpointUrl ?? ''
        return restored
      }
      return rollout
    }
  }
}

/**
 * One UpdateExpressGatewayService (`update`, or the plain one of `change`), then the service as ECS
 * shows it: the deployment it started is followed by the task definition ECS answered with.
 */
async function start(express: ExpressApi, name: string, serviceArn: string, change: ExpressChange, from: string, progress: Progress, signal: AbortSignal, before: string | undefined, update = () => express.update(serviceArn, change, signal)): Promise<EcsRollout> {
  const calledAt = Date.now()
  const updated = await update()
  const now = await express.ecs.describeService(name, signal)
  const target = 'taskDefinitionArn' in change ? change.taskDefinitionArn : updated.targetConfiguration?.taskDefinitionArn ?? now.taskDefinition
  if (!target) throw new Error(`ECS answered UpdateExpressGatewayService for '${name}' with no task definition to follow`)
  progress.step(`Express service ${name} updated (UpdateExpressGatewayService): ECS runs ${shortArn(target)} next`)
  return EcsRollout.started(express.ecs, name, now, target, calledAt, from, progress, signal, before)
}

/**
 * Inputs that would change what Express manages itself (its scaling, its deployments): refused before
 * anything changes, each naming where that setting lives instead.
 */
function refuseManaged(request: DeployRequest, name: string): void {
  const problems: Array<[string, string]> = []
  if (request.ecs.desiredCount !== undefined) {
    problems.push(['desired-count', `Express service '${name}' scales itself (its scalingTarget: minTaskCount, maxTaskCount and the auto-scaling metric): remove 'desired-count' and change the scaling target in ECS`])
  }
  if (request.ecs.forceNewDeployment) {
    problems.push(['force-new-deployment', `Express service '${name}' is deployed by UpdateExpressGatewayService, which has no forced redeployment: remove 'force-new-deployment' (a new image or task definition starts a deployment)`])
  }
  if (request.preDeploy) {
    problems.push(['pre-deploy-command', `a pre-deploy task is not supported for Express service '${name}' (ECS registers its task definition during the update): run the migration in a step before this one`])
  }
  if (request.ecs.keepRevisions !== undefined) {
    problems.push(['keep-revisions', `Express service '${name}' has its task definitions managed by ECS: remove 'keep-revisions'`])
  }
  const [first, ...rest] = problems
  if (!first) return
  throw new UserError({ input: first[0], message: [first[1], ...rest.map(([input, message]) => `'${input}': ${message}`)].join('; ') })
}

/** What the API reference asks of a task definition given to an Express service (taskDefinitionArn). */
function checkTemplate(definition: TaskDefinitionInput, file: string): void {
  const location = { file, line: 1 }
  const main = definition.containerDefinitions?.find(c => c.name === MAIN)
  if (!main) {
    const names = (definition.containerDefinitions ?? []).map(c => c.name).join(', ')
    throw new UserError({ input: 'template', location, message: `an Express service's task definition must have a container named '${MAIN}' (it has ${names || 'none'}): rename the container that serves traffic to '${MAIN}'` })
  }
  const ports = (main.portMappings ?? []) as Array<{ containerPort?: number; name?: string; protocol?: string }>
  if (ports.length !== 1 || ports[0]!.containerPort === undefined || !ports[0]!.name || (ports[0]!.protocol ?? 'tcp') !== 'tcp') {
    throw new UserError({ input: 'template', location, message: `container '${MAIN}' of an Express service's task definition must have one TCP port mapping with a containerPort and a name (it has ${ports.length}): Express's load balancer sends traffic to it` })
  }
  if (!((definition.requiresCompatibilities ?? []) as string[]).includes('FARGATE')) {
    throw new UserError({ input: 'template', location, message: `an Express service's task definition must be FARGATE-compatible: add "requiresCompatibilities": ["FARGATE"]` })
  }
}
