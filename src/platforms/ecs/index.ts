import type { TaskDefinition } from '@aws-sdk/client-ecs'
import { UserError } from '../../errors.js'
import { formatImageReference, parseImageReference, versionOf } from '../../render/image.js'
import { templateValues, substitute } from '../../render/placeholders.js'
import { parseDocuments, type SourceDocument } from '../../render/source.js'
import { renderTaskDefinition, withTags, type TaskDefinitionInput } from '../../render/task-definition.js'
import { readTemplateFile } from '../../render/template-file.js'
import type { DeployRequest } from '../../request.js'
import type { Plan, Platform, Rendered } from '../platform.js'
import { shortArn } from './assess.js'
import { EcsApi } from './client.js'
import { taskDefinitionDiff } from './diff.js'
import { resolveRollbackTarget, PREVIOUS_TAG } from './revisions.js'
import { EcsRollout } from './rollout.js'

export function createEcsPlatform(request: DeployRequest, api = new EcsApi(request.ecs.cluster)): Platform {
  const { service } = request

  /** The template, rendered; the live task definition stands in when there is no template file. */
  async function renderFrom(live?: TaskDefinition): Promise<Rendered & { taskDefinition: TaskDefinitionInput }> {
    const source = request.template ? await templateDocument(request) : liveDocument(live!)
    const { taskDefinition, images } = renderTaskDefinition(source, request, { strict: Boolean(request.template) })
    const fileName = `${taskDefinition.family}-task-definition.json`
    const text = `${JSON.stringify(taskDefinition, null, 2)}\n`
    return { taskDefinition, images, fileName, text, redactedText: text }
  }

  async function liveTaskDefinition(): Promise<TaskDefinition> {
    const current = await api.describeService(service)
    if (current.status !== 'ACTIVE') {
      throw new UserError({ input: 'service', message: `ECS service '${service}' is ${current.status}, not ACTIVE: it cannot be deployed to` })
    }
    if (!current.taskDefinition) throw new UserError({ input: 'service', message: `ECS service '${service}' runs no task definition` })
    return (await api.describeTaskDefinition(current.taskDefinition, 'service')).taskDefinition
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
      const live = await liveTaskDefinition()
      const rendered = fromTemplate ?? (await renderFrom(live))
      const previous = live.taskDefinitionArn!
      const definition = withTags(rendered.taskDefinition, {
        'deploy-service:commit': request.github.sha,
        'deploy-service:run': request.github.runUrl,
        [PREVIOUS_TAG]: previous
      })
      const images = rendered.images.map(i => `${i.container}: ${i.previous} -> ${i.next}`).join('; ')
      return {
        ...rendered,
        previousRevision: previous,
        description: `ECS service ${service} (cluster ${request.ecs.cluster}): ${shortArn(previous)} -> a new revision of ${definition.family}; ${images}`,
        dryRun: async () => taskDefinitionDiff(live, definition),
        apply: async progress => {
          const registered = await api.registerTaskDefinition(definition as never)
          progress.step(`registered task definition ${shortArn(registered.taskDefinitionArn)}`)
          const rollout = await EcsRollout.start(
            api,
            service,
            { taskDefinition: registered.taskDefinitionArn!, desiredCount: request.ecs.desiredCount, forceNewDeployment: request.ecs.forceNewDeployment },
            previous,
            progress
          )
          rollout.keepRevisions = request.ecs.keepRevisions
          return rollout
        }
      }
    },

    async prepareRollback(): Promise<Plan> {
      const live = await liveTaskDefinition()
      const previous = live.taskDefinitionArn!
      const target = await resolveRollbackTarget(api, live, request.toRevision)
      const { taskDefinition } = await api.describeTaskDefinition(target, 'to-revision')
      const images = (taskDefinition.containerDefinitions ?? []).map(c => {
        const before = live.containerDefinitions?.find(l => l.name === c.name)?.image ?? ''
        return { container: c.name ?? '', previous: before, next: c.image ?? '' }
      })
      const text = `${JSON.stringify(taskDefinition, null, 2)}\n`
      return {
        text,
        redactedText: text,
        fileName: `${taskDefinition.family}-task-definition.json`,
        images: images.filter(i => i.previous !== i.next),
        previousRevision: previous,
        description: `ECS service ${service} (cluster ${request.ecs.cluster}): roll back ${shortArn(previous)} -> ${shortArn(target)}`,
        dryRun: async () => taskDefinitionDiff(live, taskDefinition as TaskDefinitionInput),
        apply: progress => EcsRollout.start(api, service, { taskDefinition: target, desiredCount: request.ecs.desiredCount }, previous, progress)
      }
    }
  }
}

async function templateDocument(request: DeployRequest): Promise<SourceDocument> {
  const file = request.template!
  const text = await readTemplateFile(file)
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
