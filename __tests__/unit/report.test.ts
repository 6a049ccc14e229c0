import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseInputs } from '../../src/inputs.js'
import { reportError, reportHalt, reportResult } from '../../src/report/report.js'
import { SUMMARY_MAX_BYTES, codeSpan, fitLines, summaryMarkdown, text } from '../../src/report/summary.js'
import type { RunResult } from '../../src/rollout/engine.js'
import { Progress } from '../../src/rollout/progress.js'
import { captureStdout, commandsRun } from '../helpers/workflow-commands.js'

const request = parseInputs({ INPUT_SERVICE: 'web', 'INPUT_IMAGE-TAG': '1.2.3' })
const ARN = 'arn:aws:ecs:us-east-1:123456789012:task-definition/web:7'

function result(fields: Partial<RunResult> = {}): RunResult {
  return {
    status: 'succeeded',
    ok: true,
    message: 'deployed web:7 in 1m12s',
    revision: ARN,
    images: [{ container: 'web', previous: 'r/web:1.2.2', next: 'r/web:1.2.3' }],
    outputs: {},
    reasons: [],
    progress: new Progress({ info: () => {}, warning: () => {} }),
    renderedPath: '/runner/temp/deploy-service/web-task-definition.json',
    ...fields
  }
}

describe('the job summary', () => {
  it('shows outside text as data: no HTML, links, code spans or table cells of its own', () => {
    const hostile = 'CannotPullContainerError: <img src=x onerror=alert(1)> `rm -rf` [click](https://evil.example) | forged cell'
    const markdown = summaryMarkdown(result({ status: 'failed', ok: false, message: hostile, reasons: [hostile, `log:\n</pre><script>x</script>\n${hostile}`] }), request, 'ecs')
    expect(markdown).not.toMatch(/<img|<script|<\/pre><script/)
    expect(markdown).toContain('&lt;img src=x onerror=alert(1)&gt; \\`rm -rf\\` \\[click\\](https://evil.example) \\| forged cell')
    expect(markdown).toContain('- <pre>log:\n&lt;/pre&gt;&lt;script&gt;x&lt;/script&gt;\n')
    expect(text('a|b\nc')).toBe('a\\|b c')
    expect(codeSpan('a`b|c')).toBe('``a`b\\|c``')
    expect(codeSpan('`x')).toBe('`` `x ``')
  })

  it('says what was applied and where the rollout stood when a run was cancelled', () => {
    const progress = new Progress({ info: () => {}, warning: () => {} })
    progress.step('registered task definition web:7')
    progress.status('IN_PROGRESS, 1/2 running, 1 pending, old: 2 running in 1 deployment')
    const message = 'cancelled while rolling out web:7: the run was cancelled (SIGINT); it was left as it stood, nothing was rolled back'
    const markdown = summaryMarkdown(result({ status: 'failed', ok: false, message, progress }), request, 'ecs')
    expect(markdown).toContain(`\n${message}\n`)
    expect(markdown).toContain(`| revision | \`${ARN}\` |`)
    expect(markdown).toContain('| rollout state at the end | IN\\_PROGRESS, 1/2 running, 1 pending, old: 2 running in 1 deployment |')
    expect(markdown).toMatch(/\| \+\d+\.\ds \| registered task definition web:7 \|/)
    // A run that succeeded has no such row.
    expect(summaryMarkdown(result({ progress }), request, 'ecs')).not.toContain('rollout state at the end')
  })

  it('fences a diff with more backticks than the diff holds, so it cannot close the block', () => {
    const markdown = summaryMarkdown(result({ status: 'dry-run', diff: '-a\n+```\n+````x' }), request, 'ecs')
    expect(markdown).toContain('\n`````diff\n-a\n+```\n+````x\n`````\n')
  })

  it('stays under 1 MiB with a huge diff, timeline and reasons, pointing at the rendered file', () => {
    const progress = new Progress({ info: () => {}, warning: () => {} })
    for (let i = 0; i < 20_000; i++) progress.step(`event ${i}: ${'x'.repeat(200)}`)
    const diff = Array.from({ length: 50_000 }, (_, i) => `+  "line ${i}": "${'y'.repeat(100)}"`).join('\n')
    const reasons = Array.from({ length: 5000 }, (_, i) => `stopped task ${i}: ${'z'.repeat(300)}`)
    const big = result({ status: 'failed', ok: false, diff, reasons, progress, message: 'm'.repeat(2_000_000) })
    const markdown = summaryMarkdown(big, request, 'ecs')
    expect(Buffer.byteLength(markdown)).toBeLessThan(SUMMARY_MAX_BYTES)
    expect(markdown).toMatch(/… \d+ lines of the diff left out here; the rendered file \/runner\/temp\/deploy-service\/web-task-definition\.json has the whole result/)
    expect(markdown).toMatch(/\| … \| \d+ entries left out here; the step's log and `\/runner\/temp\/deploy-service\/web-task-definition\.json` have all of it \|/)
    expect(markdown).toMatch(/- … \d+ more left out here/)
    // How it began and how it ended are both kept.
    expect(markdown).toContain('event 0: ')
    expect(markdown).toContain('event 19999: ')
    expect(markdown).toContain('"line 49999"')
  })

  it('keeps every line when they fit', () => {
    expect(fitLines(['a', 'b'], 100, () => 'cut')).toEqual(['a', 'b'])
    expect(fitLines(['aaaa', 'bbbb', 'cccc', 'dddd'], 16, n => `${n} cut`)).toEqual(['aaaa', '2 cut', 'dddd'])
  })
})

describe('reporting on a broken runner', () => {
  const saved = { ...process.env }
  let dir: string
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'report-'))
  })
  afterEach(() => {
    process.env = { ...saved }
    process.exitCode = undefined
  })

  it('warns when outputs and summary cannot be written, and a good deploy stays good', async () => {
    process.env.GITHUB_OUTPUT = path.join(dir, 'missing', 'output')
    process.env.GITHUB_STEP_SUMMARY = dir // a folder: not writable as a file
    const stdout = await captureStdout(() => reportResult(result(), request, 'ecs'))
    expect(process.exitCode).toBeUndefined()
    const warnings = commandsRun(stdout).filter(c => c.name === 'warning').map(c => c.data)
    expect(warnings).toEqual([
      expect.stringMatching(/^Could not write the step outputs \(status, revision, .*\): Missing file at path: .*missing\/output\. Is GITHUB_OUTPUT a writable file\?/),
      expect.stringMatching(/^Could not write the job summary: .*\. Is GITHUB_STEP_SUMMARY a writable file\? The deploy's result is not affected\.$/)
    ])
    expect(commandsRun(stdout).filter(c => c.name === 'error')).toEqual([])
    expect(stdout).toContain('deployed web:7 in 1m12s')
  })

  it('prints the final line as data when it carries outside text', async () => {
    process.env.GITHUB_OUTPUT = path.join(dir, 'output')
    process.env.GITHUB_STEP_SUMMARY = path.join(dir, 'summary')
    fs.writeFileSync(process.env.GITHUB_OUTPUT, '')
    fs.writeFileSync(process.env.GITHUB_STEP_SUMMARY, '')
    const message = 'deployed web:7 (another run redeployed it: event said\n::add-mask::x\n::set-output name=status::failed)'
    const stdout = await captureStdout(() => reportResult(result({ message }), request, 'ecs'))
    // (@actions/core keeps the summary file of an earlier test: its warning is not what this is about.)
    expect(commandsRun(stdout).filter(c => c.name !== 'warning')).toEqual([expect.objectContaining({ name: 'stop-commands' }), expect.objectContaining({ name: 'resume-commands' })])
    expect(stdout).toContain(message)
    expect(process.exitCode).toBeUndefined()
  })

  it('still fails a failed run once, with its message, when nothing can be written', async () => {
    process.env.GITHUB_OUTPUT = path.join(dir, 'missing', 'output')
    process.env.GITHUB_STEP_SUMMARY = path.join(dir, 'missing', 'summary')
    const stdout = await captureStdout(() => reportError(new Error('could not describe service'), new Progress({ info: () => {}, warning: () => {} })))
    expect(process.exitCode).toBe(1)
    expect(commandsRun(stdout).filter(c => c.name === 'error').map(c => c.data)).toEqual(['nothing was changed: could not describe service'])
    // The stack of an unexpected error is printed, folded, for a bug report.
    expect(stdout).toMatch(/::group::Stack trace of the unexpected error[^\n]*\nError: could not describe service\n\s+at .*__tests__\/unit\/report\.test\.ts/)
  })

  it('writes a short report at once when a cancelled run does not stop in time', async () => {
    const output = path.join(dir, 'output')
    const summary = path.join(dir, 'summary')
    fs.writeFileSync(output, '')
    fs.writeFileSync(summary, '')
    process.env.GITHUB_OUTPUT = output
    process.env.GITHUB_STEP_SUMMARY = summary
    const progress = new Progress({ info: () => {}, warning: () => {} })
    progress.step('registered web:7; service web updated')
    progress.changing = true
    progress.status('IN_PROGRESS, 1/2 running, 1 pending')
    const stdout = await captureStdout(() => reportHalt(['SIGINT', 'SIGTERM'], progress))
    const message =
      'cancelled (SIGINT, then SIGTERM) and the run did not stop in time: the change had been applied and was left as it stood, nothing was rolled back; last step: registered web:7; service web updated; where the rollout stood: IN_PROGRESS, 1/2 running, 1 pending'
    expect(commandsRun(stdout).filter(c => c.name === 'error').map(c => c.data)).toEqual([message])
    expect(fs.readFileSync(output, 'utf8')).toMatch(/^status<<(\S+)\nfailed\n\1$/m)
    expect(fs.readFileSync(summary, 'utf8')).toContain('## ❌ deploy-service cancelled')
    expect(fs.readFileSync(summary, 'utf8')).toContain('| registered web:7; service web updated |')
  })
})
