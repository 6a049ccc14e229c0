// The engine's own decisions, driven through a scripted Platform (no SDK or server involved: what is
// tested here is what the engine does with each outcome a platform reports).
import { describe, expect, it } from '@jest/globals'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseInputs } from '../../src/inputs.js'
import type { Plan, Platform, Rollout, WaitContext, WaitOutcome } from '../../src/rollout/platform.js'
import { runDeployment, safeFileName, writeRendered } from '../../src/rollout/engine.js'
import { Cancelled } from '../../src/rollout/deadline.js'
import { Progress } from '../../src/rollout/progress.js'

const outputDir = fs.mkdtempSync(path.join(os.tmpdir(), 'engine-outcomes-'))

function request(inputs: Record<string, string> = {}) {
  const env = Object.fromEntries(Object.entries({ service: 'web', 'image-tag': '2.0.0', platform: 'ecs', timeout: '5s', ...inputs }).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, v]))
  return parseInputs({ ...env, RUNNER_TEMP: outputDir, GITHUB_SHA: 'abc' })
}

interface Script {
  /** What each wait answers, in turn: the first for our rollout, the second for the rollback. */
  waits: Array<(context: WaitContext) => Promise<WaitOutcome>>
  undo?: (context: WaitContext) => Promise<Rollout>
}

/** A platform whose rollouts answer as scripted, recording what the engine asked of it. */
function scripted(script: Script) {
  const calls: string[] = []
  let waits = 0
  const rollout = (revision: string): Rollout => ({
    revision,
    previousRevision: '1',
    outputs: {},
    wait: async context => {
      calls.push(`wait ${revision}`)
      return script.waits[waits++](context)
    },
    undo: async context => {
      calls.push(`undo ${revision}`)
      return script.undo ? script.undo(context) : rollout('3')
    }
  })
  const plan: Plan = {
    text: 'secret-value',
    redactedText: 'redacted',
    fileName: 'web.json',
    images: [],
    previousRevision: '1',
    description: 'web 1 -> 2',
    dryRun: async () => '',
    checkedBy: 'a test',
    apply: async () => {
      calls.push('apply')
      return rollout('2')
    }
  }
  const platform: Platform = {
    name: 'ecs',
    prepareDeploy: async () => plan,
    prepareRollback: async () => plan,
    render: async () => plan
  }
  return { platform, calls }
}

function progress(log: string[] = []): Progress {
  return new Progress({ info: line => log.push(line), warning: line => log.push(`warning: ${line}`) })
}

