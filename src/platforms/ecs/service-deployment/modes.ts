import type { Service, ServiceDeployment, TaskDefinition } from '@aws-sdk/client-ecs'
import { UserError } from '../../../errors.js'
import type { DeployRequest } from '../../../request.js'
import type { Plan } from '../../../rollout/platform.js'
import { shortArn } from '../assess.js'
import type { EcsApi } from '../client.js'
import { ServiceDeploymentsUnavailable } from './errors.js'
import { EcsRollout } from '../rollout.js'
import { ServiceDeploymentApi } from './client.js'
import { inFlight, ServiceDeploymentFollow, ServiceDeploymentRollback } from './follow.js'
import { assessServiceDeployment, shortId } from './assess.js'
import { ifOurs } from '../../../rollout/ownership.js'
import { readCurrent } from '../ownership.js'

/** Whose the service deployment `mode: continue` / `mode: rollback` acts on is: the user's choice, or the current one. */
function whose(request: DeployRequest): string {
  return request.ecs.serviceDeploymentArn ? 'named by service-deployment-arn' : 'the current one when this run read the service'
}

/**
 * The service deployment `mode: continue` / `mode: rollback` acts on: `service-deployment-arn`, else the
 * service's current one when in flight (never an older one still listed: stopping that would not undo
 * what runs). Undefined when none is in flight; when the calls are denied or not there, `required` turns
 * that into a UserError naming the permission (else: undefined). Any other error is thrown as it is.
 */
export async function findInFlight(api: EcsApi, service: Service, arn: string | undefined, required: boolean): Promise<ServiceDeployment | undefined> {
  try {
    if (arn) {
      const given = await api.describeServiceDeployment(arn)
      if (!given) throw new UserError({ input: 'service-deployment-arn', message: `ECS does not know service deployment '${arn}': check the ARN (ListServiceDeployments lists a service's deployments)` })
      if (!given.serviceArn || given.serviceArn !== service.serviceArn) {
        throw new UserError({ input: 'service-deployment-arn', message: `service deployment '${arn}' belongs to ${given.serviceArn ?? 'another service'}, not to service '${service.serviceName}'` })
      }
      return given
    }
    const current = service.currentServiceDeployment ? await api.describeServiceDeployment(service.currentServiceDeployment) : undefined
    return inFlight(current) ? current : undefined
  } catch (error) {
    if (!(error instanceof ServiceDeploymentsUnavailable)) throw error
    // Only a rollback asks without requiring one: where service deployments cannot be read, it rolls back to the previous task definition.
    if (!required) return undefined
    throw new UserError({ input: 'mode', message: `the service deployments of '${service.serviceName}' cannot be read (${error.message}): give the role ${error.permission} and ecs:ContinueServiceDeployment` })
  }
}

interface Live {
  current: Service
  live: TaskDefinition
}

/** Text, file name and images of a plan that registers nothing (continue, ECS's rollback). */
function unchanged(live: TaskDefinition): Pick<Plan, 'text' | 'redactedText' | 'fileName' | 'images'> {
  const text = `${JSON.stringify({ note: 'nothing is registered: the service deployment in flight is continued or rolled back', taskDefinitionArn: live.taskDefinitionArn }, null, 2)}\n`
  return { text, redactedText: text, fileName: `${live.family ?? 'service'}-service-deployment.json`, images: [] }
}

/** The task definition a service deployment rolls out (the PRIMARY deployment's), and the one before it. */
function revisionsOf(service: Service): { target: string; source?: string; deploymentId?: string } {
  const primary = service.deployments?.find(d => d.status === 'PRIMARY')
  const source = service.deployments?.find(d => d.status === 'ACTIVE')?.taskDefinition
  return { target: primary?.taskDefinition ?? service.taskDefinition ?? '', source, deploymentId: primary?.id }
}

