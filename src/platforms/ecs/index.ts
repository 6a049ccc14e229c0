import * as core from '@actions/core'
import type { Service, TaskDefinition } from '@aws-sdk/client-ecs'
import type { Progress } from '../../rollout/progress.js'
import { UserError } from '../../errors.js'
import { formatImageReference, parseImageReference, versionOf } from '../../render/image.js'
import { templateValues, substitute } from '../../render/placeholders.js'
import { parseDocuments, type SourceDocument } from '../../render/source.js'
import { renderTaskDefinition, withTags, type TaskDefinitionInput } from '../../render/task-definition.js'
import { readTemplateFile, TASK_DEFINITION_LIMIT } from '../../render/template-file.js'
import type { DeployRequest } from '../../request.js'
import type { Plan, Platform, Rendered } from '../../rollout/platform.js'
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

// ECS has no dry run of RegisterTaskDefinition or UpdateService: say what was checked, and no more.
const ECS_CHECKS = 'the template, the service, its deployment controller and the task definitions were checked against ECS (ECS itself has no dry run of a deployment)'

/** `cancel`, the run's cancellation, ends every ECS call the platform makes, from prepare on. */
export function createEcsPlatform(request: DeployRequest, client = new EcsApi(request.ecs.cluster), cancel?: AbortSignal, codeDeploy?: CodeDeployApi): Platform {
  const { service } = request
  const api = cancel ? client.cancelOn(cancel) : client
  if (request.services.length > 1) return severalServices(request, api, cancel)

  /** The template, rendered; the live task definition stands in when there is no template file. */
  async function renderFrom(live?: TaskDefinition): Promise<Rendered & { taskDefinition: TaskDefinitionInput }> {
    const source = request.template ? await templateDocument(request) : liveDocument(live!)
    const { taskDefinition, images } = renderTaskDefinition(source, request, { strict: Boolean(request.template) })
    const fileName = `${taskDefinition.family}-task-definition.json`
    return { taskDefinition, images, fileName, ...texts(taskDefinition) }
  }

  /** The service and the task definition it runs; `deployable` refuses what UpdateService would. */
  async function liveService(options: { deployable: boolean }): Promise<{ current: Service; live: TaskDefinition }> {
    const current = await api.describeService(service)
    if (current.status !== 'ACTIVE') {
      throw new UserError({ input: 'service', message: `ECS service '${service}' is ${current.status}, not ACTIVE: it cannot be deployed to` })
    }
    if (options.deployable) refuseOtherControllers(service, current)
    if (!current.taskDefinition) throw new UserError({ input: 'service', message: `ECS service '${service}' runs no task definition` })
    return { current, live: (await api.describeTaskDefinition(current.taskDefinition, 'service')).taskDefinition }
  }

  async function liveTaskDefinition(): Promise<TaskDefinition> {
    return (await liveService({ deployable: false })).live
  }

  /** desired-count 0 (or a service at 0 and no desired-count): the deploy succeeds with nothing running. */
  function warnIfNothingRuns(current: Service): string {
    const desired = request.ecs.desiredCount ?? current.desiredCount
    if (desired !== 0) return ''
    const why = request.ecs.desiredCount === 0 ? "'desired-count' is 0" : `service '${service}' has a desired count of 0`
    const warning = `${why}: no task of the new revision will run, so the deploy proves nothing about it; set 'desired-count' to run some`
    core.warning(warning)
    return `; warning: ${warning}`
  }

  return {
    name: 'ecs',

    async render() {
      // A template renders without the network; only an image-only change reads the live definition.
      return renderFrom(request.template ? undefined : await liveTaskDefinition())
    },

    async prepareDeploy(): Promise<Plan> {
      // Template problems first: they need no network and are the likeliest mistakes.
      const fromTemplate = request.template ? await renderFrom() : undefined
      const { current, live } = await liveService({ deployable: true })
      const rendered = fromTemplate ?? (await renderFrom(live))
      // Loaded only for Express services (DescribeServices says resourceManagementType ECS).
      if (current.resourceManagementType === 'ECS') {
        return (await import('./express/index.js')).planExpress({ request, api, service: current, live, rendered, checkedBy: ECS_CHECKS })
      }
      const previous = live.taskDefinitionArn!
      // The image that ran before is the live one, whatever the template says (it may hold ${IMAGE_TAG}).
      const changes = rendered.images.map(change => ({ ...change, previous: live.containerDefinitions?.find(c => c.name === change.container)?.image ?? '' }))
      const definition = withTags(rendered.taskDefinition, {
        'deploy-service:commit': request.github.sha,
        'deploy-service:run': request.github.runUrl
      })
      const images = changes.map(i => `${i.container}: ${i.previous || '(new container)'} -> ${i.next}`).join('; ')
      const nothingRuns = warnIfNothingRuns(current)
      // One registration per deploy: the pre-deploy task runs from the revision that apply deploys.
      // Registered in apply (no pre-deploy step), it records what runs then; before the pre-deploy
      // task, what ran at prepare, which apply corrects (rollbackTarget) when another deploy landed since.
      let registration: Promise<TaskDefinition> | undefined
      const register = (signal: AbortSignal, before = previous): Promise<TaskDefinition> =>
        (registration ??= api.registerTaskDefinition(withTags(definition, { [PREVIOUS_TAG]: before }) as never, signal))
      /**
       * What runs right before our apply, read again after the pre-deploy step: a deploy that landed
       * during a long migration is what a rollback of ours must return to, and what the registered
       * revision's PREVIOUS_TAG must name.
       */
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
      if (isCodeDeploy(current)) {
        // Loaded only for CODE_DEPLOY services: a rolling deploy never parses the CodeDeploy client.
        const plan = await (await import('./codedeploy/index.js')).planCodeDeploy({
          request, ecs: api, service: current, codeDeploy, cancel, rendered: { ...rendered, images: changes }, previousRevision: previous, checkedBy: ECS_CHECKS,
          description: `ECS service ${service} (cluster ${request.ecs.cluster}): ${shortArn(previous)} -> a new revision of ${definition.family}; ${images}${nothingRuns}`,
          diff: async () => taskDefinitionDiff(live, definition),
          revisionPreview: `(the new revision of ${definition.family})`,
          revision: async (progress, signal) => {
            const now = await rollbackTarget(progress, signal)
            const registered = await register(signal, now.previous)
            progress.step(`registered task definition ${shortArn(registered.taskDefinitionArn)}`)
            return { taskDefinition: registered.taskDefinitionArn!, previous: now.previous }
          }
        })
        // The pre-deploy task runs from the same registration the CodeDeploy deployment deploys.
        return before ? { ...plan, before } : plan
      }
      // What ECS will do with the change (strategy, bake, hooks, alarms), and whether `timeout` covers it.
      const strategy = describeStrategy(current)
      const tooShort = request.wait && !request.ecs.handOffAt ? timeoutWarning(strategy, request.timeoutMs) : undefined
      if (tooShort) core.warning(tooShort)
      return {
        ...rendered,
        images: changes,
        previousRevision: previous,
        description: `ECS service ${service} (cluster ${request.ecs.cluster}): ${shortArn(previous)} -> a new revision of ${definition.family}; ${images}; ${strategy.line}${nothingRuns}${tooShort ? `; warning: ${tooShort}` : ''}`,
        dryRun: async () => taskDefinitionDiff(live, definition),
        checkedBy: ECS_CHECKS,
        before,
        apply: async (progress, signal) => {
          const registeredBefore = Boolean(registration)
          const now = await rollbackTarget(progress, signal)
          const registered = await register(signal, now.previous)
          progress.step(`${registeredBefore ? 'deploying' : 'registered'} task definition ${shortArn(registered.taskDefinitionArn)}`)
          const rollout = await EcsRollout.start(
            api,
            service,
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
          return rollout
        }
      }
    },

    async prepareContinue(): Promise<Plan> {
      return continuePlan(api, request, await liveService({ deployable: true }))
    },

    async prepareFollow(): Promise<Plan> {
      return followPlan(api, request, await liveService({ deployable: true }))
    },

    async prepareRollback(): Promise<Plan> {
      const { current, live } = await liveService({ deployable: true })
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
  }
}

/** Several services in one step (./group): loaded only when `service` names more than one. */
function severalServices(request: DeployRequest, api: EcsApi, cancel?: AbortSignal): Platform {
  const group = async (): Promise<Platform> => (await import('./group/index.js')).createEcsGroup(request, api, cancel)
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
