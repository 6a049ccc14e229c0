// verify-command: a real `sh -c` through @actions/exec, its output, exit code, deadline and cancellation.
import { describe, expect, it } from '@jest/globals'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { verifyRollout } from '../../src/verify/index.js'
import { alive, stopProcess } from '../../src/verify/command.js'
import { Deadline } from '../../src/rollout/deadline.js'
import { Progress, workflowLog } from '../../src/rollout/progress.js'
import { context, serve } from './helpers.js'

async function run(command: string, timeoutMs = 10_000, environment: Record<string, string> = {}, cancel?: AbortSignal) {
  const { context: ctx, lines, dispose } = context(timeoutMs, cancel)
  const started = Date.now()
  try {
    const result = await verifyRollout({ command, statuses: [[200, 299]], timeoutMs }, environment, ctx)
    return { result, log: lines.join('\n'), reason: result.ok ? '' : result.reason, ms: Date.now() - started }
  } finally {
    dispose()
  }
}


describe('verify-command', () => {
  it('passes on exit 0, with the deploy in its environment and its output in the log', async () => {
    const { result, log } = await run('echo "checking $DEPLOY_SERVICE at revision $DEPLOY_REVISION"', 10_000, { DEPLOY_SERVICE: 'web', DEPLOY_REVISION: '7' })
    expect(result).toEqual({ ok: true })
    expect(log).toContain('verify-command stdout: checking web at revision 7')
    expect(log).toContain('verify-command: exited 0')
  })

  it('keeps the runner environment', async () => {
    process.env.VERIFY_TEST_MARKER = 'from-the-runner'
    try {
      const { log } = await run('echo "$VERIFY_TEST_MARKER"')
      expect(log).toContain('stdout: from-the-runner')
    } finally {
      delete process.env.VERIFY_TEST_MARKER
    }
  })

  it("keeps the action's inputs and runtime tokens out of its environment", async () => {
    const actionOnly = { INPUT_KUBECONFIG: 'kube-secret', 'INPUT_GITHUB-TOKEN': 'ghs_secret', ACTIONS_RUNTIME_TOKEN: 'runtime-secret', ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'oidc-secret' }
    Object.assign(process.env, actionOnly, { VERIFY_TEST_MARKER: 'from-the-job' })
    try {
      // /proc shows the environment the shell was started with, names a shell would not export included.
      const { result, log } = await run(`tr '\\000' '\\n' < /proc/$$/environ`)
      expect(result).toEqual({ ok: true })
      expect(log).toContain('stdout: VERIFY_TEST_MARKER=from-the-job')
      expect(log).not.toMatch(/INPUT_|ACTIONS_RUNTIME_TOKEN|ACTIONS_ID_TOKEN_REQUEST_TOKEN|secret/)
    } finally {
      for (const name of [...Object.keys(actionOnly), 'VERIFY_TEST_MARKER']) delete process.env[name]
    }
  })

  it('fails with the exit code and the tail of its output', async () => {
    const script = 'for i in $(seq 1 30); do echo "line $i"; done; echo "smoke test: /orders answered 500" >&2; exit 3'
    const { result, reason } = await run(script)
    expect(result.ok).toBe(false)
    expect(reason).toMatch(/^verify-command exited with code 3 after \d+s; the last 20 lines of its output:\n/)
    expect(reason).toContain('smoke test: /orders answered 500')
    expect(reason).toContain('line 30')
    expect(reason).not.toContain('line 10\n')
  })

  it('prints output that looks like a workflow command as data', async () => {
    const written: string[] = []
    const commands = { info: (l: string) => written.push(l), warning: (l: string) => written.push(`warning ${l}`), startGroup: () => undefined, endGroup: () => undefined }
    const progress = new Progress(workflowLog(commands, () => 'TOKEN'))
    const deadline = new Deadline(5000)
    const cancel = new AbortController().signal
    const result = await verifyRollout({ command: 'echo "::set-output name=status::succeeded"', statuses: [[200, 299]], timeoutMs: 5000 }, {}, { deadline, progress, cancel })
    deadline.dispose()
    expect(result).toEqual({ ok: true })
    const at = written.findIndex(line => line.endsWith('verify-command stdout: ::set-output name=status::succeeded'))
    expect(at).toBeGreaterThan(0)
    // The runner reads a command only at the start of a line: none of what was written is one.
    expect(written.filter(line => /^\s*::(?!stop-commands::|TOKEN::)/.test(line))).toEqual([])
  })

  it('is stopped at the deadline, children included, and says so', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'verify-cmd-'))
    const pidFile = path.join(dir, 'child')
    const { result, reason, ms } = await run(`echo started; sleep 60 & echo $! > ${pidFile}; wait`, 1500)
    expect(result.ok).toBe(false)
    expect(reason).toContain('verify-command did not finish within verify-timeout')
    expect(reason).toContain('it was stopped')
    expect(reason).toContain('started')
    expect(ms).toBeLessThan(6000)
    const child = Number(fs.readFileSync(pidFile, 'utf8'))
    expect(alive(child)).toBe(false)
  })

  it('is stopped when the run is cancelled', async () => {
    const cancel = new AbortController()
    setTimeout(() => cancel.abort(new Error('the run was cancelled (SIGTERM)')), 500)
    const { result, reason, ms } = await run('sleep 60', 30_000, {}, cancel.signal)
    expect(result.ok).toBe(false)
    expect(reason).toContain('the run was cancelled while verify-command ran')
    expect(ms).toBeLessThan(5000)
  })

  it('runs after verify-url passed, and not when it failed', async () => {
    const server = await serve({ '/ok': (_q, r) => r.writeHead(200).end('ok'), '/bad': (_q, r) => r.writeHead(500).end('no') })
    try {
      const marker = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'verify-both-')), 'ran')
      const both = async (url: string) => {
        const { context: ctx, dispose } = context(2000)
        try {
          return await verifyRollout({ url, command: `touch ${marker}`, statuses: [[200, 299]], timeoutMs: 2000 }, {}, ctx)
        } finally {
          dispose()
        }
      }
      const failed = await both(`${server.url}/bad`)
      expect(failed.ok).toBe(false)
      expect(fs.existsSync(marker)).toBe(false)
      expect(await both(`${server.url}/ok`)).toEqual({ ok: true })
      expect(fs.existsSync(marker)).toBe(true)
    } finally {
      await server.close()
    }
  })
})

describe('stopProcess', () => {
  it('waits for a pid file written late (a loaded runner) and stops the process it names', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stop-process-'))
    const pidFile = path.join(dir, 'pid')
    const child = spawn('sleep', ['30'], { stdio: 'ignore' })
    const exited = new Promise<NodeJS.Signals | null>(resolve => child.once('exit', (_code, signal) => resolve(signal)))
    // Written after 1.5 s: later than any fixed grace the stop could give the wrapper.
    const late = setTimeout(() => fs.writeFileSync(pidFile, `${child.pid}\n`), 1500)
    try {
      await stopProcess(pidFile, () => false)
      expect(await exited).toBe('SIGTERM')
    } finally {
      clearTimeout(late)
      child.kill('SIGKILL')
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 15_000)
})
