// `mode: follow`: a later job (or a scheduled workflow) follows the service deployment that an earlier
// run handed off at `hand-off-at` to its end, and gives the verdict with the same rollback rules.
import type { Service, TaskDefinition } from '@aws-sdk/client-ecs'
import { UserError } from '../../../errors.js'
import type { DeployRequest } from '../../../request.js'
import { ifOurs, NotOurs } from '../../../rollout/ownership.js'
import type { Plan, Rollout, WaitContext } from '../../../rollout/platform.js'
import { shortArn } from '../assess.js'
import type { EcsApi } from '../client.js'
import { ServiceDeploymentsUnavailable } from '../service-deployment/errors.js'
import { EcsRollout } from '../rollout.js'
import { ServiceDeploymentApi } from '../service-deployment/client.js'
import { ServiceDeploymentFollow } from '../service-deployment/follow.js'
import { shortId } from '../service-deployment/assess.js'
import { proveHandedOff } from './ours.js'

/**
 * The rollout of a handed-off service deployment. Its rollback (on failure or timeout, with
 * `rollback-on-failure`) is made only when a read at that moment proves it still ours (proveHandedOff),
 * then by EcsRollout's own rules (ECS's rollback while in flight, each with its own fresh read).
 */
class HandedOffRollout extends EcsRollout {
  private readonly arn: string
  private readonly whose: string

  constructor(api: EcsApi, service: string, arn: string, whose: string, deploymentId: string | undefined, revision: string, previous: string | undefined, knownEvents: Set<string>) {
    super(api, service, deploymentId, revision, previous, knownEvents, new ServiceDeploymentFollow(undefined, arn))
    this.arn = arn
    this.whose = whose
    this.outputs['service-deployment-arn'] = arn
  }

  override async undo(context: WaitContext): Promise<Rollout> {
    const signal = context.deadline.signal
    return ifOurs(`roll back service deployment ${shortId(this.arn)}`, async () => (await proveHandedOff(this.api, this.service, this.arn, this.whose, signal)).proof, () => super.undo(context))
  }
}

/** The plan of `mode: follow`: read the named service deployment, prove it ours at apply, follow it. */
export async function followPlan(api: EcsApi, request: DeployRequest, { current, live }: { current: Service; live: TaskDefinition }): Promise<Plan> {
  const { service } = request
  // A scheduled verdict job knows no ARN: the service's current service deployment is the one to judge.
  const arn = request.ecs.serviceDeploymentArn ?? current.currentServiceDeployment
  if (!arn) throw new UserError({ input: 'service-deployment-arn', message: `ECS service '${service}' has no current service deployment to follow: pass the service-deployment-arn output of the run that handed it off` })
  const whose = request.ecs.serviceDeploymentArn ? 'named by service-deployment-arn' : 'the current one when this run read the service'
  const sd = await describeNamed(api, current, arn)
  const where = `${sd.status ?? 'PENDING'}${sd.lifecycleStage ? ` ${sd.lifecycleStage}` : ''}`
  const what = `follow service deployment ${shortId(arn)} (${where}), handed off by an earlier run, to its end`
  const text = `${JSON.stringify({ note: 'nothing is registered: a handed-off service deployment is followed to its end', serviceDeploymentArn: arn }, null, 2)}\n`
  return {
    text,
    redactedText: text,
    fileName: `${live.family ?? 'service'}-service-deployment.json`,
    images: [],
    description: `ECS service ${service} (cluster ${request.ecs.cluster}): ${what}`,
    dryRun: async () => `would ${what}`,
    checkedBy: 'the service deployment was read from ECS',
    follows: arn,
    apply: async (progress, signal) => {
      // Read again now: a deploy since the hand-off replaced it (superseded), or it is not deploy-service's.
      const handed = await proveHandedOff(api, service, arn, whose, signal)
      if (!handed.proof.ours) throw new NotOurs(`follow service deployment ${shortId(arn)}`, handed.proof)
      progress.step(handed.proof.evidence)
      const revision = handed.revision!
      const source = handed.sd?.sourceServiceRevisions?.[0]?.arn
      const previous = source ? (await new ServiceDeploymentApi(api).describeRevision(source, signal))?.taskDefinition : undefined
      const now = await api.describeService(service, signal)
      const deployment = now.deployments?.find(d => d.taskDefinition !== undefined && shortArn(d.taskDefinition) === shortArn(revision))
      const knownEvents = new Set((now.events ?? []).map(event => event.id ?? ''))
      const rollout = new HandedOffRollout(api, service, arn, whose, deployment?.id, revision, previous, knownEvents)
      rollout.onPause = request.ecs.onPause
      return rollout
    }
  }
}

/** The service deployment `service-deployment-arn` names, of this service; a UserError naming the input otherwise. */
async function describeNamed(api: EcsApi, current: Service, arn: string) {
  try {
    const sd = await api.describeServiceDeployment(arn)
    if (!sd) throw new UserError({ input: 'service-deployment-arn', message: `ECS does not know service deployment '${arn}': pass the service-deployment-arn output of the run that handed it off` })
    if (sd.serviceArn !== current.serviceArn) {
      throw new UserError({ input: 'service-deployment-arn', message: `service deployment '${arn}' belongs to ${sd.serviceArn ?? 'another service'}, not to service '${current.serviceName}': check 'service' and 'cluster'` })
    }
    return sd
  } catch (error) {
    if (!(error instanceof ServiceDeploymentsUnavailable)) throw error
    throw new UserError({ input: 'mode', message: `mode 'follow' reads the service deployment, and ${error.permission} was refused (${error.message}): give the role ecs:DescribeServiceDeployments, ecs:DescribeServiceRevisions and ecs:StopServiceDeployment` })
  }
}
