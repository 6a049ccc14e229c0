import type { Tag, TaskDefinition } from '@aws-sdk/client-ecs'
import { UserError, errorMessage } from '../../errors.js'
import { ifOurs, isNotOurs, type Proof } from '../../rollout/ownership.js'
import type { Progress } from '../../rollout/progress.js'
import { revisionNumber, shortArn } from './assess.js'
import { REGISTRATION_TAG, type EcsApi } from './client.js'

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
 * How long a revision may wait, registered, for the run that registered it to deploy it: between a
 * run's RegisterTaskDefinition and its UpdateService lies at most its pre-deploy step (pre-deploy-timeout,
 * at most 6 h) and the calls around it. Twice that covers retries, clock skew and a run's whole life
 * (a 6 h pre-deploy step, then a 6 h wait): a revision younger than this that no service has run yet
 * may belong to a deploy still in progress.
 */
export const IN_FLIGHT_WINDOW_MS = 12 * 3600_000

/** Tags that only deploy-service puts on a revision it registers (the registration id, the run). */
const OUR_TAGS = [REGISTRATION_TAG, 'deploy-service:run']

export interface PruneResult {
  deregistered: string[]
  /** Candidates beyond the newest `keep` left ACTIVE, each with what the read right before found. */
  kept: { arn: string; why: string }[]
}

/**
 * keep-revisions: of the ACTIVE revisions of the family beyond the newest `keep`, deregisters each
 * that a read made right before its DeregisterTaskDefinition (ifOurs) proves no longer needed:
 * - still ACTIVE, and registered by deploy-service (its tags): a revision registered by hand or by
 *   another tool may be used where no service shows it (scheduled tasks, IaC state), so it is never ours;
 * - no service of any cluster runs or deploys it, and no service of the family records it as its
 *   rollback target (the previous-task-definition tag of the revisions it runs), nor does this deploy
 *   (`rollbackTargets`, and the one recorded on the newest revision);
 * - no run can still be about to deploy it: registered more than IN_FLIGHT_WINDOW_MS ago, or a newer
 *   revision records it as the one its service ran before (so its own deploy is behind it).
 */
export async function pruneRevisions(api: EcsApi, family: string, keep: number, rollbackTargets: string[] = [], abortSignal?: AbortSignal, now = Date.now): Promise<PruneResult> {
  const active = await api.listRevisions(family, 'ACTIVE', abortSignal)
  const candidates = active.slice(keep)
  const result: PruneResult = { deregistered: [], kept: [] }
  if (candidates.length === 0) return result
  const targets = new Set(rollbackTargets.map(shortArn))
  const tags = new TagReader(api, abortSignal)
  if (active[0]) {
    const recorded = previousOf(await tags.of(active[0]))
    if (recorded) targets.add(shortArn(recorded))
  }
  const context: ProofContext = { api, family, active, targets, tags, now, abortSignal }
  for (const arn of candidates) {
    try {
      await ifOurs(`deregister ${shortArn(arn)}`, () => proveDeregistrable(arn, context), owned => api.deregisterTaskDefinition(owned, abortSignal))
      result.deregistered.push(arn)
    } catch (error) {
      if (!isNotOurs(error)) throw error
      result.kept.push({ arn, why: `${error.found}${error.owner ? ` (${error.owner})` : ''}` })
    }
  }
  return result
}

/** One line for what was deregistered, one for each revision kept and why. */
export function reportPruned(progress: Progress, keep: number, result: PruneResult): void {
  progress.step(result.deregistered.length ? `keep-revisions ${keep}: deregistered ${result.deregistered.map(shortArn).join(', ')}` : `keep-revisions ${keep}: nothing to deregister`)
  for (const { arn, why } of result.kept) progress.step(`keep-revisions ${keep}: kept ${shortArn(arn)}: ${why}`)
}

interface ProofContext {
  api: EcsApi
  family: string
  /** The family's ACTIVE revisions as listed first, newest first: the newer ones may record a candidate as their previous. */
  active: string[]
  targets: Set<string>
  tags: TagReader
  now: () => number
  abortSignal?: AbortSignal
}

