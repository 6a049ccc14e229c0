import type { Service } from '@aws-sdk/client-ecs'
import { describe, expect, it } from '@jest/globals'
import { assessDeployment, stoppedTaskReason } from '../../src/platforms/ecs/assess.js'
import { Cancelled, Deadline, cancellationOnSignals, formatDuration } from '../../src/rollout/deadline.js'
import { PollSchedule } from '../../src/rollout/poll.js'
import { Progress } from '../../src/rollout/progress.js'
import { isRetryable, isThrottling, retry } from '../../src/rollout/retry.js'

describe('PollSchedule', () => {
  const noJitter = (): number => 0.5
  it('backs off while nothing moves, up to the ceiling', () => {
    const schedule = new PollSchedule({}, noJitter)
    const intervals = Array.from({ length: 10 }, () => schedule.next(false, false))
    expect(intervals[0]).toBe(1500)
    expect(intervals.every((v, i) => i === 0 || v >= intervals[i - 1])).toBe(true)
    expect(intervals[9]).toBe(10_000)
  })

  it('polls fast again when something changes or the end is near', () => {
    const schedule = new PollSchedule({}, noJitter)
    for (let i = 0; i < 8; i++) schedule.next(false, false)
    expect(schedule.next(true, false)).toBe(1000)
    for (let i = 0; i < 8; i++) schedule.next(false, false)
    expect(schedule.next(false, true)).toBe(1000)
  })

  it('slows down beyond the ceiling when throttled', () => {
    const schedule = new PollSchedule({}, noJitter)
    let last = 0
    for (let i = 0; i < 6; i++) last = schedule.throttled()
    expect(last).toBe(30_000)
  })

  it("takes the platform's hint for the next look, but not shorter than a throttled interval", () => {
    const schedule = new PollSchedule({}, noJitter)
    expect(schedule.hinted(25_000, false, false)).toBe(25_000)
    for (let i = 0; i < 4; i++) schedule.throttled()
    // Right after throttling, a hint of 1 s (a bake ending soon) waits the slowed interval instead.
    expect(schedule.hinted(1000, false, false)).toBeGreaterThan(10_000)
    // Once a look went through unthrottled, the hint stands again.
    expect(schedule.hinted(1000, false, false)).toBe(1000)
  })

  it('jitters within ±20%', () => {
    expect(new PollSchedule({}, () => 0).next(true, false)).toBe(800)
    expect(new PollSchedule({}, () => 1).next(true, false)).toBe(1200)
  })
})