describe('the engine', () => {
  it('reports a superseded rollout as such and never rolls it back', async () => {
    const { platform, calls } = scripted({ waits: [async () => ({ state: 'superseded', reason: 'web:9 runs now (deployed by commit def)' })] })
    const result = await runDeployment(request(), platform, progress())
    expect(result).toMatchObject({ status: 'superseded', ok: false })
    expect(result.message).toContain('web:9 runs now')
    expect(result.message).toContain('nothing was rolled back')
    expect(calls).toEqual(['apply', 'wait 2'])
    expect(result.rollback).toBeUndefined()
  })

  it('says how a success came about when the platform notes it', async () => {
    const { platform } = scripted({ waits: [async () => ({ state: 'succeeded', note: 'completed by another deploy of the same revision' })] })
    const result = await runDeployment(request(), platform, progress())
    expect(result).toMatchObject({ status: 'succeeded', ok: true })
    expect(result.message).toContain('completed by another deploy of the same revision')
  })

  it("reports 'applied', not 'succeeded', when it does not wait", async () => {
    const { platform, calls } = scripted({ waits: [] })
    const result = await runDeployment(request({ wait: 'false' }), platform, progress())
    expect(result).toMatchObject({ status: 'applied', ok: true })
    expect(calls).toEqual(['apply'])
  })

  it('reports a cancellation during the wait for the rollback as a cancellation, not as an unhealthy rollback', async () => {
    const cancel = new AbortController()
    const { platform, calls } = scripted({
      waits: [
        async () => ({ state: 'failed', reason: 'tasks keep crashing' }),
        async context => {
          cancel.abort(new Cancelled('SIGINT'))
          return { state: 'cancelled', reason: `${String(context.deadline.signal.reason)}` }
        }
      ]
    })
    const result = await runDeployment(request(), platform, progress(), cancel.signal)
    expect(calls).toEqual(['apply', 'wait 2', 'undo 2', 'wait 3'])
    expect(result.status).toBe('failed')
    expect(result.message).toMatch(/the rollback to 3 was started, then the run was cancelled/)
    expect(result.message).not.toMatch(/did not become healthy|and so did the rollback/)
    expect(result.reasons.join('\n')).not.toMatch(/did not become healthy/)
  })

  it('reports a rollback that another deploy replaced as superseded, not as an unhealthy rollback', async () => {
    const { platform, calls } = scripted({
      waits: [async () => ({ state: 'failed', reason: 'tasks keep crashing' }), async () => ({ state: 'superseded', reason: 'web:9 runs now' })]
    })
    const result = await runDeployment(request(), platform, progress())
    expect(calls).toEqual(['apply', 'wait 2', 'undo 2', 'wait 3'])
    expect(result).toMatchObject({ status: 'superseded', ok: false, rollback: { revision: '3', healthy: false } })
    expect(result.message).toMatch(/the rollback to 3 was superseded by another deploy \(web:9 runs now\)/)
    expect(result.message).not.toMatch(/did not become healthy|and so did the rollback/)
  })

  it('gives the rollback a deadline of its own, which the undo receives', async () => {
    let undoSignal: AbortSignal | undefined
    let abortedAtUndo: boolean | undefined
    let waitSignal: AbortSignal | undefined
    const { platform } = scripted({
      waits: [
        async context => {
          waitSignal = context.deadline.signal
          return { state: 'timed-out', reason: 'did not finish' }
        },
        async () => ({ state: 'succeeded' })
      ],
      undo: async context => {
        undoSignal = context.deadline.signal
        abortedAtUndo = undoSignal.aborted
        return { revision: '3', outputs: {}, wait: async () => ({ state: 'succeeded' }), undo: async () => { throw new Error('no') } }
      }
    })
    const result = await runDeployment(request(), platform, progress())
    expect(result).toMatchObject({ status: 'rolled-back', rollback: { revision: '3', healthy: true } })
    expect(undoSignal).toBeDefined()
    expect(undoSignal).not.toBe(waitSignal)
    expect(abortedAtUndo).toBe(false)
  })

  it('says a rollback that a cancellation interrupted may not have been made', async () => {
    const cancel = new AbortController()
    const { platform } = scripted({
      waits: [async () => ({ state: 'failed', reason: 'crash' })],
      undo: async () => {
        cancel.abort(new Cancelled('SIGTERM'))
        throw new Error('aborted')
      }
    })
    const result = await runDeployment(request(), platform, progress(), cancel.signal)
    expect(result.status).toBe('failed')
    expect(result.message).toMatch(/cancelled while rolling back .*SIGTERM.*may not have been made/)
  })

  it('prints the redacted render and writes the whole one to the file', async () => {
    const { platform } = scripted({ waits: [] })
    const log: string[] = []
    const result = await runDeployment(request({ mode: 'render' }), platform, progress(log))
    expect(log.join('\n')).toContain('redacted')
    expect(log.join('\n')).not.toContain('secret-value')
    expect(fs.readFileSync(result.renderedPath!, 'utf8')).toBe('secret-value')
  })
})

describe('rendered file names', () => {
  it('keep a name from template content inside the output folder', async () => {
    for (const hostile of ['../../x-task-definition.json', '/etc/passwd', '..', '.', 'a/../../b', 'web\u0000.json', '']) {
      const file = await writeRendered(request(), hostile, 'x')
      expect(path.dirname(file)).toBe(path.resolve(outputDir, 'deploy-service'))
      expect(path.basename(file)).not.toMatch(/^\.+$/)
    }
    expect(safeFileName('web-task-definition.json')).toBe('web-task-definition.json')
    expect(safeFileName('../../x')).toMatch(/^[^./][^/]*$/)
  })
})
