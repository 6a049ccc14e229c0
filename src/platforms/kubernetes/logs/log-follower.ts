// Follows one container's log (`follow=true`) and prints each line through Progress as data (never
// a workflow command; the runner masks secrets in whatever is printed). The one reader of a log
// stream: the pre-deploy Job's pod and the live logs of our revision's pods while waiting.
import { Writable } from 'node:stream'
import { Log } from '@kubernetes/client-node'
import { errorMessage } from '../../../errors.js'
import { sleep } from '../../../rollout/poll.js'
import type { Progress } from '../../../rollout/progress.js'
import type { KubeApi } from '../api/client.js'
import type { LogBudget } from '../../../rollout/log-budget.js'

// Shared with ECS (src/rollout/log-budget.ts); exported here too for the callers that import it from here.
export { LogBudget } from '../../../rollout/log-budget.js'

const TAIL_LINES = 20
/** After the container ended, how long the log stream may take to deliver its last lines. */
const LOG_DRAIN_MS = 1000

/** Waits for `promise` at most `ms`; the timer goes as soon as it settles (nothing left to keep a process alive). */
async function within(promise: Promise<void>, ms: number): Promise<void> {
  const timeout = new AbortController()
  await Promise.race([promise.finally(() => timeout.abort()), sleep(ms, timeout.signal)])
}

/** The lines of one container's log, printed as they come (as data) and kept for the verdict. */
export class LogFollower {
  readonly tail: string[] = []
  lines = 0
  private partial = ''
  private dropped = 0
  private controller?: AbortController
  private done?: Promise<void>
  private stopped = false

  private readonly progress: Progress
  private readonly label: string
  private readonly key: string
  private readonly budget?: LogBudget

  /** `key` keeps the lines of two followers apart in Progress (one event per line). */
  constructor(progress: Progress, label: string, key = 'pre-deploy', budget?: LogBudget) {
    this.progress = progress
    this.label = label
    this.key = key
    this.budget = budget
  }

  get started(): boolean {
    return this.done !== undefined
  }

  /** Follows the log of `pod` until `stop()`; a stream that fails is left, the tail is read at the end. */
  start(api: KubeApi, namespace: string, pod: string, container: string): void {
    const sink = new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        this.add(chunk.toString('utf8'))
        callback()
      }
    })
    // The client pipes the response into `sink` and leaves the response's errors unhandled: ending the
    // stream (abort) would otherwise crash the process.
    sink.on('pipe', source => source.on('error', () => undefined))
    this.done = new Log(api.config)
      .log(namespace, pod, container, sink, { follow: true })
      .then(controller => {
        this.controller = controller
        // Stopped while the request was still on its way: a stream that never ends (kwok's) would outlive the run.
        if (this.stopped) controller.abort()
        return new Promise<void>(resolve => {
          sink.on('finish', () => resolve())
          sink.on('close', () => resolve())
          controller.signal.addEventListener('abort', () => resolve(), { once: true })
        })
      })
      .catch(error => {
        this.progress.event(`${this.key}-log-error:${pod}`, `could not follow the log of pod ${pod}: ${errorMessage(error)}; its last lines are read when it ends`)
      })
  }

  /** Lets the stream deliver what is left (a kubelet ends it when the container exits), then ends it. */
  async stop(drainMs = LOG_DRAIN_MS): Promise<void> {
    if (!this.done) return
    await within(this.done, drainMs)
    this.stopped = true
    this.controller?.abort()
    // A log request still waiting for its answer is not waited for long.
    await within(this.done, 1000)
    this.flush()
  }

  progressEvent(message: string): void {
    this.progress.event(`${this.key}-log-note:${message}`, message)
  }

  add(text: string): void {
    const parts = (this.partial + text).split(/\r?\n/)
    this.partial = parts.pop() ?? ''
    for (const line of parts) this.line(line)
  }

  flush(): void {
    if (this.partial) this.line(this.partial)
    this.partial = ''
  }

  private line(line: string): void {
    this.lines++
    this.tail.push(line)
    if (this.tail.length > TAIL_LINES) this.tail.shift()
    const allowed = this.budget?.take() ?? true
    if (allowed !== true) {
      this.dropped++
      // Said once per cause for the whole wait (the key has no pod), with the bound that cut it.
      const why = allowed === 'total' ? 'no more live log lines are shown' : 'live log lines are being dropped (too many at once)'
      this.progress.event(`${this.key}-log-cut:${allowed}`, `${why}: the bound is ${this.budget!.limitsText} (kubectl logs shows them all)`)
      return
    }
    // Through Progress, one event per line: text from the pod is shown, never run as a workflow command.
    this.progress.event(`${this.key}-log:${this.label}:${this.lines}`, `${this.label}: ${line}`)
  }
}
