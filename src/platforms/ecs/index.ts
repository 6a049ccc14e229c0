import * as core from '@actions/core'
import type { Service, TaskDefinition } from '@aws-sdk/client-ecs'
import type { Progress } from '../../rollout/progress.js'
import { UserError } from '../../errors.js'
import type { ImageChange } from '../../render/containers.js'
import { formatImageReference, parseImageReference, versionOf } from '../../render/image.js'
import { templateValues, substitute } from '../../render/placeholders.js'
import { parseDocuments, type SourceDocument } from '../../render/source.js'
import { renderTaskDefinition, withTags, type TaskDefinitionInput } from '../../render/task-definition.js'
import { readTemplateFile, TASK_DEFINITION_LIMIT } from '../../render/template-file.js'
import type { DeployRequest } from '../../request.js'
import type { BeforeStep, Plan, Platform, Rendered } from '../../rollout/platform.js'
import { shortArn } from './assess.js'
import { EcsApi } from './client.js'
import { redactEnvironment, taskDefinitionDiff } from './diff.js'
import { resolveRollbackTarget, PREVIOUS_TAG } from './revisions.js'
import { preDeployTask } from './one-off/index.js'
import { EcsRollout } from './rollout.js'
import { proveStillRuns, whoDeployed } from './ownership.js'
import { ifOurs } from '../../rollout/ownership.js'
import type { CodeDeployApi } from './codedeploy/client.js'
import { describeStrategy, timeoutWarning } from './service-deployment/assess.js'
import { continuePlan, rollbackInFlightPlan } from './service-deployment/modes.js'
import { followPlan } from './handoff/follow.js'
import { liveLogSettings } from './logs/live.js'
import { regionOf } from './logs/cloudwatch.js'

// ECS has no dry run of RegisterTaskDefinition or UpdateService: say what was checked, and no more.
const ECS_CHECKS = 'the template, the service, its deployment controller and the task definitions were checked against ECS (ECS itself has no dry run of a deployment)'

/** What every step of a plan works with: the request, the ECS calls, the run's cancellation, a CodeDeploy client (tests give one). */
interface Ecs {
  request: DeployRequest
  api: EcsApi
  cancel?: AbortSignal
  codeDeploy?: CodeDeployApi
}

/** The service as prepare read it, and the task definition it runs. */
interface LiveService {
  current: Service
  live: TaskDefinition
}

type RenderedDefinition = Rendered & { taskDefinition: TaskDefinitionInput }

/** `cancel`, the run's cancellation, ends every ECS call the platform makes, from prepare on. */
export function createEcsPlatform(request: DeployRequest, client = new EcsApi(request.ecs.cluster), cancel?: AbortSignal, codeDeploy?: CodeDeployApi): Platform {
  const api = cancel ? client.cancelOn(cancel) : client
  if (request.services.length > 1) return severalServices(request, api, cancel)
  const ecs: Ecs = { request, api, cancel, codeDeploy }
  return {
    name: 'ecs',

    async render() {
      // A template renders without the network; only an image-only change reads the live definition.
      return renderFrom(request, request.template ? undefined : (await liveService(ecs, { deployable: false })).live)
    },

    async prepareDeploy(): Promise<Plan> {
      // Template problems first: they need no network and are the likeliest mistakes.
      const fromTemplate = request.template ? await renderFrom(request) : undefined
      const service = await liveService(ecs, { deployable: true })
      const rendered = fromTemplate ?? (await renderFrom(request, service.live))
      // Loaded only for Express services (DescribeServices says resourceManagementType ECS).
      if (service.current.resourceManagementType === 'ECS') {
        return (await import('./express/index.js')).planExpress({ request, api, service: service.current, live: service.live, rendered, checkedBy: ECS_CHECKS })
      }
      const revision = newRevision(ecs, service, rendered)
      if (isCodeDeploy(service.current)) return codeDeployPlan(ecs, service, rendered, revision)
      const strategy = planStrategy(request, service.current)
      return {
        ...rendered,
        images: revision.changes,
        previousRevision: revision.previous,
        description: `${revision.summary}; ${strategy.line}${revision.nothingRuns}${strategy.tooShort ? `; warning: ${strategy.tooShort}` : ''}`,
        dryRun: async () => taskDefinitionDiff(service.live, revision.definition),
        checkedBy: ECS_CHECKS,
        before: revision.before,
        apply: applyRevision(ecs, revision)
      }
    },

    async prepareContinue(): Promise<Plan> {
      return continuePlan(api, request, await liveService(ecs, { deployable: true }))
    },

    async prepareFollow(): Promise<Plan> {
      return followPlan(api, request, await liveService(ecs, { deployable: true }))
    },

    async prepareRollback(): Promise<Plan> {
      return rollbackPlan(ecs, await liveService(ecs, { deployable: true }))
    }
  }
}

