import { ProblemList } from '../errors.js'
import { BUILT_IN_VARIABLES } from '../render/placeholders.js'

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/** `vars`: `KEY=value` lines; blank lines and `#` comments are skipped. */
export function parseVars(text: string): Record<string, string> {
  return keyValueLines(text, 'vars', key => {
    if (!VAR_NAME.test(key)) return `'${key}' is not a valid name (letters, digits, '_')`
    if (BUILT_IN_VARIABLES.includes(key)) return `${key} is built in and cannot be set`
    return undefined
  })
}

/** KEY=value lines (or comma-free single line); blank lines and `#` comments are skipped. */
export function parseKeyValues(text: string, name: string, key: RegExp): Record<string, string> {
  return keyValueLines(text, name, k => (key.test(k) ? undefined : `'${k}' is not a valid key`))
}

/**
 * The one reading of `KEY=value` lines: each key is checked by `keyProblem`, a key given twice is refused,
 * and every problem (named after `input`, with its line) is thrown at once.
 */
function keyValueLines(text: string, input: string, keyProblem: (key: string) => string | undefined): Record<string, string> {
  const problems = new ProblemList()
  const values: Record<string, string> = {}
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) return
    const at = `line ${index + 1}`
    const equals = line.indexOf('=')
    if (equals <= 0) return problems.add({ input, message: `${at}: '${line}' is not KEY=value` })
    const key = line.slice(0, equals).trim()
    const problem = keyProblem(key)
    if (problem !== undefined) problems.add({ input, message: `${at}: ${problem}` })
    else if (key in values) problems.add({ input, message: `${at}: ${key} is set twice` })
    else values[key] = line.slice(equals + 1).trim()
  })
  problems.throwIfAny()
  return values
}
