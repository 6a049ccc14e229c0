import fs from 'node:fs/promises'
import path from 'node:path'
import { runBounded, type Finished } from '../child-process.js'
import { UserError, errorMessage, type SourceLocation } from '../errors.js'
import { formatDuration } from '../rollout/deadline.js'

/** The user's own template tools: run from PATH, as they are on GitHub's hosted runners. */
export interface TemplateTool {
  name: 'helm' | 'kustomize'
  /** What the template is, for messages: "a Helm chart". */
  what: string
  /** The command that prints the tool's version, one short line. */
  versionArgs: string[]
  /** How to get the tool onto a runner that lacks it. */
  install: string
  /** What usually makes the tool hang, and the fix, for the message when it is stopped at its bound. */
  stalled: string
}

/**
 * How long helm or kustomize may take to render. Rendering is local work of seconds; what takes longer
 * waits on the network (a remote kustomize base or component fetched with git, a chart repository that
 * does not answer) and would otherwise hold the job until GitHub's 6-hour limit. Five minutes leaves
 * room for a slow clone of a large remote base on a busy runner.
 */
export const RENDER_TIMEOUT_MS = 5 * 60_000
/** `helm version` / `kustomize version` print one line at once; longer is a tool that hangs. */
const VERSION_TIMEOUT_MS = 30_000

/** How a tool runs: its environment (without the action's inputs), the run's cancellation, its bound. */
export interface ToolOptions {
  env?: NodeJS.ProcessEnv
  /** The run's cancellation: the tool and its children are stopped when it fires. */
  signal?: AbortSignal
  /** Default RENDER_TIMEOUT_MS. */
  timeoutMs?: number
}

export const HELM: TemplateTool = {
  name: 'helm',
  what: 'a Helm chart',
  versionArgs: ['version', '--short'],
  install: "GitHub's hosted runners have it; elsewhere add a step before this one: `uses: azure/setup-helm@v4`",
  stalled: 'helm template needs no network unless a dependency or plugin does: run `helm dependency build` in a step before this one, or commit the charts/ folder'
}

export const KUSTOMIZE: TemplateTool = {
  name: 'kustomize',
  what: 'a kustomization',
  versionArgs: ['version'],
  install: "GitHub's hosted runners have it; elsewhere add a step before this one: `uses: imranismail/setup-kustomize@v2`",
  stalled: 'a remote base or component (a git or https URL) that does not answer? Check that the runner reaches its host, or vendor it into the repository'
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
export async function findTool(tool: TemplateTool, template: string, options: ToolOptions = {}): Promise<FoundTool> {
  const env = options.env ?? process.env
  const found = await onPath(tool.name, env)
  if (!found) {
    throw new UserError({
      input: 'template',
      message: `'${template}' is ${tool.what}, which needs ${tool.name}, and ${tool.name} is not on PATH: ${tool.install}`
    })
  }
  let version = versions.get(found)
  if (!version) {
    version = runBounded(found, tool.versionArgs, { env, timeoutMs: VERSION_TIMEOUT_MS }).then(result =>
      result.exitCode === 0 && !result.stopped ? firstLine(result.stdout) : 'version unknown', () => 'version unknown'
    )
    versions.set(found, version)
  }
  // The version is asked once per process, but each run's cancellation stops the wait for it.
  return { tool, path: found, version: await untilCancelled(version, options.signal, `${tool.name} ${tool.versionArgs.join(' ')}`) }
}

/** `promise`, or the run's cancellation (as an error whose cause it is) if that comes first. */
function untilCancelled<T>(promise: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (!signal) return promise
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(cancelledError(what, signal))
    if (signal.aborted) return onAbort()
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

function cancelledError(what: string, signal: AbortSignal | undefined): Error {
  return new Error(`${what} was stopped: ${errorMessage(signal?.reason)}`, { cause: signal?.reason })
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
 * `shown` is `args` as messages may print them (no secret values). The tool runs without the action's
 * inputs in its environment, within `timeoutMs` (RENDER_TIMEOUT_MS) and the run's cancellation: at
 * either it is stopped with everything it started.
 */
export async function runTool(
  found: FoundTool,
  args: string[],
  shown: string[],
  explain: (stderr: string) => Explanation | Promise<Explanation>,
  options: ToolOptions = {}
): Promise<string> {
  const timeoutMs = options.timeoutMs ?? RENDER_TIMEOUT_MS
  const result = await runBounded(found.path, args, { env: options.env ?? process.env, signal: options.signal, timeoutMs }).catch((error: unknown) => {
    throw new UserError({ input: 'template', message: `could not run ${found.tool.name} (${found.path}): ${errorMessage(error)}` })
  })
  if (result.stopped === 'cancelled') throw cancelledError(commandLine(found.tool.name, shown), options.signal)
  if (result.stopped === 'timeout') throw stalledError(found, shown, timeoutMs, result)
  if (result.exitCode === 0) return result.stdout
  const output = trimOutput(result.stderr || result.stdout)
  const { location, hint } = await explain(output)
  throw new UserError({
    input: 'template',
    location,
    message: `${commandLine(found.tool.name, shown)} (${found.tool.name} ${found.version}) failed with exit code ${result.exitCode}${hint ? ` (${hint})` : ''}:\n${output}`
  })
}

/** A tool stopped at its bound: what it was running, the bound, the likely cause and what it printed. */
function stalledError(found: FoundTool, shown: string[], timeoutMs: number, result: Finished): UserError {
  const printed = trimOutput(result.stderr || result.stdout)
  return new UserError({
    input: 'template',
    message:
      `${commandLine(found.tool.name, shown)} (${found.tool.name} ${found.version}) did not finish within ${formatDuration(timeoutMs)} and was stopped` +
      ` (${found.tool.stalled})${printed ? `; the last it printed:\n${printed}` : '; it printed nothing'}`
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
