import os from 'node:os'
import { imageVersionProblem, parseImageReference, parseImageVersion } from '../render/image.js'
import type { DeployRequest, Mode, PlatformName } from '../request.js'
import { parseVars } from './key-values.js'
import type { InputReader } from './reader.js'

const MODES: readonly Mode[] = ['deploy', 'rollback', 'render', 'continue', 'follow']
const PLATFORMS: readonly PlatformName[] = ['ecs', 'kubernetes']
const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/
const REVISION_REF = /^(?:\d+|[A-Za-z0-9_-]{1,255}:\d+|arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task-definition\/[A-Za-z0-9_-]{1,255}:\d+)$/

export type TargetInputs = Pick<DeployRequest, 'service' | 'services' | 'mode' | 'platform' | 'imageVersion' | 'image' | 'containers' | 'timeoutMs' | 'toRevision'>
export type RunOptions = Pick<DeployRequest, 'template' | 'vars' | 'dryRun' | 'wait' | 'rollbackOnFailure' | 'outputDir'>

/** What is deployed and how: the services, the mode, the new image and its containers, the timeout, the revision to roll back to. */
export function targetInputs(read: InputReader): TargetInputs {
  const services = serviceNames(read)
  const mode = read.oneOf('mode', MODES, 'deploy') ?? 'deploy'
  const platform = read.oneOf('platform', PLATFORMS, undefined)
  const { image, imageTag } = imageInputs(read, mode)
  const containers = containerNames(read)
  const timeoutMs = read.duration('timeout', '10m')
  const toRevision = toRevisionInput(read, mode)
  return {
    service: services.join(','),
    services,
    mode,
    platform,
    imageVersion: imageTag !== undefined ? parseImageVersion(imageTag) : undefined,
    image,
    containers,
    timeoutMs,
    toRevision
  }
}

/** The template, its `${KEY}` values, and whether the run changes anything, waits and rolls back. */
export function runOptions(read: InputReader): RunOptions {
  return {
    template: read.optional('template'),
    vars: read.problems.collect(() => parseVars(read.input('vars'))) ?? {},
    dryRun: read.boolean('dry-run', false),
    wait: read.boolean('wait', true),
    rollbackOnFailure: read.boolean('rollback-on-failure', true),
    outputDir: read.env.RUNNER_TEMP || os.tmpdir()
  }
}

/** Several ECS services in one step (a monorepo's api, worker, scheduler): one per line or comma-separated. */
function serviceNames(read: InputReader): string[] {
  const services = [...new Set(read.list('service'))]
  if (services.length === 0) read.problems.add({ input: 'service', message: 'is required: the ECS service or Kubernetes workload to deploy' })
  for (const name of services) {
    if (!SERVICE_NAME.test(name)) read.problems.add({ input: 'service', message: `'${name}' is not a service or workload name (letters, digits, '.', '_', '-')` })
  }
  return services
}

/** `image` (a full reference) or `image-tag` (applied to the template's repository); a deploy needs one of them. */
function imageInputs(read: InputReader, mode: Mode): { image?: string; imageTag?: string } {
  const imageTag = read.optional('image-tag')
  if (imageTag !== undefined) {
    const problem = imageVersionProblem(imageTag)
    if (problem) read.problems.add({ input: 'image-tag', message: problem })
  }
  const image = read.optional('image')
  if (image !== undefined) {
    const parsed = parseImageReference(image)
    if (typeof parsed === 'string') read.problems.add({ input: 'image', message: parsed })
  }
  if (image !== undefined && imageTag !== undefined) {
    read.problems.add({ input: 'image', message: "give either 'image' (a full reference) or 'image-tag', not both" })
  }
  if (mode === 'deploy' && image === undefined && imageTag === undefined) {
    read.problems.add({ input: 'image-tag', message: "is required with mode 'deploy' (or give the full 'image')" })
  }
  return { image, imageTag }
}

/** `container`: comma-separated names; none means the container named like the service, else the only one. */
function containerNames(read: InputReader): string[] {
  const containers = read
    .input('container')
    .split(',')
    .map(name => name.trim())
  if (containers.length > 1 && containers.some(name => name === '')) {
    read.problems.add({ input: 'container', message: `'${read.input('container')}' has an empty name in its list` })
  }
  return containers.filter(name => name !== '')
}

function toRevisionInput(read: InputReader, mode: Mode): string | undefined {
  const toRevision = read.optional('to-revision')
  if (toRevision !== undefined) {
    if (mode !== 'rollback') read.problems.add({ input: 'to-revision', message: "is only used with mode 'rollback'" })
    else if (!REVISION_REF.test(toRevision)) {
      read.problems.add({
        input: 'to-revision',
        message: `'${toRevision}' is not a revision: use a number (7), family:revision (web:7) or a task-definition ARN`
      })
    }
  }
  return toRevision
}
