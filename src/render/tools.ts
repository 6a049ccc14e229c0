import fs from 'node:fs/promises'
import path from 'node:path'
import { getExecOutput } from '@actions/exec'
import { UserError, type SourceLocation } from '../errors.js'

/** The user's own template tools: run from PATH, as they are on GitHub's hosted runners. */
export interface TemplateTool {
  name: 'helm' | 'kustomize'
  /** What the template is, for messages: "a Helm chart". */
  what: string
  /** The command that prints the tool's version, one short line. */
  versionArgs: string[]
  /** How to get the tool onto a runner that lacks it. */
  install: string
}

export const HELM: TemplateTool = {
  name: 'helm',
  what: 'a Helm chart',
  versionArgs: ['version', '--short'],
  install: "GitHub's hosted runners have it; elsewhere add a step before this one: `uses: azure/setup-helm@v4`"
}

export const KUSTOMIZE: TemplateTool = {
  name: 'kustomize',
  what: 'a kustomization',
  versionArgs: ['version'],
  install: "GitHub's hosted runners have it; elsewhere add a step before this one: `uses: imranismail/setup-kustomize@v2`"
}

/** A tool found on PATH and the version it reports. */
export interface FoundTool {
  tool: TemplateTool
  path: string
  version: string
}

// Once per tool path and process: a run renders once, but tests render many times.
const versions = new Map<string, Promise<string>>()

/**
 * Finds the tool on PATH and asks its version, or throws the error a user can act on: which input
 * needs it, and how to install it.
 */
export async function findTool(tool: TemplateTool, template: string, env: NodeJS.ProcessEnv = process.env): Promise<FoundTool> {
  const found = await onPath(tool.name, env)
  if (!found) {
    throw new UserError({
      input: 'template',
      message: `'${template}' is ${tool.what}, which needs ${tool.name}, and ${tool.name} is not on PATH: ${tool.install}`
    })
  }
  let version = versions.get(found)
  if (!version) {
    version = run(found, tool.versionArgs, env).then(result => (result.exitCode === 0 ? firstLine(result.stdout) : 'version unknown'))
    versions.set(found, version)
  }
  return { tool, path: found, version: await version }
}

async function onPath(name: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  // Windows runners name executables with .exe (and have no execute bit to check).
  const names = process.platform === 'win32' ? [`${name}.exe`, name] : [name]
  for (const dir of (env.PATH ?? env.Path ?? '').split(path.delimiter)) {
    if (!dir) continue
    for (const file of names) {
      const candidate = path.join(dir, file)
      const stat = await fs.stat(candidate).catch(() => undefined)
      if (!stat?.isFile()) continue
      const executable = await fs.access(candidate, fs.constants.X_OK).then(
        () => true,
        () => false
      )
      if (executable) return candidate
    }
  }
  return undefined
}

async function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  // silent: the tool's output is data for us to parse or quote, not for the log as it comes.
  return getExecOutput(file, args, { silent: true, ignoreReturnCode: true, env: env as Record<string, string> })
}

/** Where a tool's error points in the user's files, and what to do about it, as far as its output tells. */
export interface Explanation {
  location?: SourceLocation
  hint?: string
}

/** The most of a tool's error output a message quotes: its last lines, where tools say what went wrong. */
const ERROR_LINES = 30

/**
 * Runs the tool and returns what it printed; a failure is a UserError that quotes the tool's own
 * words (trimmed to their last lines), at `location` when the caller could tell where the fault is.
 * `shown` is `args` as messages may print them (no secret values).
 */
export async function runTool(
  found: FoundTool,
  args: string[],
  shown: string[],
  explain: (stderr: string) => Explanation | Promise<Explanation>,
  env: NodeJS.ProcessEnv = process.env
): Promise<string> {
  const result = await run(found.path, args, env)
  if (result.exitCode === 0) return result.stdout
  const output = trimOutput(result.stderr || result.stdout)
  const { location, hint } = await explain(output)
  throw new UserError({
    input: 'template',
    location,
    message: `${commandLine(found.tool.name, shown)} (${found.tool.name} ${found.version}) failed with exit code ${result.exitCode}${hint ? ` (${hint})` : ''}:\n${output}`
  })
}

/** The last lines of a tool's output, without the blank ones around them. */
export function trimOutput(text: string): string {
  const lines = text.replace(/\r\n/g, '\n').trim().split('\n')
  if (lines.length <= ERROR_LINES) return lines.join('\n')
  return [`[${lines.length - ERROR_LINES} earlier lines left out]`, ...lines.slice(-ERROR_LINES)].join('\n')
}

/** The command as a user would type it, for messages and the rendered set's header. */
export function commandLine(name: string, args: string[]): string {
  return [name, ...args.map(arg => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`))].join(' ')
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.trim() || 'version unknown'
}
