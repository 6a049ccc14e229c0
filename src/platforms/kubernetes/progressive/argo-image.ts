// An image-only deploy (no template) of a live Argo Rollout named as the service. A Rollout is a custom
// resource: the API server has no strategic merge for it, and a merge patch would replace its whole
// container list. So the change is a JSON patch that replaces each chosen container's image at its
// index, after a `test` that the index still holds that container: a Rollout edited between our read
// and our patch is refused by the server rather than given an image in the wrong container.

import type { ImageChange } from '../../../render/containers.js'

export const JSON_PATCH = 'application/json-patch+json'

type Operation = { op: 'test' | 'replace'; path: string; value: string }

interface Template {
  spec?: { template?: { spec?: Record<string, Array<{ name: string }> | undefined> } }
}

/** The JSON patch that puts the new images into the live Rollout's chosen containers. */
export function rolloutImagePatch(live: unknown, images: ImageChange[]): Operation[] {
  const operations: Operation[] = []
  for (const field of ['initContainers', 'containers']) {
    const containers = (live as Template).spec?.template?.spec?.[field] ?? []
    containers.forEach((container, index) => {
      const change = images.find(i => i.container === container.name)
      if (!change) return
      const at = `/spec/template/spec/${field}/${index}`
      operations.push({ op: 'test', path: `${at}/name`, value: container.name }, { op: 'replace', path: `${at}/image`, value: change.next })
    })
  }
  return operations
}