/** The template, rendered; the live task definition stands in when there is no template file. */
async function renderFrom(request: DeployRequest, live?: TaskDefinition): Promise<RenderedDefinition> {
  const source = request.template ? await templateDocument(request) : liveDocument(live!)
  const { taskDefinition, images } = renderTaskDefinition(source, request, { strict: Boolean(request.template) })
  const fileName = `${taskDefinition.family}-task-definition.json`
  return { taskDefinition, images, fileName, ...texts(taskDefinition) }
}

/** The service and the task definition it runs; `deployable` refuses what UpdateService would. */
async function liveService({ request, api }: Ecs, options: { deployable: boolean }): Promise<LiveService> {
  const { service } = request
  const current = await api.describeService(service)
  if (current.status !== 'ACTIVE') {
    throw new UserError({ input: 'service', message: `ECS service '${service}' is ${current.status}, not ACTIVE: it cannot be deployed to` })
  }
  if (options.deployable) refuseOtherControllers(service, current)
  if (!current.taskDefinition) throw new UserError({ input: 'service', message: `ECS service '${service}' runs no task definition` })
  return { current, live: (await api.describeTaskDefinition(current.taskDefinition, 'service')).taskDefinition }
}

/** The revision a deploy registers (once), and what a plan says of it. */
interface NewRevision {
  /** The task definition the service runs at prepare. */
  previous: string
  definition: TaskDefinitionInput
  changes: ImageChange[]
  /** "ECS service web (cluster c): web:3 -> a new revision of web; images". */
  summary: string
  /** The warning when nothing of the new revision will run, or ''. */
  nothingRuns: string
  before?: BeforeStep
  /** Whether it was registered already (before the pre-deploy task). */
  registered(): boolean
  register(signal: AbortSignal, before?: string): Promise<TaskDefinition>
  /**
   * What runs right before our apply, read again after the pre-deploy step: a deploy that landed
   * during a long migration is what a rollback of ours must return to, and what the registered
   * revision's PREVIOUS_TAG must name.
   */
  rollbackTarget(progress: Progress, signal: AbortSignal): Promise<{ service: Service; previous: string }>
}

function newRevision(ecs: Ecs, { current, live }: LiveService, rendered: RenderedDefinition): NewRevision {
  const { request, api } = ecs
  const { service } = request
  const previous = live.taskDefinitionArn!
  // The image that ran before is the live one, whatever the template says (it may hold ${IMAGE_TAG}).
  const changes = rendered.images.map(change => ({ ...change, previous: live.containerDefinitions?.find(c => c.name === change.container)?.image ?? '' }))
  const definition = withTags(rendered.taskDefinition, {
    'deploy-service:commit': request.github.sha,
    'deploy-service:run': request.github.runUrl
  })
  const images = changes.map(i => `${i.container}: ${i.previous || '(new container)'} -> ${i.next}`).join('; ')
  const nothingRuns = warnIfNothingRuns(request, current)
  // One registration per deploy: the pre-deploy task runs from the revision that apply deploys.
  // Registered in apply (no pre-deploy step), it records what runs then; before the pre-deploy
  // task, what ran at prepare, which apply corrects (rollbackTarget) when another deploy landed since.
  let registration: Promise<TaskDefinition> | undefined
  const register = (signal: AbortSignal, before = previous): Promise<TaskDefinition> =>
    (registration ??= api.registerTaskDefinition(withTags(definition, { [PREVIOUS_TAG]: before }) as never, signal))
  const rollbackTarget = async (progress: Progress, signal: AbortSignal): Promise<{ service: Service; previous: string }> => {
    const now = await api.describeService(service, signal)
    const running = now.taskDefinition ?? previous
    // A service may name it by family:revision rather than by ARN.
    if (shortArn(running) === shortArn(previous)) return { service: now, previous }
    const who = await whoDeployed(api, running, signal)
    progress.step(`service ${service} moved from ${shortArn(previous)} to ${shortArn(running)} since the plan was made (${who}): a rollback of this deploy returns to ${shortArn(running)}`)
    if (registration) {
      const registered = await registration
      await api.tagTaskDefinition(registered.taskDefinitionArn!, [{ key: PREVIOUS_TAG, value: running }], signal)
    }
    return { service: now, previous: running }
  }
  const before = request.preDeploy ? preDeployTask({ api, request, service: current, definition, images: changes, register }) : undefined
  return {
    previous, definition, changes, nothingRuns, before, register, rollbackTarget,
    summary: `ECS service ${service} (cluster ${request.ecs.cluster}): ${shortArn(previous)} -> a new revision of ${definition.family}; ${images}`,
    registered: () => Boolean(registration)
  }
}