/** The fresh read before one DeregisterTaskDefinition: the revision itself, then every service. */
async function proveDeregistrable(arn: string, c: ProofContext): Promise<Proof<{ taskDefinitionArn: string }>> {
  const name = shortArn(arn)
  const { taskDefinition, tags } = await c.api.describeTaskDefinition(arn, 'keep-revisions', c.abortSignal)
  if (taskDefinition.status !== 'ACTIVE') return { ours: false, found: `${name} is ${taskDefinition.status ?? 'no longer ACTIVE'}` }
  if (c.targets.has(name)) return { ours: false, found: `${name} is where a rollback of this deploy returns to` }
  const run = tags.find(tag => tag.key === 'deploy-service:run')?.value
  if (!tags.some(tag => OUR_TAGS.includes(tag.key ?? ''))) {
    return { ours: false, found: `${name} has no deploy-service tags`, owner: `registered by hand or by another tool${taskDefinition.registeredBy ? `: ${clip(taskDefinition.registeredBy)}` : ''}` }
  }
  const needed = await whoNeeds(name, c)
  if (needed) return { ours: false, found: needed }
  const registeredAt = taskDefinition.registeredAt?.getTime()
  const age = registeredAt === undefined ? undefined : c.now() - registeredAt
  if (age !== undefined && age > IN_FLIGHT_WINDOW_MS) {
    return { ours: true, precondition: { taskDefinitionArn: arn }, evidence: `${name}: registered by deploy-service ${formatAge(age)} ago, unused, no rollback target` }
  }
  const replacedBy = await c.tags.replacedBy(name, c.active)
  if (replacedBy) {
    return { ours: true, precondition: { taskDefinitionArn: arn }, evidence: `${name}: registered by deploy-service, unused, no rollback target; ${replacedBy} replaced it on its service` }
  }
  return {
    ours: false,
    found: `${name} was registered ${age === undefined ? 'at an unknown time' : `${formatAge(age)} ago`} and no service has run it yet: the deploy that registered it may still be before its UpdateService (revisions are kept ${IN_FLIGHT_WINDOW_MS / 3600_000} h for that)`,
    owner: run ? `deploy-service run ${clip(run)}` : undefined
  }
}

/** Which service of which cluster runs, deploys or would roll back to `name` now, if one does. */
async function whoNeeds(name: string, c: ProofContext): Promise<string | undefined> {
  const services = await c.api.allServices(c.abortSignal)
  // Read now, not from the cache: a run may tag its revision before it deploys it.
  const fresh = new TagReader(c.api, c.abortSignal)
  for (const service of services) {
    const where = `service ${service.serviceName} (cluster ${shortArn(service.clusterArn)})`
    const runs = [...new Set([service.taskDefinition, ...(service.deployments ?? []).map(d => d.taskDefinition)].filter((arn): arn is string => Boolean(arn)))]
    if (runs.some(arn => shortArn(arn) === name)) return `${where} runs or deploys ${name}`
    for (const arn of runs.filter(arn => familyOf(arn) === c.family)) {
      let previous: string | undefined
      try {
        previous = previousOf(await fresh.of(arn))
      } catch (error) {
        return `whether ${where} would roll back to ${name} is not known: the tags of ${shortArn(arn)} could not be read (${errorMessage(error)})`
      }
      if (previous && shortArn(previous) === name) return `${where} runs ${shortArn(arn)}, which records ${name} as its rollback target (${PREVIOUS_TAG})`
    }
  }
  return undefined
}

/**
 * Tags of task definitions, each read once. Kept for a whole keep-revisions run only for what they
 * prove for good (a newer revision replaced a candidate on its service: that stays true, and a tag
 * not there yet only keeps a revision); who runs what, and their rollback targets, are read again
 * before each deregistration.
 */
class TagReader {
  private readonly reads = new Map<string, Promise<Tag[]>>()
  private readonly api: EcsApi
  private readonly signal?: AbortSignal

  constructor(api: EcsApi, signal?: AbortSignal) {
    this.api = api
    this.signal = signal
  }

  of(arn: string): Promise<Tag[]> {
    let read = this.reads.get(arn)
    if (!read) {
      read = this.api.describeTaskDefinition(arn, 'keep-revisions', this.signal).then(found => found.tags)
      read.catch(() => this.reads.delete(arn))
      this.reads.set(arn, read)
    }
    return read
  }

  /** The newer revision (of `newestFirst`) whose previous-task-definition tag names `name`, if any: a service ran `name`, then it. */
  async replacedBy(name: string, newestFirst: string[]): Promise<string | undefined> {
    for (const arn of newestFirst) {
      if (revisionNumber(arn) <= revisionNumber(name)) continue
      const previous = previousOf(await this.of(arn).catch(() => []))
      if (previous && shortArn(previous) === name) return shortArn(arn)
    }
    return undefined
  }
}

function previousOf(tags: Tag[]): string | undefined {
  return tags.find(tag => tag.key === PREVIOUS_TAG)?.value
}

function familyOf(arn: string): string {
  return shortArn(arn).replace(/:\d+$/, '')
}

function formatAge(ms: number): string {
  const minutes = Math.round(ms / 60_000)
  return minutes < 120 ? `${minutes} min` : `${Math.round(minutes / 60)} h`
}

function clip(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim()
  return line.length > 200 ? `${line.slice(0, 200)}…` : line
}
