import * as core from '@actions/core'
import { describe, expect, it } from '@jest/globals'
import { Progress, workflowLog } from '../../src/rollout/progress.js'
import { DOTNET_WHITESPACE, captureStdout, commandsRun } from '../helpers/workflow-commands.js'

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

  // Every character the runner's parser strips before `::` (.NET's char.IsWhiteSpace) or ends a line at,
  // and the other C0/C1 controls and invisible format characters a reader or another parser might.
  const LEADING = [...new Set([...DOTNET_WHITESPACE, '\u001c', '\u001d', '\u001e', '\u001f', '\u0000', '\u001b', '\u0080', '\u009b', '\u00ad', '\u180e', '\u200b', '\u200e', '\u2060', '\ufeff'])]
  const name = (c: string) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`

  it.each(LEADING.map(c => [name(c), c]))('never lets %s before :: start a command, at the start or after a line break', async (_name, c) => {
    const texts = [`${c}::add-mask::x`, `${c}${c}::set-output name=status::succeeded`, `pod log\n${c}::error::fake`, `pod log${c}::add-mask::y`, `pod log\r${c} ::endgroup::`]
    const stdout = await captureStdout(() => {
      const progress = new Progress(workflowLog(core))
      texts.forEach((text, i) => {
        progress.event(`e${i}`, text)
        progress.reason(`stopped task: ${text}`)
      })
    })
    const run = commandsRun(stdout)
    expect(run.filter(command => !OUR_COMMANDS.includes(command.name))).toEqual([])
    // The text is still there, as it came.
    for (const text of texts) expect(stdout).toContain(text)
  })

  it('is needed for NEL: plain core.info of a line that starts with U+0085 runs the command', async () => {
    const stdout = await captureStdout(() => core.info('\u0085::add-mask::x'))
    expect(commandsRun(stdout).map(command => command.name)).toEqual(['add-mask'])
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
