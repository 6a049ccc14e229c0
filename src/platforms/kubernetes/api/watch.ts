import { errorMessage } from '../../../errors.js'
import { sleep } from '../../../rollout/poll.js'
import { isRetryable } from '../../../rollout/retry.js'
import type { KubeApi } from './client.js'
import { isUnauthorized } from './credentials.js'

interface Meta {
  metadata?: { name?: string; resourceVersion?: string }
}

/** Wakes up whoever waits for the next change of any watched collection. */
export class Changes {
  private waiters: Array<() => void> = []

  notify(): void {
    const waiters = this.waiters
    this.waiters = []
    waiters.forEach(wake => wake())
  }

  /** Resolves at the next change, after `maxMs`, or when `signal` aborts, whichever comes first. */
  next(maxMs: number, signal: AbortSignal): Promise<void> {
    return new Promise(resolve => {
      const done = (): void => {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, maxMs)
      signal.addEventListener('abort', done, { once: true })
      this.waiters.push(done)
    })
  }
}

export interface WatchOptions {
  labelSelector?: string
  fieldSelector?: string
  /** Failures to list or watch it (e.g. no permission for events) are ignored, not fatal. */
  optional?: boolean
}

/**
 * One collection (the pods of a namespace, say) kept current by list + watch: a watch that ends
 * cleanly is resumed from the last resourceVersion; one that fails, drops, or answers 410 Gone makes
 * us list again, after a short backoff while the server is away (a kube-apiserver restart).
 */
export class CollectionWatch<T extends Meta> {
  readonly objects = new Map<string, T>()
  /** Listed at least once: the objects are worth reading. */
  synced = false
  /** A failure that retrying will not fix (e.g. forbidden). */
  fatal?: Error
  /** The last transient failure, for the progress log. */
  trouble?: string
  private resourceVersion = ''
  private readonly api: KubeApi
  private readonly path: string
  private readonly options: WatchOptions
  private readonly changes: Changes
  private readonly signal: AbortSignal

  constructor(api: KubeApi, path: string, options: WatchOptions, changes: Changes, signal: AbortSignal) {
    this.api = api
    this.path = path
    this.options = options
    this.changes = changes
    this.signal = signal
  }

  /** Runs until `signal` aborts or a fatal error; never throws. */
  async run(): Promise<void> {
    let backoffMs = 500
    // A watch refused with 401 gets fresh credentials once; refused again, it ends saying what expired.
    let renewed = false
    while (!this.signal.aborted) {
      const generation = this.api.credentialsGeneration
      try {
        if (!this.resourceVersion) await this.list()
        const startedAt = Date.now()
        const ended = await this.watchOnce()
        if (ended === 'gone') this.resourceVersion = ''
        // A watch the server ends at once (e.g. while shutting down) must not become a busy loop.
        if (Date.now() - startedAt < 1000) await sleep(500, this.signal)
        backoffMs = 500
        renewed = false
      } catch (error) {
        if (this.signal.aborted) return
        if (isUnauthorized(error)) {
          if (!renewed) {
            renewed = true
            await this.api.renewCredentials(generation).catch(() => undefined)
            continue
          }
          this.fatal = this.api.credentialsRefused(`watch ${this.path}`)
          this.changes.notify()
          return
        }
        this.resourceVersion = ''
        if (!isRetryable(error) && !isDisconnect(error)) {
          if (!this.options.optional) this.fatal = error instanceof Error ? error : new Error(errorMessage(error))
          // An optional collection we may not read counts as empty, so the rollout is still followed.
          else this.synced = true
          this.changes.notify()
          return
        }
        this.trouble = errorMessage(error)
        this.changes.notify()
        await sleep(backoffMs, this.signal)
        backoffMs = Math.min(backoffMs * 2, 4000)
      }
    }
  }

  private async list(): Promise<void> {
    const list = await this.api.list<T>(this.path, { labelSelector: this.options.labelSelector, fieldSelector: this.options.fieldSelector })
    this.objects.clear()
    for (const item of list.items) this.objects.set(item.metadata?.name ?? '', item)
    this.resourceVersion = list.metadata?.resourceVersion ?? ''
    this.synced = true
    this.trouble = undefined
    this.changes.notify()
  }

  /** One watch request, from the last resourceVersion; resolves when it ends, rejects when it failed. */
  private watchOnce(): Promise<'closed' | 'gone'> {
    return new Promise((resolve, reject) => {
      let gone = false
      let controller: AbortController | undefined
      const stop = (): void => controller?.abort()
      this.signal.addEventListener('abort', stop, { once: true })
      const query = {
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds: 25,
        labelSelector: this.options.labelSelector,
        fieldSelector: this.options.fieldSelector
      }
      const onEvent = (type: string, object: unknown): void => {
        if (type === 'ERROR') {
          // 410 Gone: the resourceVersion is too old to resume from; list again.
          gone = gone || (object as { code?: number })?.code === 410
          return
        }
        const item = object as T
        if (item?.metadata?.resourceVersion) this.resourceVersion = item.metadata.resourceVersion
        if (type === 'BOOKMARK') return
        const name = item.metadata?.name ?? ''
        if (type === 'DELETED') this.objects.delete(name)
        else this.objects.set(name, item)
        this.changes.notify()
      }
      const done = (error?: unknown): void => {
        this.signal.removeEventListener('abort', stop)
        if (error && !this.signal.aborted && !gone) reject(error)
        else resolve(gone ? 'gone' : 'closed')
      }
      this.api.watch(this.path, query, onEvent, done).then(
        c => {
          controller = c
          if (this.signal.aborted) c.abort()
        },
        error => done(error ?? new Error('the watch could not start'))
      )
    })
  }
}

/** A dropped watch connection (server restarted, proxy timeout): list again and carry on. */
function isDisconnect(error: unknown): boolean {
  const e = error as { name?: string; statusCode?: number; code?: unknown; message?: string }
  if (e?.statusCode === 410 || e?.code === 410) return true
  return e?.name === 'TimeoutError' || e?.name === 'AbortError' || /terminated|other side closed|socket|ECONN|fetch failed/i.test(e?.message ?? '')
}
