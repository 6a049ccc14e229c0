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
  const taskDefinition = { ...(definition as TaskDefinitionInput), containerDefinitions }
  const tooLarge = sizeProblem(taskDefinition)
  if (tooLarge) throw new UserError({ input: 'template', location: source.locate(prefix), message: tooLarge })
  return { taskDefinition, images }
}

/** ECS refuses a task definition larger than 64 KiB (its size as the JSON of the RegisterTaskDefinition request). */
export const TASK_DEFINITION_MAX_BYTES = 64 * 1024

/** Why ECS would refuse the task definition for its size, naming what takes the room; undefined when it fits. */
export function sizeProblem(definition: TaskDefinitionInput): string | undefined {
  const bytes = jsonBytes(definition)
  if (bytes <= TASK_DEFINITION_MAX_BYTES) return undefined
  const parts = definition.containerDefinitions.map(container => ({ name: `container '${container.name}'`, bytes: jsonBytes(container) }))
  for (const [key, value] of Object.entries(definition)) if (key !== 'containerDefinitions') parts.push({ name: `'${key}'`, bytes: jsonBytes(value) })
  const largest = parts.sort((a, b) => b.bytes - a.bytes)[0]
  return (
    `the task definition is ${kib(bytes)} as JSON, and ECS accepts at most 64 KiB; ${largest.name} takes ${kib(largest.bytes)}. ` +
    'Move large values out of it (environment values into Secrets Manager or SSM parameters with `secrets`, files into the image)'
  )
}

function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8')
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`
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
