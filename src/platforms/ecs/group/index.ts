// `service` naming several ECS services (a monorepo's api, worker, scheduler): each is validated and
// rendered as a deploy of it alone would be, services on one task-definition family share one
// registration, each service is updated, and the group is followed as one rollout (./rollout.ts).
import type { TaskDefinitionInput } from '../../../render/task-definition.js'
import { withTags } from '../../../render/task-definition.js'
import type { ImageChange } from '../../../render/containers.js'
import { UserError } from '../../../errors.js'
import type { DeployRequest } from '../../../request.js'
import type { Plan, Platform, Rendered } from '../../../rollout/platform.js'
import type { Progress } from '../../../rollout/progress.js'
import { shortArn } from '../assess.js'
import type { EcsApi } from '../client.js'
import { pruneRevisions, reportPruned, PREVIOUS_TAG } from '../revisions.js'
import { EcsRollout } from '../rollout.js'
import { BatchedEcsApi } from './batched-reads.js'
import { GroupRollout, memberRow, type Member } from './rollout.js'

/** One service's own plan: validated and rendered as a deploy of it alone. */
interface ServicePlan {
  service: string
  plan: Plan
  definition: TaskDefinitionInput
}

/** How one service's platform is made: createEcsPlatform in ../index.ts, which loads this room. */
type MemberPlatform = (request: DeployRequest, api: EcsApi, cancel?: AbortSignal) => Platform

export function createEcsGroup(request: DeployRequest, api: EcsApi, cancel: AbortSignal | undefined, memberPlatform: MemberPlatform): Platform {
  const one = (service: string): Platform => memberPlatform({ ...request, service, services: [service] }, api, cancel)

  /** Every service's plan, then the families they share; problems of every service at once. */
  async function plans(): Promise<{ each: ServicePlan[]; families: Map<string, ServicePlan[]> }> {
    const each: ServicePlan[] = []
    for (const service of request.services) {
      const current = await api.describeService(service)
      if (current.deploymentController?.type === 'CODE_DEPLOY') {
        throw new UserError({ input: 'service', message: `ECS service '${service}' deploys through CodeDeploy, which this action follows one service at a time: deploy it in a step of its own; nothing was registered` })
      }
      const plan = await one(service).prepareDeploy()
      each.push({ service, plan, definition: JSON.parse(plan.text) as TaskDefinitionInput })
    }
    const families = new Map<string, ServicePlan[]>()
    for (const p of each) families.set(p.definition.family, [...(families.get(p.definition.family) ?? []), p])
    for (const [family, members] of families) {
      const differ = members.find(m => m.plan.text !== members[0]!.plan.text)
      if (differ) {
        throw new UserError({
          input: 'service',
          message: `services '${members[0]!.service}' and '${differ.service}' share task-definition family '${family}' but render to different task definitions ` +
            `(their live revisions differ, or the template uses \${SERVICE}); one registration serves a family: give a 'template' that renders the same for them, or deploy them in separate steps; nothing was registered`
        })
      }
    }
    return { each, families }
  }

  return {
    name: 'ecs',

    async render(): Promise<Rendered> {
      const rendered = await Promise.all(request.services.map(service => one(service).render()))
      return combine(rendered)
    },

    async prepareDeploy(): Promise<Plan> {
      const { each, families } = await plans()
      const combined = combine(each.map(p => p.plan))
      return {
        ...combined,
        previousRevision: distinct(each.map(p => p.plan.previousRevision ?? '')),
        description: `${each.length} ECS services, ${families.size} task-definition ${families.size === 1 ? 'family' : 'families'} (one registration each): ${each.map(p => p.plan.description).join('; ')}`,
        checkedBy: each[0]!.plan.checkedBy,
        dryRun: async () => (await Promise.all(each.map(async p => `# service ${p.service}\n${await p.plan.dryRun()}`))).join('\n'),
        apply: (progress, signal) => applyGroup(request, api, families, each, progress, signal)
      }
    },

    async prepareRollback(): Promise<Plan> {
      throw new UserError({ input: 'service', message: `mode 'rollback' acts on one service; 'service' names ${request.services.length}: name one` })
    }
  }
}

