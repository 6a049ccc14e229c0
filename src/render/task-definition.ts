import { ProblemList, UserError } from '../errors.js'
import { chooseContainers, nextImage, type ContainerRef, type ImageChange } from './containers.js'
import type { SourceDocument } from './source.js'
import type { DeployRequest } from '../request.js'

/** A task definition as RegisterTaskDefinition takes it (kept loose: ECS adds fields often). */
export type TaskDefinitionInput = Record<string, unknown> & {
  family: string
  containerDefinitions: Array<Record<string, unknown> & { name: string; image: string }>
  tags?: Array<{ key: string; value: string }>
}

/** Fields DescribeTaskDefinition returns that RegisterTaskDefinition refuses. */
const READ_ONLY = [
  'taskDefinitionArn',
  'revision',
  'status',
  'requiresAttributes',
  'compatibilities',
  'registeredAt',
  'registeredBy',
  'deregisteredAt',
  'deleteRequested'
]

const REGISTERABLE = [
  'family',
  'taskRoleArn',
  'executionRoleArn',
  'networkMode',
  'containerDefinitions',
  'volumes',
  'placementConstraints',
  'requiresCompatibilities',
  'cpu',
  'memory',
  'tags',
  'pidMode',
  'ipcMode',
  'proxyConfiguration',
  'inferenceAccelerators',
  'ephemeralStorage',
  'runtimePlatform',
  'enableFaultInjection'
]

export interface RenderedTaskDefinition {
  taskDefinition: TaskDefinitionInput
  images: ImageChange[]
}

/**
 * Pure: turns a template (a parsed file, or the live task definition) into what RegisterTaskDefinition
 * takes, with the new image on the chosen containers only. Problems carry the file position.
 */
export function renderTaskDefinition(
  source: SourceDocument,
  request: Pick<DeployRequest, 'service' | 'containers' | 'image' | 'imageVersion'>,
  options: { strict: boolean } = { strict: true }
): RenderedTaskDefinition {
  const problems = new ProblemList()
  let root = source.value
  let prefix: string[] = []
  if (isObject(root) && isObject(root.taskDefinition)) {
    // The output of `aws ecs describe-task-definition` is accepted as it is.
    prefix = ['taskDefinition']
    root = root.taskDefinition
  }
  if (!isObject(root)) {
    throw new UserError({ input: 'template', location: source.locate([]), message: 'a task definition must be an object with family and containerDefinitions' })
  }
  const definition: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(root)) {
    if (READ_ONLY.includes(key) || (!options.strict && !REGISTERABLE.includes(key))) continue
    if (!REGISTERABLE.includes(key)) {
      problems.add({ input: 'template', location: source.locate([...prefix, key]), message: `'${key}' is not a task-definition field (known: ${REGISTERABLE.join(', ')})` })
      continue
    }
    definition[key] = value
  }
  if (typeof definition.family !== 'string' || definition.family === '') {
    problems.add({ input: 'template', location: source.locate([...prefix, 'family']), message: "'family' is required and must be a string" })
  }
  const containers: ContainerRef[] = []
  const list = definition.containerDefinitions
  if (!Array.isArray(list) || list.length === 0) {
    problems.add({ input: 'template', location: source.locate([...prefix, 'containerDefinitions']), message: "'containerDefinitions' must be a non-empty list" })
  } else {
    list.forEach((container: unknown, index) => {
      const at = [...prefix, 'containerDefinitions', index]
      if (!isObject(container) || typeof container.name !== 'string' || container.name === '') {
        problems.add({ input: 'template', location: source.locate(at), message: `container ${index + 1} needs a 'name'` })
      } else if (typeof container.image !== 'string' || container.image === '') {
        problems.add({ input: 'template', location: source.locate(at), message: `container '${container.name}' needs an 'image'` })
      } else {
        containers.push({ name: container.name, image: container.image, location: source.locate([...at, 'image']) })
      }
    })
  }
  problems.throwIfAny()

  const chosen = chooseContainers(containers, request, `task definition '${String(definition.family)}' (${source.file})`)
  const images = chosen.map(container => ({ container: container.name, previous: container.image, next: nextImage(container.image, request) }))
  const containerDefinitions = (list as TaskDefinitionInput['containerDefinitions']).map(container => {
    const change = images.find(image => image.container === container.name)
    return change ? { ...container, image: change.next } : container
  })
  return { taskDefinition: { ...(definition as TaskDefinitionInput), containerDefinitions }, images }
}

/** A described task definition cut down to what RegisterTaskDefinition takes (for diffs). */
export function toRegisterable(described: object): TaskDefinitionInput {
  const entries = Object.entries(described).filter(([key, value]) => REGISTERABLE.includes(key) && value !== undefined && key !== 'tags')
  return Object.fromEntries(entries) as TaskDefinitionInput
}

/** Adds or replaces tags by key, keeping the others. */
export function withTags(definition: TaskDefinitionInput, tags: Record<string, string>): TaskDefinitionInput {
  const kept = (definition.tags ?? []).filter(tag => !(tag.key in tags))
  const added = Object.entries(tags)
    .filter(([, value]) => value !== '')
    .map(([key, value]) => ({ key, value: value.slice(0, 256) }))
  return { ...definition, tags: [...kept, ...added] }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
