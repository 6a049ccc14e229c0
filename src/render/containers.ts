import { UserError, type SourceLocation } from '../errors.js'
import { withVersion } from './image.js'
import type { DeployRequest } from '../request.js'

export interface ContainerRef {
  name: string
  image: string
  location?: SourceLocation
}

/**
 * Which containers get the new image: those named in `container`; by default the one named like the
 * service, else the only one. Anything else is an error that lists the candidates.
 */
export function chooseContainers(available: ContainerRef[], request: Pick<DeployRequest, 'containers' | 'service'>, owner: string): ContainerRef[] {
  const names = available.map(container => `'${container.name}'`).join(', ')
  if (request.containers.length > 0) {
    const unknown = request.containers.filter(name => !available.some(container => container.name === name))
    if (unknown.length > 0) {
      throw new UserError({
        input: 'container',
        message: `${owner} has no container ${unknown.map(name => `'${name}'`).join(', ')}; it has ${names}`
      })
    }
    return available.filter(container => request.containers.includes(container.name))
  }
  const named = available.find(container => container.name === request.service)
  if (named) return [named]
  if (available.length === 1) return available
  throw new UserError({
    input: 'container',
    message: `${owner} has ${available.length} containers (${names}) and none is named '${request.service}': say which in the 'container' input`
  })
}

/** The image a chosen container gets: the full `image` input, or its own repository with the new tag. */
export function nextImage(current: string, request: Pick<DeployRequest, 'image' | 'imageVersion'>): string {
  if (request.image) return request.image
  if (request.imageVersion) return withVersion(current, request.imageVersion)
  return current
}

export interface ImageChange {
  container: string
  previous: string
  next: string
}
