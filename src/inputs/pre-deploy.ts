import { parse as parseYaml } from 'yaml'
import type { PreDeployCommand } from '../request.js'
import type { InputReader } from './reader.js'

/** `pre-deploy-command` with its container and timeout: a one-off task (a migration) before the service changes. */
export function preDeployInput(read: InputReader): PreDeployCommand | undefined {
  const text = read.input('pre-deploy-command')
  if (text === '') {
    for (const name of ['pre-deploy-container', 'pre-deploy-timeout']) {
      if (read.input(name) !== '') read.problems.add({ input: name, message: "is only used with 'pre-deploy-command'" })
    }
    return undefined
  }
  const command = parseCommand(text)
  if (typeof command === 'string') {
    read.problems.add({ input: 'pre-deploy-command', message: command })
    return undefined
  }
  return { command, container: read.optional('pre-deploy-container'), timeoutMs: read.duration('pre-deploy-timeout', '10m') }
}

/**
 * `pre-deploy-command`: a YAML or JSON list of strings is the argv as given; any other text is run by
 * `sh -c` (so the image needs a shell).
 */
export function parseCommand(text: string): string[] | string {
  if (!/^\s*(\[|- )/.test(text)) return ['sh', '-c', text]
  let value: unknown
  try {
    value = parseYaml(text)
  } catch (error) {
    return `is not a YAML/JSON list of strings: ${(error as Error).message.split('\n')[0]}`
  }
  if (!Array.isArray(value) || value.length === 0 || !value.every(part => typeof part === 'string')) {
    return 'a list must hold at least one string and only strings (e.g. ["./migrate", "up"]); or give a command for sh -c'
  }
  return value
}