describe('assessDeployment', () => {
  const base = { id: 'ecs-svc/2', status: 'PRIMARY', taskDefinition: 'arn:aws:ecs:r:1:task-definition/web:2', desiredCount: 2, runningCount: 1, pendingCount: 1 }
  const old = { id: 'ecs-svc/1', status: 'ACTIVE', taskDefinition: 'arn:aws:ecs:r:1:task-definition/web:1', desiredCount: 2, runningCount: 2, pendingCount: 0 }
  const service = (...deployments: object[]): Service => ({ deployments, deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: true } } }) as Service
  const followed = { deploymentId: 'ecs-svc/2', revision: base.taskDefinition, previousRevision: old.taskDefinition, newEvents: [] }

  it('is progressing while the rollout is IN_PROGRESS', () => {
    expect(assessDeployment(service({ ...base, rolloutState: 'IN_PROGRESS' }, old), followed)).toMatchObject({
      kind: 'progressing',
      nearlyDone: false,
      status: 'IN_PROGRESS, 1/2 running, 1 pending, old: 2 running in 1 deployment'
    })
  })

  it('completes on COMPLETED, or without rolloutState as the only deployment running in full', () => {
    expect(assessDeployment(service({ ...base, rolloutState: 'COMPLETED' }), followed).kind).toBe('completed')
    expect(assessDeployment(service({ ...base, runningCount: 2, pendingCount: 0 }), followed).kind).toBe('completed')
    expect(assessDeployment(service({ ...base, runningCount: 2, pendingCount: 0 }, old), followed).kind).toBe('progressing')
  })

  it('fails on FAILED, naming ECS’s own rollback deployment', () => {
    const rollback = { ...old, id: 'ecs-svc/3', status: 'PRIMARY' }
    const assessment = assessDeployment(service(rollback, { ...base, status: 'ACTIVE', rolloutState: 'FAILED', rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.' }), followed)
    expect(assessment).toMatchObject({ kind: 'failed', reason: 'ECS deployment circuit breaker: tasks failed to start.', restoring: { id: 'ecs-svc/3' } })
  })

  it('fails a deployment that is gone, ECS having put the previous one back', () => {
    expect(assessDeployment(service({ ...old, status: 'PRIMARY' }), followed)).toMatchObject({
      kind: 'failed',
      reason: 'deployment ecs-svc/2 is gone: ECS replaced it with ecs-svc/1 running web:1 (the circuit breaker rolled back)'
    })
  })

  it('explains a stopped task with its containers', () => {
    expect(
      stoppedTaskReason({
        taskArn: 'arn:aws:ecs:r:1:task/c/abc',
        stopCode: 'EssentialContainerExited',
        stoppedReason: 'Essential container in task exited',
        containers: [{ name: 'web', exitCode: 137, reason: 'OutOfMemoryError: Container killed due to memory usage' }, { name: 'log', exitCode: 0 }]
      })
    ).toEqual({ id: 'abc', why: 'EssentialContainerExited: Essential container in task exited (web: OutOfMemoryError: Container killed due to memory usage, exit code 137)' })
  })
})

describe('retry', () => {
  it('retries throttling and 5xx, never an access denial, and never sleeps after the last try', async () => {
    const sleeps: number[] = []
    let calls = 0
    const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' })
    await expect(retry(async () => { calls++; throw throttled }, { attempts: 3, baseMs: 100, maxMs: 1000, sleep: async ms => { sleeps.push(ms) } })).rejects.toBe(throttled)
    expect(calls).toBe(3)
    expect(sleeps).toHaveLength(2)
    const denied = Object.assign(new Error('denied'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } })
    calls = 0
    await expect(retry(async () => { calls++; throw denied }, { attempts: 3, baseMs: 1, maxMs: 1 })).rejects.toBe(denied)
    expect(calls).toBe(1)
    expect(isRetryable({ $metadata: { httpStatusCode: 503 } })).toBe(true)
    expect(isRetryable(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe(true)
    expect(isThrottling({ statusCode: 429 })).toBe(true)
  })
})

describe('Deadline and Progress', () => {
  it('aborts at the deadline and tells timeout from cancellation', async () => {
    const timed = new Deadline(20)
    await new Promise(resolve => setTimeout(resolve, 40))
    expect(timed.stoppedBy).toBe('timeout')
    const controller = new AbortController()
    const cancelled = new Deadline(60_000, controller.signal)
    controller.abort(new Error('SIGTERM'))
    expect(cancelled.stoppedBy).toBe('cancelled')
    cancelled.dispose()
    expect(formatDuration(90_000)).toBe('1m30s')
    expect(formatDuration(3_600_000)).toBe('1h')
  })

  it('prints each event once and a status only when it changes', () => {
    const lines: string[] = []
    const progress = new Progress({ info: l => lines.push(l), warning: l => lines.push(`! ${l}`) }, 0, () => 1500)
    progress.event('e1', 'started 1 task')
    progress.event('e1', 'started 1 task')
    progress.status('1/2 running')
    progress.status('1/2 running')
    progress.reason('task stopped')
    progress.reason('task stopped')
    expect(lines).toEqual(['[+1.5s] started 1 task', '[+1.5s] 1/2 running', '! task stopped'])
    expect(progress.timeline).toEqual([{ atMs: 1500, message: 'task stopped' }])
  })
})

describe('cancellationOnSignals', () => {
  // process.emit runs the listeners as a real signal would, without signalling the test process.
  it('aborts on the first signal and halts after the grace time when the run has not ended', async () => {
    const halts: string[][] = []
    const exits: number[] = []
    const cancellation = cancellationOnSignals({ graceMs: 30, onHalt: signals => halts.push([...signals]), exit: code => exits.push(code) })
    try {
      process.emit('SIGINT')
      expect(cancellation.signal.aborted).toBe(true)
      expect(cancellation.signal.reason).toBeInstanceOf(Cancelled)
      expect(halts).toEqual([])
      await new Promise(resolve => setTimeout(resolve, 80))
      expect(halts).toEqual([['SIGINT']])
      expect(exits).toEqual([1])
    } finally {
      cancellation.dispose()
    }
  })

  it('halts at once on a second signal, once, and never after dispose', async () => {
    const halts: string[][] = []
    const exits: number[] = []
    const cancellation = cancellationOnSignals({ graceMs: 30, onHalt: signals => halts.push([...signals]), exit: code => exits.push(code) })
    process.emit('SIGINT')
    process.emit('SIGTERM')
    expect(halts).toEqual([['SIGINT', 'SIGTERM']])
    await new Promise(resolve => setTimeout(resolve, 80))
    expect(exits).toEqual([1])
    cancellation.dispose()

    const ended = cancellationOnSignals({ graceMs: 10, onHalt: () => halts.push(['late']), exit: code => exits.push(code) })
    const keep = (): void => {}
    process.on('SIGINT', keep) // so that, after dispose, the emit below has a listener and Node does not exit
    try {
      ended.dispose()
      process.emit('SIGINT')
      await new Promise(resolve => setTimeout(resolve, 40))
      expect(halts).toHaveLength(1)
    } finally {
      process.off('SIGINT', keep)
    }
  })

  it('halts even when the short report throws', () => {
    const exits: number[] = []
    const cancellation = cancellationOnSignals({
      onHalt: () => {
        throw new Error('summary file gone')
      },
      exit: code => exits.push(code)
    })
    try {
      process.emit('SIGTERM')
      expect(() => process.emit('SIGTERM')).toThrow('summary file gone')
      expect(exits).toEqual([1])
    } finally {
      cancellation.dispose()
    }
  })
})