/** desired-count 0 (or a service at 0 and no desired-count): the deploy succeeds with nothing running. */
function warnIfNothingRuns(request: DeployRequest, current: Service): string {
  const desired = request.ecs.desiredCount ?? current.desiredCount
  if (desired !== 0) return ''
  const why = request.ecs.desiredCount === 0 ? "'desired-count' is 0" : `service '${request.service}' has a desired count of 0`
  const warning = `${why}: no task of the new revision will run, so the deploy proves nothing about it; set 'desired-count' to run some`
  core.warning(warning)
  return `; warning: ${warning}`
}

/** What ECS will do with the change (strategy, bake, hooks, alarms), and whether `timeout` covers it. */
function planStrategy(request: DeployRequest, current: Service): { line: string; tooShort?: string } {
  const strategy = describeStrategy(current)
  const tooShort = request.wait && !request.ecs.handOffAt ? timeoutWarning(strategy, request.timeoutMs) : undefined
  if (tooShort) core.warning(tooShort)
  return { line: strategy.line, tooShort }
}

/** Registers the revision (unless the pre-deploy step did), then UpdateService, and follows it. */
function applyRevision({ request, api }: Ecs, revision: NewRevision): Plan['apply'] {
  return async (progress, signal) => {
    const registeredBefore = revision.registered()
    const now = await revision.rollbackTarget(progress, signal)
    const registered = await revision.register(signal, now.previous)
    progress.step(`${registeredBefore ? 'deploying' : 'registered'} task definition ${shortArn(registered.taskDefinitionArn)}`)
    const rollout = await EcsRollout.start(
      api,
      request.service,
      { taskDefinition: registered.taskDefinitionArn!, desiredCount: request.ecs.desiredCount, forceNewDeployment: request.ecs.forceNewDeployment },
      now.previous,
      progress,
      signal,
      now.service.currentServiceDeployment
    )
    rollout.keepRevisions = request.ecs.keepRevisions
    rollout.updateScheduledTasks = request.ecs.updateScheduledTasks
    rollout.onPause = request.ecs.onPause
    rollout.handOffAt = request.ecs.handOffAt
    rollout.verifies = Boolean(request.verify)
    rollout.liveLogs = liveLogSettings(request.ecs.followLogs ?? 'one', registered, request.service, revision.changes.map(c => c.container), regionOf(now.service.serviceArn))
    return rollout
  }
}

/** A CODE_DEPLOY service's deploy, through CodeDeploy (./codedeploy, loaded only for such services). */
async function codeDeployPlan({ request, api, cancel, codeDeploy }: Ecs, { current, live }: LiveService, rendered: RenderedDefinition, revision: NewRevision): Promise<Plan> {
  const plan = await (await import('./codedeploy/index.js')).planCodeDeploy({
    request, ecs: api, service: current, codeDeploy, cancel, rendered: { ...rendered, images: revision.changes }, previousRevision: revision.previous, checkedBy: ECS_CHECKS,
    description: `${revision.summary}${revision.nothingRuns}`,
    diff: async () => taskDefinitionDiff(live, revision.definition),
    revisionPreview: `(the new revision of ${revision.definition.family})`,
    revision: async (progress, signal) => {
      const now = await revision.rollbackTarget(progress, signal)
      const registered = await revision.register(signal, now.previous)
      progress.step(`registered task definition ${shortArn(registered.taskDefinitionArn)}`)
      return { taskDefinition: registered.taskDefinitionArn!, previous: now.previous }
    }
  })
  // The pre-deploy task runs from the same registration the CodeDeploy deployment deploys.
  return revision.before ? { ...plan, before: revision.before } : plan
}

