// The ECS proofs behind the one ownership rule (src/rollout/ownership.ts): what a fresh read must show
// before a rollback UpdateService, a StopServiceDeployment or a ContinueServiceDeployment is made.
// ECS has no conditional UpdateService or StopServiceDeployment: the strongest precondition it offers
// is the service (its PRIMARY deployment, its current service deployment) read right before the call.
import type { Service, ServiceDeployment } from '@aws-sdk/client-ecs'
import { errorMessage } from '../../errors.js'
import type { Proof } from '../../rollout/ownership.js'
import { shortArn } from './assess.js'
import type { EcsApi, ServiceRead } from './client.js'
import type { ServiceDeploymentRead } from './service-deployment/client.js'

/** What the deploy-service tags of a task definition say about who registered it (tag text is data). */
export async function whoDeployed(api: EcsApi, taskDefinition: string | undefined, signal?: AbortSignal): Promise<string> {
  if (!taskDefinition) return 'who deployed it is not known'
  try {
    const { tags } = await api.describeTaskDefinition(taskDefinition, 'service', signal)
    const tag = (key: string): string | undefined => clip(tags.find(t => t.key === key)?.value)
    const commit = tag('deploy-service:commit')
    const run = tag('deploy-service:run')
    if (!commit && !run) return `its task definition has no deploy-service tags (deployed by hand or by another tool)`
    return `its task definition's tags say deploy-service registered it${commit ? ` for commit ${commit}` : ''}${run ? ` in run ${run}` : ''}`
  } catch (error) {
    return `who deployed it is not known: its task definition's tags could not be read (${errorMessage(error)})`
  }
}

/** One line: what the service rolls out now (its PRIMARY deployment and current service deployment). */
export function runsNow(service: Service): string {
  const primary = service.deployments?.find(d => d.status === 'PRIMARY')
  const taskDefinition = service.taskDefinition ?? primary?.taskDefinition
  const sd = service.currentServiceDeployment ? `, service deployment ${shortArn(service.currentServiceDeployment)}` : ''
  return `service ${service.serviceName} now runs ${shortArn(taskDefinition) || 'no task definition'}${primary?.id ? ` (deployment ${primary.id}${sd})` : sd ? ` (${sd.slice(2)})` : ''}`
}

/**
 * Before a rollback UpdateService: the service (read now) still rolls out our task definition, the one
 * this run registered (its own RegisterTaskDefinition answer), in its PRIMARY deployment, and that
 * deployment is one this run follows (`deployments`: the one our UpdateService created, or a redeploy of
 * our revision it followed). Anything else is someone else's change, which a rollback would discard.
 */
export async function proveRunsOurs(api: EcsApi, name: string, ours: { revision: string; deployments: readonly string[] }, signal?: AbortSignal): Promise<Proof<ServiceRead>> {
  const service = await api.describeService(name, signal)
  const primary = service.deployments?.find(d => d.status === 'PRIMARY')
  // What UpdateService set last (DescribeServices' taskDefinition; its PRIMARY deployment's too, on ECS).
  const taskDefinition = service.taskDefinition ?? primary?.taskDefinition
  // Our revision redeployed by someone else (force-new-deployment) is their deployment, not one we follow.
  const redeployed = primary?.id !== undefined && primary.taskDefinition === ours.revision && ours.deployments.length > 0 && !ours.deployments.includes(primary.id)
  if (taskDefinition !== undefined && shortArn(taskDefinition) === shortArn(ours.revision) && !redeployed) {
    return { ours: true, precondition: { service: name, deploymentId: primary?.id, taskDefinition }, evidence: `service ${name} still rolls out ${shortArn(ours.revision)}${primary?.id ? ` (deployment ${primary.id})` : ''}, which this run deployed` }
  }
  return {
    ours: false,
    found: `${runsNow(service)}, not ${shortArn(ours.revision)} that this run deployed`,
    owner: await whoDeployed(api, taskDefinition, signal),
    superseded: true
  }
}

/**
 * Before `mode: rollback`'s UpdateService: the service (read now) still runs `running`, the revision the
 * plan was made to roll back. A deploy that landed since the plan was read is someone else's; the user
 * asked to undo what ran then, not that.
 */
export async function proveStillRuns(api: EcsApi, name: string, running: string, signal?: AbortSignal): Promise<Proof<ServiceRead>> {
  const service = await api.describeService(name, signal)
  const primary = service.deployments?.find(d => d.status === 'PRIMARY')
  const taskDefinition = service.taskDefinition ?? primary?.taskDefinition ?? ''
  if (shortArn(taskDefinition) === shortArn(running)) {
    return { ours: true, precondition: { service: name, deploymentId: primary?.id, taskDefinition }, evidence: `service ${name} still runs ${shortArn(running)}, which mode 'rollback' was asked to roll back` }
  }
  return {
    ours: false,
    found: `${runsNow(service)}, not ${shortArn(running)} that mode 'rollback' read when it made the plan`,
    owner: await whoDeployed(api, taskDefinition, signal),
    superseded: true
  }
}

/**
 * Before StopServiceDeployment / ContinueServiceDeployment: `arn` (the service deployment this run
 * created, or the one `mode: continue` / `mode: rollback` was asked to act on: `whose` says which) is
 * still the service's current service deployment, read now together with the service deployment itself.
 * Someone else's newer deployment in its place is theirs: stopping or continuing ours would not undo
 * what runs, and stopping theirs is not ours to do. `sd` is undefined when it is not current.
 */
export async function readCurrent(api: EcsApi, name: string, arn: string, whose: string, signal?: AbortSignal): Promise<{ sd?: ServiceDeployment; proof: Proof<ServiceDeploymentRead> }> {
  const service = await api.describeService(name, signal)
  const current = service.currentServiceDeployment === arn
  const sd = current ? await api.describeServiceDeployment(arn, signal) : undefined
  if (current && !sd) return { proof: { ours: false, found: `ECS does not know service deployment ${shortArn(arn)} (${whose}) any more` } }
  if (!sd) {
    const primary = service.deployments?.find(d => d.status === 'PRIMARY')
    return {
      proof: {
        ours: false,
        found: `${runsNow(service)}: its current service deployment is no longer ${shortArn(arn)} (${whose})`,
        owner: await whoDeployed(api, service.taskDefinition ?? primary?.taskDefinition, signal),
        superseded: true
      }
    }
  }
  const hook = (sd.lifecycleHookDetails ?? []).find(h => h.targetType === 'PAUSE' && h.status === 'AWAITING_ACTION')
  return {
    sd,
    proof: {
      ours: true,
      precondition: { service: name, serviceDeploymentArn: arn, status: sd.status ?? '', hookId: hook?.hookId },
      evidence: `service deployment ${shortArn(arn)} (${whose}) is still the current one of service ${name} (${sd.status})`
    }
  }
}

/** Text from a tag is data: one line, bounded. */
function clip(value: string | undefined): string | undefined {
  if (!value) return undefined
  const line = value.replace(/\s+/g, ' ').trim()
  return line.length > 200 ? `${line.slice(0, 200)}…` : line
}
