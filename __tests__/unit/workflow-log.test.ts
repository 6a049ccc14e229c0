import * as core from '@actions/core'
import { describe, expect, it } from '@jest/globals'
import { Progress, workflowLog } from '../../src/rollout/progress.js'
import { captureStdout, commandsRun } from '../helpers/workflow-commands.js'

// Text from the platform (events, pod messages, logs, stop reasons) goes through the real Progress and
// the real @actions/core to stdout; a simulated runner parser says which workflow commands would run.

const HOSTILE = [
  '::set-output name=status::succeeded\n::add-mask::x',
  'line one\n   ::add-mask::indented',
  'a log line with ##[add-mask]in the middle',
  '::error::fake failure',
  '::endgroup::',
  'multi\r\n::set-env name=A::b\r\n'
]
const OUR_COMMANDS = ['group', 'endgroup', 'warning', 'stop-commands', 'resume-commands']

describe('workflowLog', () => {
  it('never lets outside text run a workflow command, whatever Progress prints it as', async () => {
    const stdout = await captureStdout(() => {
      const progress = new Progress(workflowLog(core))
      progress.phase('Wait for web:2')
      HOSTILE.forEach((text, i) => {
        progress.event(`e${i}`, `service event: ${text}`)
        progress.event(`raw${i}`, text)
        progress.step(`applied: ${text}`)
        progress.status(text)
        progress.reason(`stopped task: ${text}`)
      })
      progress.endPhase()
    })
    const run = commandsRun(stdout)
    expect(run.filter(command => !OUR_COMMANDS.includes(command.name))).toEqual([])
    // Exactly our one group, and its end; the hostile '::endgroup::' never closed it.
    expect(run.filter(command => command.name === 'group').map(command => command.data)).toEqual(['Wait for web:2'])
    expect(run.filter(command => command.name === 'endgroup')).toHaveLength(1)
    // Every stop has its resume, with a fresh token each time.
    const stops = run.filter(command => command.name === 'stop-commands').map(command => command.data)
    expect(stops.length).toBeGreaterThan(0)
    expect(new Set(stops).size).toBe(stops.length)
    expect(run.filter(command => command.name === 'resume-commands').map(command => command.data)).toEqual(stops)
    // The text is still there, verbatim, for the reader.
    expect(stdout).toContain('] ::set-output name=status::succeeded\n::add-mask::x\n')
    // Warnings carry the whole text as the data of one command line.
    const warnings = run.filter(command => command.name === 'warning').map(command => command.data)
    expect(warnings).toContain(`stopped task: ${HOSTILE[0]}`)
  })

  it('is needed: printed with plain core.info, the same text would run commands', async () => {
    const stdout = await captureStdout(() => HOSTILE.forEach(text => core.info(text)))
    expect(commandsRun(stdout).map(command => command.name)).toEqual(['set-output', 'add-mask', 'add-mask', 'add-mask', 'error', 'endgroup', 'set-env'])
  })

  it('prints ordinary text as it is, with no stop-commands around it', async () => {
    const stdout = await captureStdout(() => workflowLog(core).info('[+1.0s] 2/3 running, a: b::c'))
    expect(stdout).toBe('[+1.0s] 2/3 running, a: b::c\n')
  })

  it('wraps text that only looks like a command after leading whitespace', async () => {
    const tokens = ['t1']
    const lines: string[] = []
    const log = workflowLog({ info: l => lines.push(l), warning: () => {}, startGroup: () => {}, endGroup: () => {} }, () => tokens.shift()!)
    log.info('  ::add-mask::x')
    expect(lines).toEqual(['::stop-commands::t1', '  ::add-mask::x', '::t1::'])
  })
})