/** mode: rollback, to `to-revision` or the previous revision; a service deployment in flight is rolled back by ECS. */
async function rollbackPlan(ecs: Ecs, { current, live }: LiveService): Promise<Plan> {
  const { request, api, cancel, codeDeploy } = ecs
  const { service } = request
  // A service deployment in flight is rolled back by ECS itself, not replaced by another update
  // (CODE_DEPLOY services roll back through CodeDeploy, below).
  const inFlight = isCodeDeploy(current) ? undefined : await rollbackInFlightPlan(api, request, { current, live })
  if (inFlight) return inFlight
  if (current.resourceManagementType === 'ECS') {
    throw new UserError({ input: 'mode', message: `ECS Express service '${service}' has no service deployment in flight to roll back, and an UpdateService would bypass Express: deploy the previous image with mode 'deploy' and its 'image-tag'` })
  }
  const previous = live.taskDefinitionArn!
  const target = await resolveRollbackTarget(api, live, request.toRevision)
  const { taskDefinition } = await api.describeTaskDefinition(target, 'to-revision')
  const images = (taskDefinition.containerDefinitions ?? []).map(c => {
    const before = live.containerDefinitions?.find(l => l.name === c.name)?.image ?? ''
    return { container: c.name ?? '', previous: before, next: c.image ?? '' }
  })
  if (isCodeDeploy(current)) {
    return (await import('./codedeploy/index.js')).planCodeDeploy({
      request, ecs: api, service: current, codeDeploy, cancel, previousRevision: previous, checkedBy: ECS_CHECKS, revisionPreview: target,
      rendered: { ...texts(taskDefinition), fileName: `${taskDefinition.family}-task-definition.json`, images: images.filter(i => i.previous !== i.next) },
      description: `ECS service ${service} (cluster ${request.ecs.cluster}): roll back ${shortArn(previous)} -> ${shortArn(target)}`,
      diff: async () => taskDefinitionDiff(live, taskDefinition as TaskDefinitionInput),
      revision: async () => ({ taskDefinition: target, previous })
    })
  }
  return {
    ...texts(taskDefinition),
    fileName: `${taskDefinition.family}-task-definition.json`,
    images: images.filter(i => i.previous !== i.next),
    previousRevision: previous,
    description: `ECS service ${service} (cluster ${request.ecs.cluster}): roll back ${shortArn(previous)} -> ${shortArn(target)}`,
    dryRun: async () => taskDefinitionDiff(live, taskDefinition as TaskDefinitionInput),
    checkedBy: ECS_CHECKS,
    // Read again right before the update: what runs must still be what the plan rolls back.
    apply: async (progress, signal) => {
      const rollout = await ifOurs(`roll back service ${service} to ${shortArn(target)}`, () => proveStillRuns(api, service, previous, signal), owned =>
        EcsRollout.restore(api, owned, target, previous, progress, signal, current.currentServiceDeployment, request.ecs.desiredCount))
      // The scheduled tasks go back with the service, once it is healthy on the target.
      rollout.updateScheduledTasks = request.ecs.updateScheduledTasks
      return rollout
    }
  }
}

/**
 * Several services in one step (./group): loaded only when `service` names more than one. Each member
 * is planned as a platform of its own (createEcsPlatform, handed over so that ./group needs no import of this file).
 */
function severalServices(request: DeployRequest, api: EcsApi, cancel?: AbortSignal): Platform {
  const group = async (): Promise<Platform> => (await import('./group/index.js')).createEcsGroup(request, api, cancel, createEcsPlatform)
  return {
    name: 'ecs',
    render: async () => (await group()).render(),
    prepareDeploy: async () => (await group()).prepareDeploy(),
    prepareRollback: async () => (await group()).prepareRollback()
  }
}

/** The rendered file's text, and the same with environment values hashed for the log and summary. */
function texts(taskDefinition: object): { text: string; redactedText: string } {
  return { text: `${JSON.stringify(taskDefinition, null, 2)}\n`, redactedText: `${JSON.stringify(redactEnvironment(taskDefinition), null, 2)}\n` }
}

/**
 * Only the ECS deployment controller takes a new task definition through UpdateService; CODE_DEPLOY
 * services go through CodeDeploy (./codedeploy); EXTERNAL ones are refused in prepare (the dry run
 * too), before anything is registered.
 */
function refuseOtherControllers(service: string, current: Service): void {
  const controller = current.deploymentController?.type ?? 'ECS'
  if (controller === 'EXTERNAL') {
    throw new UserError({
      input: 'service',
      message: `ECS service '${service}' uses the EXTERNAL deployment controller: its tasks run in task sets that another tool manages, and this action cannot deploy task sets; deploy it with that tool (CreateTaskSet / UpdateServicePrimaryTaskSet), or move the service to the ECS controller, whose ROLLING, BLUE_GREEN, LINEAR and CANARY strategies this action follows; nothing was registered`
    })
  }
}

function isCodeDeploy(service: Service): boolean {
  return service.deploymentController?.type === 'CODE_DEPLOY'
}

async function templateDocument(request: DeployRequest): Promise<SourceDocument> {
  const file = request.template!
  const text = await readTemplateFile(file, TASK_DEFINITION_LIMIT)
  const image = request.image
  const parsed = image ? parseImageReference(image) : undefined
  const imageTag = request.imageVersion
    ? 'tag' in request.imageVersion ? request.imageVersion.tag : request.imageVersion.digest
    : image ? versionOf(image) : undefined
  const values = templateValues(request, {
    image: parsed && typeof parsed !== 'string' ? formatImageReference(parsed) : undefined,
    imageTag,
    cluster: request.ecs.cluster
  })
  const documents = parseDocuments(substitute(text, file, values), file)
  if (documents.length !== 1) {
    throw new UserError({ input: 'template', location: { file, line: 1 }, message: `an ECS template holds one task definition; this file has ${documents.length} documents` })
  }
  return documents[0]
}

function liveDocument(live: TaskDefinition): SourceDocument {
  const file = `live task definition ${shortArn(live.taskDefinitionArn)}`
  return { file, index: 0, value: live, locate: () => ({ file, line: 1 }) }
}
