// The one retry policy, on a fake clock: throttling is waited out patiently, failures that may have
// run (5xx, timeouts, resets) get a few tries within a time budget, cancellation ends the wait.
import { describe, expect, it } from '@jest/globals'
import { ECS_RETRY } from '../../src/platforms/ecs/client.js'
import { isRetryable, retry, wasNotExecuted, type RetryOptions } from '../../src/rollout/retry.js'

const throttled = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } })
const serverError = Object.assign(new Error('Internal error.'), { name: 'ServerException', $metadata: { httpStatusCode: 500 } })
const timedOut = Object.assign(new Error('a request has exceeded the configured 10000 ms requestTimeout.'), { name: 'TimeoutError', code: 'ETIMEDOUT' })

/** Runs `retry` on a clock that only moves when a try takes time or a sleep happens. */
async function onFakeClock(errors: unknown[], options: Partial<RetryOptions> = {}, tryMs = 0): Promise<{ tries: number; elapsedMs: number; error?: unknown }> {
  let clock = 0
  let tries = 0
  try {
    await retry(async () => {
      clock += tryMs
      if (tries < errors.length) throw errors[tries++]
      tries++
      return 'ok'
    }, { ...ECS_RETRY, ...options, now: () => clock, sleep: async ms => { clock += ms } })
    return { tries, elapsedMs: clock }
  } catch (error) {
    return { tries, elapsedMs: clock, error }
  }
}

describe('the ECS retry policy', () => {
  it('waits out 10 throttled answers in a row, more than any failure gets', async () => {
    const run = await onFakeClock(Array(10).fill(throttled))
    expect(run.error).toBeUndefined()
    expect(run.tries).toBe(11)
  })

  it('gives up throttling after 2 minutes', async () => {
    const run = await onFakeClock(Array(1000).fill(throttled))
    expect(run.error).toBe(throttled)
    expect(run.elapsedMs).toBeLessThan(120_000)
    expect(run.elapsedMs).toBeGreaterThan(100_000)
  })

  it('gives up on server errors after 4 tries', async () => {
    const run = await onFakeClock(Array(10).fill(serverError))
    expect(run.error).toBe(serverError)
    expect(run.tries).toBe(4)
  })

  it('starts no try 20 s after the first timeout: a black hole ends after 2 tries of 10 s', async () => {
    const run = await onFakeClock(Array(10).fill(timedOut), {}, 10_000)
    expect(run.error).toBe(timedOut)
    expect(run.tries).toBe(2)
    expect(run.elapsedMs).toBeLessThan(30_000)
  })

  it('counts the failure budget from the first failure, not from the throttling before it', async () => {
    const run = await onFakeClock([...Array(8).fill(throttled), serverError, serverError, serverError])
    expect(run.error).toBeUndefined()
    expect(run.tries).toBe(12)
  })

  it('stops waiting between tries when cancelled, with the cancellation as the error', async () => {
    const controller = new AbortController()
    const cancelled = new Error('the run was cancelled (SIGINT)')
    setTimeout(() => controller.abort(cancelled), 50)
    await expect(retry(async () => { throw throttled }, { ...ECS_RETRY, baseMs: 60_000, maxMs: 60_000, signal: controller.signal })).rejects.toBe(cancelled)
  })

  it('tells requests that never ran from those that may have', () => {
    expect(wasNotExecuted(throttled)).toBe(true)
    expect(wasNotExecuted(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toBe(true)
    // As the SDK rewraps an error from another realm: the code only in the message.
    expect(wasNotExecuted(new Error('AWS SDK error wrapper for Error: connect ECONNREFUSED 127.0.0.1:1'))).toBe(true)
    expect(wasNotExecuted(Object.assign(new Error('the request socket did not establish a connection with the server within the configured timeout of 3000 ms.'), { name: 'TimeoutError' }))).toBe(true)
    expect(wasNotExecuted(serverError)).toBe(false)
    expect(wasNotExecuted(timedOut)).toBe(false)
    expect(wasNotExecuted(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe(false)
    const rewrappedReset = new Error('AWS SDK error wrapper for TimeoutError: socket hang up')
    expect(wasNotExecuted(rewrappedReset)).toBe(false)
    expect(isRetryable(rewrappedReset)).toBe(true)
  })
})
