import { execFile, spawn } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'

/**
 * What the action's own step holds that the programs it starts (helm, kustomize, verify-command) have no
 * business with: its inputs (`INPUT_KUBECONFIG`, `INPUT_GITHUB-TOKEN` ...: a chart's dependency fetch, a
 * remote kustomize base or a user's check script would see the cluster's credentials and the token), and
 * the runtime tokens the runner gives actions but not `run:` steps (ACTIONS_RUNTIME_TOKEN for the cache
 * and artifacts, ACTIONS_ID_TOKEN_REQUEST_* to mint the workflow's OIDC token). What is left is the
 * environment a `run:` step of the same job sees: PATH, HOME, the job's `env:`, the AWS chain's variables.
 * Case-insensitive: Windows runners spell variable names in any case.
 */
const WITHHELD = /^(?:INPUT_|ACTIONS_RUNTIME_|ACTIONS_ID_TOKEN_REQUEST_|ACTIONS_CACHE_URL$|ACTIONS_RESULTS_URL$)/i

/** The environment for a child process: `env` without what the action's step holds for itself alone. */
export function childEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined && !WITHHELD.test(entry[0])))
}

/** Between SIGTERM and SIGKILL when a process must stop: time to clean up, never to hang on. */
export const KILL_GRACE_MS = 2000

/**
 * SIGTERM to `pid` and every process under it (kustomize's git, a check script's curl), then SIGKILL to
 * whatever is left after the grace period. On Windows, `taskkill /T /F` ends the tree at once.
 */
export async function stopTree(pid: number): Promise<void> {
  if (process.platform === 'win32') {
    await new Promise<void>(resolve => execFile('taskkill', ['/pid', String(pid), '/T', '/F'], () => resolve()))
    return
  }
  const tree = await processTree(pid)
  signal(tree, 'SIGTERM')
  for (let waited = 0; waited < KILL_GRACE_MS && tree.some(alive); waited += 100) await sleep(100)
  signal(tree.filter(alive), 'SIGKILL')
}

/** `pid` and its descendants, from `ps` (Linux and macOS runners). */
async function processTree(root: number): Promise<number[]> {
  const table = await new Promise<string>(resolve => execFile('ps', ['-A', '-o', 'pid=', '-o', 'ppid='], (error, stdout) => resolve(error ? '' : String(stdout))))
  const children = new Map<number, number[]>()
  for (const line of table.split('\n')) {
    const [pid, ppid] = line.trim().split(/\s+/).map(Number)
    if (!Number.isInteger(pid) || !Number.isInteger(ppid)) continue
    children.set(ppid, [...(children.get(ppid) ?? []), pid])
  }
  const tree: number[] = []
  const queue = [root]
  while (queue.length) {
    const pid = queue.shift()!
    if (tree.includes(pid)) continue
    tree.push(pid)
    queue.push(...(children.get(pid) ?? []))
  }
  return tree
}

function signal(pids: number[], name: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, name)
    } catch {
      // Gone already.
    }
  }
}

/** Whether a process with this pid is still there (signal 0 checks without sending anything). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

export interface BoundedRun {
  env: NodeJS.ProcessEnv
  /** The run's cancellation: the process and its children are stopped when it fires. */
  signal?: AbortSignal
  /** The process and its children are stopped this long after the start. */
  timeoutMs: number
}

export interface Finished {
  /** The exit code; -1 when the process ended on a signal (ours, when `stopped` says so). */
  exitCode: number
  stdout: string
  stderr: string
  /** Set when we stopped it: at `timeoutMs`, or on the run's cancellation. */
  stopped?: 'timeout' | 'cancelled'
}

/**
 * After the process exits, how long its output may still take to arrive (a child it left behind may
 * hold the pipes open): then the pipes are closed, so a stray grandchild never holds the step.
 */
const DRAIN_MS = 5000

/**
 * Runs `file` with `args` (no shell) in `childEnv(env)`, collecting its output, within `timeoutMs` and
 * the run's cancellation: at either, the process and everything under it is stopped (`stopTree`) and
 * the result says so. Rejects only when the program cannot be started.
 */
export function runBounded(file: string, args: string[], options: BoundedRun): Promise<Finished> {
  if (options.signal?.aborted) return Promise.resolve({ exitCode: -1, stdout: '', stderr: '', stopped: 'cancelled' })
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: childEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true })
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk))
    let stopped: Finished['stopped']
    let stopping: Promise<void> = Promise.resolve()
    const closePipes = (): void => {
      child.stdout.destroy()
      child.stderr.destroy()
    }
    const stop = (why: 'timeout' | 'cancelled'): void => {
      if (stopped || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
      stopped = why
      stopping = stopTree(child.pid).then(closePipes)
    }
    const timer = setTimeout(() => stop('timeout'), options.timeoutMs)
    const onAbort = (): void => stop('cancelled')
    options.signal?.addEventListener('abort', onAbort, { once: true })
    const done = (): void => {
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
    }
    child.on('error', error => {
      done()
      reject(error)
    })
    child.on('exit', () => setTimeout(closePipes, DRAIN_MS).unref())
    child.on('close', (code: number | null) => {
      done()
      void stopping.then(() =>
        resolve({ exitCode: code ?? -1, stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8'), stopped })
      )
    })
  })
}
