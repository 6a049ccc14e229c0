import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import * as exec from '@actions/exec'
import { childEnv, stopTree } from '../child-process.js'
import { errorMessage } from '../errors.js'
import { formatDuration } from '../rollout/deadline.js'
import { sleep } from '../rollout/poll.js'
import type { WaitContext } from '../rollout/platform.js'
import type { VerifyResult } from './result.js'

export { alive } from '../child-process.js'

/** Lines of output kept for the verdict. */
const TAIL_LINES = 20

/**
 * The command as `sh -c` runs it, behind a wrapper that writes the shell's pid first: @actions/exec
 * does not hand out its child process, and a check that outlives its deadline must be stopped.
 */
const WRAPPER = 'echo $$ >"$0"; exec sh -c "$1"'

/**
 * Runs `verify-command` on the runner through @actions/exec (`sh -c`), with the runner's environment
 * as a `run:` step sees it (without the action's inputs and runtime tokens: `childEnv`) and
 * `environment` (DEPLOY_SERVICE, DEPLOY_REVISION ...). Its output is printed as it comes, as data;
 * exit 0 passes. At the deadline or on cancellation it is stopped (SIGTERM to it and its children,
 * SIGKILL after 2 s).
 */
export async function verifyCommand(command: string, environment: Record<string, string>, context: WaitContext): Promise<VerifyResult> {
  const { deadline, progress } = context
  const tail: string[] = []
  let lines = 0
  const print = (stream: string) => (line: string) => {
    tail.push(line)
    if (tail.length > TAIL_LINES) tail.shift()
    lines++
    // Each line once, in order, through Progress: a `::set-output` in it is shown, never run.
    progress.event(`verify-command:${lines}`, `verify-command ${stream}: ${line}`)
  }
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'deploy-service-verify-'))
  const pidFile = path.join(dir, 'pid')
  const startedAt = Date.now()
  progress.step(`verify-command: running on the runner (sh -c), within ${formatDuration(deadline.remainingMs())}`)
  let stopping: Promise<void> | undefined
  let returned = false
  const stop = (): void => {
    stopping ??= stopProcess(pidFile, () => returned)
  }
  deadline.signal.addEventListener('abort', stop, { once: true })
  if (deadline.signal.aborted) stop()
  try {
    // The environment a `run:` step of the job would see (not the action's inputs or runtime tokens).
    const env = { ...childEnv(process.env), ...environment }
    const exitCode = await exec
      .exec('sh', ['-c', WRAPPER, pidFile, command], {
        env,
        silent: true,
        ignoreReturnCode: true,
        // After the shell exits, wait this long at most for children still holding its output open.
        delay: 1000,
        listeners: { stdline: print('stdout'), errline: print('stderr') }
      })
      .finally(() => (returned = true))
    await stopping
    const spent = formatDuration(Date.now() - startedAt)
    const output = tail.length ? `; the last ${tail.length === 1 ? 'line' : `${tail.length} lines`} of its output:\n${tail.join('\n')}` : '; it printed nothing'
    if (deadline.stoppedBy === 'cancelled') return { ok: false, reason: `the run was cancelled while verify-command ran (${spent}); it was stopped${output}` }
    if (deadline.stoppedBy === 'timeout') return { ok: false, reason: `verify-command did not finish within verify-timeout (${spent}); it was stopped${output}` }
    if (exitCode === 0) {
      progress.step(`verify-command: exited 0 after ${spent}`)
      return { ok: true }
    }
    return { ok: false, reason: `verify-command exited with code ${exitCode} after ${spent}${output}` }
  } catch (error) {
    return { ok: false, reason: `verify-command could not be run: ${errorMessage(error)}` }
  } finally {
    deadline.signal.removeEventListener('abort', stop)
    await fs.rm(dir, { recursive: true, force: true })
  }
}

/**
 * SIGTERM to the command and every process under it, then SIGKILL to whatever is left. The wrapper
 * writes its pid at once, but a loaded runner may start it late: the pid file is awaited for as long
 * as the command has not returned (`returned`), never given up on while it might still run.
 */
export async function stopProcess(pidFile: string, returned: () => boolean): Promise<void> {
  let pid: number | undefined
  while (pid === undefined && !returned()) {
    const text = await fs.readFile(pidFile, 'utf8').catch(() => '')
    if (/^\d+\s*$/.test(text)) pid = Number(text)
    else await sleep(50)
  }
  if (pid !== undefined) await stopTree(pid)
}
