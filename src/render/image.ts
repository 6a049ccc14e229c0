// Image references as the OCI distribution grammar defines them:
//   reference := name [":" tag] ["@" digest]
// Pure string work, no registry is asked anything.

const TAG = /^[\w][\w.-]{0,127}$/
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/
const SHA256 = /^sha256:[a-f0-9]{64}$/
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/
const DOMAIN = /^(?:localhost|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$/

export interface ImageReference {
  /** Registry and repository, e.g. `123456789012.dkr.ecr.eu-west-1.amazonaws.com/web`. */
  repository: string
  tag?: string
  digest?: string
}

/** A tag or a digest, as the `image-tag` input takes it. */
export type ImageVersion = { tag: string } | { digest: string }

/** Why `value` is not a valid tag or digest, or undefined when it is one. */
export function imageVersionProblem(value: string): string | undefined {
  if (value.includes(':')) {
    if (value.startsWith('sha256:') && !SHA256.test(value)) return `'${value}' is not a sha256 digest: it takes 64 lowercase hex digits after 'sha256:'`
    return DIGEST.test(value) ? undefined : `'${value}' is neither a tag nor a digest (algorithm:hex, e.g. sha256:<64 hex>)`
  }
  return TAG.test(value)
    ? undefined
    : `'${value}' is not a valid tag: up to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'`
}

export function parseImageVersion(value: string): ImageVersion {
  return value.includes(':') ? { digest: value } : { tag: value }
}

/** Parses a full reference; returns a reason string when it is not one. */
export function parseImageReference(value: string): ImageReference | string {
  if (value.length === 0) return 'an image reference cannot be empty'
  if (/\s/.test(value)) return `'${value}' contains whitespace`
  let rest = value
  let digest: string | undefined
  const at = rest.indexOf('@')
  if (at >= 0) {
    digest = rest.slice(at + 1)
    rest = rest.slice(0, at)
    if (!DIGEST.test(digest) || (digest.startsWith('sha256:') && !SHA256.test(digest))) {
      return `'${value}' has an invalid digest '${digest}'`
    }
  }
  let tag: string | undefined
  const colon = rest.lastIndexOf(':')
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
    if (!TAG.test(tag)) return `'${value}' has an invalid tag '${tag}'`
  }
  const parts = rest.split('/')
  const hasDomain = parts.length > 1 && (parts[0].includes('.') || parts[0].includes(':') || parts[0] === 'localhost')
  if (hasDomain && !DOMAIN.test(parts[0])) return `'${value}' has an invalid registry '${parts[0]}'`
  const path = hasDomain ? parts.slice(1) : parts
  const bad = path.find(component => !PATH_COMPONENT.test(component))
  if (bad !== undefined) {
    return `'${value}' has an invalid repository part '${bad}' (lowercase letters, digits and . _ - separators)`
  }
  return { repository: rest, tag, digest }
}

export function formatImageReference(reference: ImageReference): string {
  return reference.repository + (reference.tag ? `:${reference.tag}` : '') + (reference.digest ? `@${reference.digest}` : '')
}

/** The image `current` would become with a new tag or digest: same repository, old pin dropped. */
export function withVersion(current: string, version: ImageVersion): string {
  const parsed = parseImageReference(current)
  const repository = typeof parsed === 'string' ? current.split('@')[0].replace(/:[^/:]*$/, '') : parsed.repository
  return 'tag' in version ? `${repository}:${version.tag}` : `${repository}@${version.digest}`
}

/** The tag or digest of a reference, for the IMAGE_TAG placeholder and the report. */
export function versionOf(image: string): string | undefined {
  const parsed = parseImageReference(image)
  if (typeof parsed === 'string') return undefined
  return parsed.digest ?? parsed.tag
}
