// The pieces of the live logs that need no cluster: a log line that looks like a workflow command,
// streamed in chunks through the one log follower and the real Progress and @actions/core, runs no
// command (a simulated runner parser reads stdout); the bound on the lines; the chosen container.
import * as core from '@actions/core'
import { describe, expect, it } from '@jest/globals'
import { Progress, workflowLog } from '../../src/rollout/progress.js'
import { LogBudget, LogFollower } from '../../src/platforms/kubernetes/logs/log-follower.js'
import { chosenContainer } from '../../src/platforms/kubernetes/logs/live-logs.js'
import { captureStdout, commandsRun } from '../helpers/workflow-commands.js'
import { UserError } from '../../src/errors.js'
import { parseInputs } from '../../src/inputs.js'

const OUR_COMMANDS = ['stop-commands', 'resume-commands']

describe('live log lines', () => {
  it('a line that looks like a workflow command is shown, never run, however the stream cuts it', async () => {
    const lines: string[] = []
    const stdout = await captureStdout(() => {
      const progress = new Progress(workflowLog({ ...core, info: (line: string) => (lines.push(line), core.info(line)) }))
      const follower = new LogFollower(progress, 'web-7d9c-abcde/web', 'live:web-7d9c-abcde/web#0', new LogBudget({ perSecond: 100, burst: 100, total: 100 }))
      // As chunks of a stream come: a command split across two chunks, a bare CR inside a line, the old form.
      follower.add('starting\n::set-output name=sta')
      follower.add('tus::succeeded\nprogress 50%\r::add-mask::x\n##[error]fake failure\n')
      follower.add('::error::last line without an end')
      follower.flush()
    })
    expect(commandsRun(stdout).filter(command => !OUR_COMMANDS.includes(command.name))).toEqual([])
    // Every line is there, after the pod and container, as data.
    for (const text of ['starting', '::set-output name=status::succeeded', 'progress 50%\r::add-mask::x', '##[error]fake failure', '::error::last line without an end']) {
      expect(lines.some(line => line.endsWith(`web-7d9c-abcde/web: ${text}`))).toBe(true)
    }
  })

  it('is bounded: a burst, then so many a second, then none; each cut said once', () => {
    let now = 0
    const shown: string[] = []
    const progress = new Progress({ info: line => shown.push(line), warning: () => undefined }, 0, () => now)
    const follower = new LogFollower(progress, 'p/c', 'live:p/c#0', new LogBudget({ perSecond: 2, burst: 3, total: 6 }, () => now))
    follower.add('1\n2\n3\n4\n5\n')
    now = 1000
    follower.add('6\n7\n8\n')
    now = 10_000
    follower.add('9\n10\n11\n')
    const logged = shown.filter(l => / p\/c: /.test(l)).map(l => l.split('p/c: ')[1])
    // 3 of the burst, 2 after a second (rate 2/s), then 1 more until the total of 6.
    expect(logged).toEqual(['1', '2', '3', '6', '7', '9'])
    expect(shown.filter(l => l.includes('live log lines are being dropped (too many at once): the bound is 2 lines a second, 6 in all'))).toHaveLength(1)
    expect(shown.filter(l => l.includes('no more live log lines are shown'))).toHaveLength(1)
  })

  it('follows the container given the new image, else the one named like the workload, else the first', () => {
    const pod = (...names: string[]) => ({ metadata: { name: 'p' }, spec: { containers: names.map(name => ({ name })) } })
    expect(chosenContainer(pod('istio-proxy', 'app', 'web'), 'web', ['app'])).toBe('app')
    expect(chosenContainer(pod('istio-proxy', 'web'), 'web', [])).toBe('web')
    expect(chosenContainer(pod('main', 'sidecar'), 'web', [])).toBe('main')
    expect(chosenContainer(pod(), 'web', [])).toBeUndefined()
  })
})

describe('follow-logs', () => {
  const parse = (inputs: Record<string, string>) => parseInputs(Object.fromEntries(Object.entries({ service: 'web', 'image-tag': '1', platform: 'kubernetes', ...inputs }).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, v])))
  it('is one by default, all or off when asked, and nothing else', () => {
    expect(parse({}).kubernetes.followLogs).toBe('one')
    expect(parse({ 'follow-logs': 'all' }).kubernetes.followLogs).toBe('all')
    expect(parse({ 'follow-logs': 'off' }).kubernetes.followLogs).toBe('off')
    let problems: string[] = []
    try {
      parse({ 'follow-logs': 'true' })
    } catch (error) {
      expect(error).toBeInstanceOf(UserError)
      problems = (error as UserError).problems.map(p => `${p.input}: ${p.message}`)
    }
    expect(problems).toEqual(["follow-logs: 'true' is not one of: one, all, off"])
  })
})
