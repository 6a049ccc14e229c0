// What proves, in a later job, that a handed-off service deployment is still ours to follow and to roll
// back: read from ECS at that moment, never remembered from the run that handed it off.
import type { ServiceDeployment } from '@aws-sdk/client-ecs'
import type { Proof } from '../../../rollout/ownership.js'
import { shortArn } from '../assess.js'
import type { EcsApi } from '../client.js'
import { readCurrent, whoDeployed } from '../ownership.js'
import { ServiceDeploymentApi, type ServiceDeploymentRead } from '../service-deployment/client.js'
import { CREATED_AT_TOLERANCE_MS } from '../service-deployment/ours.js'

export interface HandedOff {
  proof: Proof<ServiceDeploymentRead>
  /** The service deployment as just read, when it is still the service's current one. */
  sd?: ServiceDeployment
  /** The task definition its target revision runs. */
  revision?: string
}

/**
 * `arn` is ours when, read now: it is still the service's current service deployment (a newer deploy
 * replaced it otherwise: superseded), its target service revision runs a task definition that
 * deploy-service registered (its `deploy-service:run` tag), and it was created after that registration
 * (the UpdateService of that run, not an older deployment of another revision).
 */
export async function proveHandedOff(api: EcsApi, service: string, arn: string, whose: string, signal?: AbortSignal): Promise<HandedOff> {
  const { sd, proof } = await readCurrent(api, service, arn, whose, signal)
  if (!proof.ours || !sd) return { proof }
  const id = shortArn(arn)
  const target = sd.targetServiceRevision?.arn
  const revision = target ? (await new ServiceDeploymentApi(api).describeRevision(target, signal))?.taskDefinition : undefined
  if (!revision) return { sd, proof: { ours: false, found: `service deployment ${id} names no target revision that ECS can describe` } }
  const { taskDefinition, tags } = await api.describeTaskDefinition(revision, 'service-deployment-arn', signal)
  const run = tags.find(tag => tag.key === 'deploy-service:run')?.value
  if (!run) {
    return { sd, revision, proof: { ours: false, found: `service deployment ${id} rolls out ${shortArn(revision)}, which deploy-service did not register`, owner: await whoDeployed(api, revision, signal) } }
  }
  const registeredAt = taskDefinition.registeredAt?.getTime()
  const createdAt = sd.createdAt?.getTime()
  if (registeredAt !== undefined && createdAt !== undefined && createdAt < registeredAt - CREATED_AT_TOLERANCE_MS) {
    return { sd, revision, proof: { ours: false, found: `service deployment ${id} was created before ${shortArn(revision)} was registered, so no run of deploy-service started it with that revision` } }
  }
  return { sd, revision, proof: { ...proof, evidence: `${proof.evidence}; it rolls out ${shortArn(revision)}, which deploy-service registered (${oneLine(run)})` } }
}

/** Tag text is data: one line, bounded. */
function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim()
  return line.length > 200 ? `${line.slice(0, 200)}…` : line
}
