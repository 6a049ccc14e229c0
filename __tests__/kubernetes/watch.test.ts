// The list + watch loop on its own: a 410 Gone and a dropped connection make it list again, a clean
// end resumes from the last resourceVersion, forbidden is fatal. A real server rarely answers 410 on
// demand, so a scripted stand-in for our KubeApi plays the server here.
import { describe, expect, it } from '@jest/globals'
import type { KubeApi } from '../../src/platforms/kubernetes/api/client.js'
import { Changes, CollectionWatch } from '../../src/platforms/kubernetes/api/watch.js'

type Item = { metadata: { name: string; resourceVersion: string } }
type Step = { events?: Array<[string, unknown]>; end?: unknown }

function scriptedServer(lists: Item[][], watches: Step[]) {
  const calls: string[] = []
  const api = {
    async list() {
      calls.push('list')
      const items = lists.shift() ?? []
      return { items, metadata: { resourceVersion: items.at(-1)?.metadata.resourceVersion ?? '1' } }
    },
    async watch(_path: string, query: Record<string, unknown>, onEvent: (type: string, object: unknown) => void, done: (error?: unknown) => void) {
      calls.push(`watch@${query.resourceVersion}`)
      const step = watches.shift()
      const controller = new AbortController()
      setTimeout(() => {
        if (!step) return // keep the last watch open until aborted
        for (const [type, object] of step.events ?? []) onEvent(type, object)
        done(step.end)
      }, 5)
      controller.signal.addEventListener('abort', () => done())
      return controller
    }
  }
  return { api: api as unknown as KubeApi, calls }
}

const item = (name: string, rv: string): Item => ({ metadata: { name, resourceVersion: rv } })

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await new Promise(resolve => setTimeout(resolve, 10))
}

describe('CollectionWatch', () => {
  it('resumes after a clean end, lists again after 410 Gone and after a dropped connection', async () => {
    const reset = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNRESET' } })
    const { api, calls } = scriptedServer(
      [[item('a', '10')], [item('a', '20'), item('b', '21')], [item('b', '30')]],
      [
        { events: [['MODIFIED', item('a', '11')]] },
        { events: [['ERROR', { code: 410, reason: 'Expired' }]] },
        { end: reset }
      ]
    )
    const stop = new AbortController()
    const watch = new CollectionWatch<Item>(api, '/api/v1/namespaces/x/pods', {}, new Changes(), stop.signal)
    const running = watch.run()
    await until(() => calls.length >= 7)
    stop.abort()
    await running
    expect(calls).toEqual(['list', 'watch@10', 'watch@11', 'list', 'watch@21', 'list', 'watch@30'])
    expect([...watch.objects.keys()]).toEqual(['b'])
    expect(watch.fatal).toBeUndefined()
  })

  it('stops with a fatal error on forbidden, unless the collection is optional', async () => {
    const forbidden = Object.assign(new Error('Forbidden'), { statusCode: 403 })
    for (const optional of [false, true]) {
      const { api } = scriptedServer([[item('a', '1')]], [{ end: forbidden }])
      const watch = new CollectionWatch<Item>(api, '/api/v1/namespaces/x/events', { optional }, new Changes(), new AbortController().signal)
      await watch.run()
      expect(Boolean(watch.fatal)).toBe(!optional)
    }
  })
})
