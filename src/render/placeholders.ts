import { ProblemList } from '../errors.js'
import type { GitHubContext } from '../request.js'

/** Names the action fills in itself; `vars` cannot set them. */
export const BUILT_IN_VARIABLES: readonly string[] = [
  'SERVICE',
  'IMAGE',
  'IMAGE_TAG',
  'NAMESPACE',
  'CLUSTER',
  'ENVIRONMENT',
  'GITHUB_SHA',
  'GITHUB_REF',
  'GITHUB_REF_NAME',
  'GITHUB_REPOSITORY',
  'GITHUB_RUN_ID',
  'GITHUB_RUN_NUMBER',
  'GITHUB_RUN_URL',
  'GITHUB_ACTOR'
]

// `$${KEY}` is an escape for a literal `${KEY}`; `${KEY}` is a placeholder.
const PLACEHOLDER = /\$?\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g

/**
 * Replaces `${KEY}` placeholders in a template's text. Done on the text (like envsubst) so that
 * placeholders work anywhere, numbers included; values must be single-line so that line numbers in
 * later parse errors still point at the user's file. Every unknown key is reported with file:line:col.
 */
export function substitute(text: string, file: string, values: Record<string, string | undefined>): string {
  const problems = new ProblemList()
  const missing = new Set<string>()
  const lineStarts = [0]
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') lineStarts.push(i + 1)
  const locate = (offset: number): { line: number; column: number } => {
    let line = lineStarts.length - 1
    while (lineStarts[line] > offset) line--
    return { line: line + 1, column: offset - lineStarts[line] + 1 }
  }

  const result = text.replace(PLACEHOLDER, (match: string, key: string, offset: number) => {
    if (match.startsWith('$$')) return match.slice(1)
    const value = values[key]
    if (value === undefined) {
      missing.add(key)
      const hint = key === 'IMAGE' ? " (IMAGE is known only when the 'image' input is set)" : ''
      problems.add({ input: 'vars', location: { file, ...locate(offset) }, message: `unknown placeholder \${${key}}${hint}` })
      return match
    }
    if (/[\r\n]/.test(value)) {
      problems.add({ input: 'vars', location: { file, ...locate(offset) }, message: `the value of ${key} spans several lines; placeholders take one line` })
      return match
    }
    return value
  })
  if (missing.size > 0) {
    const keys = [...missing].join(', ')
    problems.add({ input: 'vars', message: `set ${keys} in the 'vars' input (KEY=value lines), or write $\${KEY} for a literal` })
  }
  problems.throwIfAny()
  return result
}

/** The values a template can use: the built-ins of this run, then the user's `vars`. */
export function templateValues(
  request: { service: string; vars: Record<string, string>; github: GitHubContext },
  extra: { image?: string; imageTag?: string; namespace?: string; cluster?: string }
): Record<string, string | undefined> {
  const { github } = request
  return {
    ...request.vars,
    SERVICE: request.service,
    IMAGE: extra.image,
    IMAGE_TAG: extra.imageTag,
    NAMESPACE: extra.namespace,
    CLUSTER: extra.cluster,
    ENVIRONMENT: github.environment,
    GITHUB_SHA: github.sha,
    GITHUB_REF: github.ref,
    GITHUB_REF_NAME: github.refName,
    GITHUB_REPOSITORY: github.repository,
    GITHUB_RUN_ID: github.runId,
    GITHUB_RUN_NUMBER: github.runNumber,
    GITHUB_RUN_URL: github.runUrl,
    GITHUB_ACTOR: github.actor
  }
}
