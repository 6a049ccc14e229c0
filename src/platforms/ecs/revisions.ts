import type { TaskDefinition } from '@aws-sdk/client-ecs'
import { UserError } from '../../errors.js'
import { revisionNumber, shortArn } from './assess.js'
import type { EcsApi } from './client.js'

/** Tag on each task definition we register: the one the service ran before, i.e. where a rollback goes. */
export const PREVIOUS_TAG = 'deploy-service:previous-task-definition'

/**
 * The task definition `mode: rollback` returns to: `to-revision` (ARN, family:revision or a revision
 * number of the running family), else the one recorded when the running revision was deployed, else
 * the newest ACTIVE revision of the family older than the running one.
 */
export async function resolveRollbackTarget(api: EcsApi, live: TaskDefinition, toRevision?: string): Promise<string> {
  const family = live.family!
  const running = live.taskDefinitionArn!
  let target: string
  if (toRevision) {
    target = /^\d+$/.test(toRevision) ? `${family}:${toRevision}` : toRevision
    const { taskDefinition } = await api.describeTaskDefinition(target, 'to-revision').catch(error => {
      throw new UserError({ input: 'to-revision', message: `task definition '${target}' cannot be used: ${(error as Error).message}` })
    })
    target = taskDefinition.taskDefinitionArn!
  } else {
    const { tags } = await api.describeTaskDefinition(running, 'service')
    const recorded = tags.find(tag => tag.key === PREVIOUS_TAG)?.value
    if (recorded) target = recorded
    else {
      const older = (await api.listRevisions(family)).find(arn => revisionNumber(arn) < (live.revision ?? revisionNumber(running)))
      if (!older) {
        throw new UserError({ input: 'to-revision', message: `service runs ${shortArn(running)} and no older ACTIVE revision of '${family}' exists: name one in 'to-revision'` })
      }
      target = older
    }
  }
  if (target === running) {
    throw new UserError({ input: 'to-revision', message: `the service already runs ${shortArn(running)}: nothing to roll back to` })
  }
  return target
}


/**
 * keep-revisions: deregisters ACTIVE revisions of the family beyond the newest `keep`, skipping any
 * that a service or a deployment in any cluster still uses, and the revision a rollback would return
 * to: `rollbackTargets`, and the one recorded on the newest revision (the deploy that just ran).
 */
export async function pruneRevisions(api: EcsApi, family: string, keep: number, rollbackTargets: string[] = [], abortSignal?: AbortSignal): Promise<string[]> {
  const active = await api.listRevisions(family, 'ACTIVE', abortSignal)
  const candidates = active.slice(keep)
  if (candidates.length === 0) return []
  // Services may name a task definition by ARN or by family:revision: compare the short form.
  const inUse = new Set([...(await api.taskDefinitionsInUse(abortSignal))].map(shortArn))
  const protectedTargets = new Set(rollbackTargets.map(shortArn))
  if (active[0]) {
    const { tags } = await api.describeTaskDefinition(active[0], 'keep-revisions', abortSignal)
    const recorded = tags.find(tag => tag.key === PREVIOUS_TAG)?.value
    if (recorded) protectedTargets.add(shortArn(recorded))
  }
  const pruned: string[] = []
  for (const arn of candidates) {
    if (inUse.has(shortArn(arn)) || protectedTargets.has(shortArn(arn))) continue
    await api.deregisterTaskDefinition(arn, abortSignal)
    pruned.push(arn)
  }
  return pruned
}
