// Where a deploy stops waiting and hands the verdict to a later job (`hand-off-at`, status `in-progress`).
import type { ServiceDeployment } from '@aws-sdk/client-ecs'
import { LIFECYCLE_STAGES, type LifecycleStage } from '../../../request.js'
import { shortArn } from '../assess.js'

/**
 * The hand-off line when service deployment `sd`, still in flight, has reached `handOffAt` or a later
 * stage (a short stage may pass between two looks; the order is the reference's); undefined otherwise.
 */
export function handOffReason(handOffAt: LifecycleStage | undefined, sd: ServiceDeployment): string | undefined {
  if (!handOffAt || (sd.status !== 'IN_PROGRESS' && sd.status !== 'PENDING')) return undefined
  const stage = LIFECYCLE_STAGES.indexOf(sd.lifecycleStage as LifecycleStage)
  if (stage < 0 || stage < LIFECYCLE_STAGES.indexOf(handOffAt)) return undefined
  const arn = sd.serviceDeploymentArn ?? ''
  return `service deployment ${shortArn(arn)} reached stage ${sd.lifecycleStage} (hand-off-at: ${handOffAt}); ` +
    `a later job gives the verdict with mode 'follow' and service-deployment-arn ${arn}`
}