async function applyGroup(request: DeployRequest, api: EcsApi, families: Map<string, ServicePlan[]>, each: ServicePlan[], progress: Progress, signal: AbortSignal): Promise<GroupRollout> {
  // What each service runs right before our update: what its rollback returns to.
  const now = new Map(await Promise.all(each.map(async p => [p.service, await api.describeService(p.service, signal)] as const)))
  const registered = new Map<string, string>()
  for (const [family, members] of families) {
    const previous = [...new Set(members.map(m => now.get(m.service)!.taskDefinition ?? ''))]
    // The rollback target a later `mode: rollback` reads: only when every service of the family ran the same one.
    const definition = withTags(members[0]!.definition, {
      'deploy-service:commit': request.github.sha,
      'deploy-service:run': request.github.runUrl,
      ...(previous.length === 1 ? { [PREVIOUS_TAG]: previous[0]! } : {})
    })
    const arn = (await api.registerTaskDefinition(definition as never, signal)).taskDefinitionArn!
    registered.set(family, arn)
    progress.step(`registered task definition ${shortArn(arn)} for ${members.map(m => m.service).join(', ')}`)
  }
  const reads = new BatchedEcsApi(api)
  const members: Member[] = []
  for (const p of each) {
    const arn = registered.get(p.definition.family)!
    const current = now.get(p.service)!
    const previous = current.taskDefinition ?? p.plan.previousRevision ?? ''
    const member: Member = { service: p.service, row: memberRow(p.service, arn, previous) }
    members.push(member)
    try {
      member.rollout = await EcsRollout.start(reads, p.service,
        { taskDefinition: arn, desiredCount: request.ecs.desiredCount, forceNewDeployment: request.ecs.forceNewDeployment },
        previous, progress, signal, current.currentServiceDeployment)
      member.rollout.onPause = request.ecs.onPause
    } catch (error) {
      // Not changed: nothing of it to roll back; the others are followed, and the verdict says it.
      if (signal.aborted) throw error
      member.outcome = { state: 'failed', reason: `its UpdateService failed: ${error instanceof Error ? error.message : String(error)}` }
    }
  }
  const arns = [...new Set(registered.values())]
  const group = new GroupRollout(members, {
    revision: arns.join(','),
    label: `${each.map(p => p.service).join(', ')} (${arns.map(a => shortArn(a)).join(', ')})`,
    previousRevision: distinct(members.map(m => m.row.service.previousRevision))
  })
  const keep = request.ecs.keepRevisions
  if (keep !== undefined) {
    group.afterSuccess = async progress => {
      // One prune per family, keeping every member's rollback target.
      for (const [family, ms] of families) {
        const targets = ms.map(m => now.get(m.service)!.taskDefinition ?? '').filter(Boolean)
        reportPruned(progress, keep, await pruneRevisions(api, family, keep, targets))
      }
    }
  }
  return group
}

/** Several renderings as one: one file per family when they share it, else a JSON list of them. */
function combine(rendered: Rendered[]): Rendered {
  const byText = new Map(rendered.map(r => [r.text, r]))
  const unique = [...byText.values()]
  const images = new Map<string, ImageChange>()
  for (const r of rendered) for (const i of r.images) images.set(`${i.container}\n${i.previous}\n${i.next}`, i)
  if (unique.length === 1) return { ...unique[0]!, images: [...images.values()] }
  return {
    text: `[\n${unique.map(r => r.text.trimEnd()).join(',\n')}\n]\n`,
    redactedText: `[\n${unique.map(r => r.redactedText.trimEnd()).join(',\n')}\n]\n`,
    fileName: 'services-task-definitions.json',
    images: [...images.values()]
  }
}

function distinct(values: string[]): string {
  return [...new Set(values.filter(Boolean))].join(',')
}