/** `mode: continue`: continue the paused service deployment (or follow it when it is not paused), then wait for it. */
export async function continuePlan(api: EcsApi, request: DeployRequest, { current, live }: Live): Promise<Plan> {
  const { service } = request
  const sd = await findInFlight(api, current, request.ecs.serviceDeploymentArn, true)
  if (!sd || !inFlight(sd)) {
    throw new UserError({ input: 'mode', message: `ECS service '${service}' has no service deployment in flight to continue${sd ? ` (${shortId(sd)} is ${sd.status})` : ''}: deploy with mode 'deploy' (on-pause: exit stops at a PAUSE hook)` })
  }
  const verdict = assessServiceDeployment(sd)
  const { target, source, deploymentId } = revisionsOf(current)
  const arn = sd.serviceDeploymentArn!
  const what = verdict.kind === 'paused' ? `continue service deployment ${shortId(arn)}, paused at hook ${verdict.hookId} (stage ${verdict.stage})` : `follow service deployment ${shortId(arn)} (${sd.status}${sd.lifecycleStage ? ` ${sd.lifecycleStage}` : ''}; not paused, nothing to continue)`
  return {
    ...unchanged(live),
    previousRevision: source,
    description: `ECS service ${service} (cluster ${request.ecs.cluster}): ${what}, rolling out ${shortArn(target)}`,
    dryRun: async () => `would ${what}`,
    checkedBy: 'the service deployment was read from ECS',
    apply: async (progress, signal) => {
      if (verdict.kind === 'paused') {
        // Read again right before the call: another deploy since the plan was made replaced it, or someone continued it.
        const { proof } = await readCurrent(api, service, arn, whose(request), signal)
        const hookId = proof.ours ? proof.precondition.hookId : undefined
        if (!proof.ours || hookId) {
          await ifOurs(`continue service deployment ${shortId(arn)}`, async () => proof, owned => new ServiceDeploymentApi(api).continue(owned, 'CONTINUE', signal))
          progress.step(`continued service deployment ${shortId(arn)} at hook ${hookId}`)
        } else progress.step(`service deployment ${shortId(arn)} is no longer paused (someone continued it): following it`)
      }
      const knownEvents = new Set((current.events ?? []).map(event => event.id ?? ''))
      const rollout = new EcsRollout(api, service, deploymentId, target, source, knownEvents, new ServiceDeploymentFollow(undefined, arn))
      rollout.outputs['service-deployment-arn'] = arn
      rollout.onPause = request.ecs.onPause
      rollout.handOffAt = request.ecs.handOffAt
      rollout.verifies = Boolean(request.verify)
      return rollout
    }
  }
}

/**
 * `mode: rollback` while a service deployment is in flight: ECS rolls *that* back (ContinueServiceDeployment
 * ROLLBACK when paused, else StopServiceDeployment ROLLBACK). Undefined when none is in flight.
 */
export async function rollbackInFlightPlan(api: EcsApi, request: DeployRequest, { current, live }: Live): Promise<Plan | undefined> {
  if (request.toRevision) return undefined
  const sd = await findInFlight(api, current, request.ecs.serviceDeploymentArn, Boolean(request.ecs.serviceDeploymentArn))
  if (!sd || !inFlight(sd)) {
    if (request.ecs.serviceDeploymentArn) {
      throw new UserError({ input: 'service-deployment-arn', message: `service deployment ${shortId(request.ecs.serviceDeploymentArn)} is ${sd?.status ?? 'not known'}, not in flight: leave service-deployment-arn empty to roll back to the previous task definition` })
    }
    return undefined
  }
  const verdict = assessServiceDeployment(sd)
  const { target, source } = revisionsOf(current)
  const arn = sd.serviceDeploymentArn!
  const rollingBack = sd.status?.startsWith('ROLLBACK')
  const how = rollingBack ? 'ECS is rolling it back already' : verdict.kind === 'paused' ? `ContinueServiceDeployment ROLLBACK at hook ${verdict.hookId}` : 'StopServiceDeployment ROLLBACK'
  const back = source ?? sd.rollback?.serviceRevisionArn ?? 'the previous revision'
  return {
    ...unchanged(live),
    previousRevision: target,
    description: `ECS service ${request.service} (cluster ${request.ecs.cluster}): roll back service deployment ${shortId(arn)} in flight (${shortArn(target)}) by ECS's own rollback (${how}) to ${shortArn(back) || back}`,
    dryRun: async () => `would roll back service deployment ${shortId(arn)} (${how})`,
    checkedBy: 'the service deployment was read from ECS',
    apply: async (progress, signal) => {
      if (!rollingBack) {
        // Read again right before the call: it must still be the service's current one, and in flight.
        const { sd: now, proof } = await readCurrent(api, request.service, arn, whose(request), signal)
        if (now?.status?.startsWith('ROLLBACK')) progress.step(`ECS is rolling back service deployment ${shortId(arn)} already`)
        else if (proof.ours && !inFlight(now)) {
          throw new Error(`service deployment ${shortId(arn)} is ${now?.status} now, no longer in flight: nothing was rolled back; run mode 'rollback' again to roll back to the previous task definition`)
        } else {
          await ifOurs(`roll back service deployment ${shortId(arn)}`, async () => proof, owned =>
            new ServiceDeploymentApi(api).rollBack(owned, signal))
          progress.step(`asked ECS to roll back service deployment ${shortId(arn)} (${how})`)
        }
      }
      return new ServiceDeploymentRollback(api, arn, back, target)
    }
  }
}
