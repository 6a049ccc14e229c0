// verify-url against a real local HTTP server: the answers a settling service gives.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { verifyRollout } from '../../src/verify/index.js'
import { maskedUrl } from '../../src/verify/url.js'
import { closedPort, context, serve, type TestServer } from './helpers.js'

const settings = (url: string, more: { statuses?: Array<[number, number]>; text?: string; timeoutMs?: number } = {}) => ({ url, statuses: more.statuses ?? [[200, 299] as [number, number]], text: more.text, timeoutMs: more.timeoutMs ?? 10_000 })

describe('verify-url', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await serve({
      '/ok': (_q, r) => r.writeHead(200, { 'content-type': 'text/plain' }).end('all good: version 2.0.0'),
      '/flaky': (_q, r, n) => (n <= 1 ? r.writeHead(500).end('starting up') : r.writeHead(200).end('ready')),
      '/down': (_q, r) => r.writeHead(503, { 'content-type': 'text/html' }).end('<html>\n  <body>upstream connect error or disconnect/reset before headers</body>\n</html>'),
      '/slow': (_q, r) => {
        const timer = setTimeout(() => r.writeHead(200).end('late'), 30_000)
        r.on('close', () => clearTimeout(timer))
      },
      '/hangs-once': (_q, r, n) => {
        if (n > 1) return void r.writeHead(200).end('fine now')
        const timer = setTimeout(() => r.writeHead(200).end('late'), 30_000)
        r.on('close', () => clearTimeout(timer))
      },
      '/old': (_q, r) => r.writeHead(200).end('version 1.9.0'),
      '/created': (_q, r) => r.writeHead(201).end('made')
    })
  })
  afterAll(() => server.close())

  async function check(url: string, timeoutMs: number, more: Parameters<typeof settings>[1] = {}) {
    const { context: ctx, lines, dispose } = context(timeoutMs)
    const started = Date.now()
    try {
      const result = await verifyRollout(settings(url, more), {}, ctx)
      return { result, lines, log: lines.join('\n'), ms: Date.now() - started }
    } finally {
      dispose()
    }
  }

  it('passes at the first 200', async () => {
    const { result, log } = await check(`${server.url}/ok`, 5000)
    expect(result).toEqual({ ok: true })
    expect(log).toContain(`${server.url}/ok answered 200 OK after 1 try`)
  })

  it('tries again after a 500 and passes at the 200 that follows', async () => {
    const { result, log } = await check(`${server.url}/flaky`, 10_000)
    expect(result).toEqual({ ok: true })
    expect(server.counts.get('/flaky')).toBe(2)
    expect(log).toContain('answered 500 Internal Server Error: "starting up"; trying again')
  })

  it('fails on a service that always answers 503, naming the status and a body excerpt, within its timeout', async () => {
    const { result, ms } = await check(`${server.url}/down`, 3000)
    expect(result.ok).toBe(false)
    const reason = (result as { reason: string }).reason
    expect(reason).toContain(`GET ${server.url}/down never answered 2xx`)
    expect(reason).toContain('answered 503 Service Unavailable: "<html> <body>upstream connect error or disconnect/reset before headers</body> </html>"')
    expect(server.counts.get('/down')).toBeGreaterThan(1)
    expect(ms).toBeLessThan(4500)
  })

  it('bounds each request: a server that never answers fails at the deadline, saying so', async () => {
    const { result, ms } = await check(`${server.url}/slow`, 2000)
    expect(result.ok).toBe(false)
    expect((result as { reason: string }).reason).toMatch(/got no answer (within|in the \d+s left before the deadline)/)
    expect(ms).toBeLessThan(4000)
  })

  it('gives up on a hung request in time to try again', async () => {
    const { result, log } = await check(`${server.url}/hangs-once`, 6000)
    expect(result).toEqual({ ok: true })
    expect(log).toMatch(/got no answer within 2\.0s; trying again/)
  })

  it('names a refused connection', async () => {
    const port = await closedPort()
    const { result, log } = await check(`http://127.0.0.1:${port}/health`, 2000)
    expect(result.ok).toBe(false)
    expect((result as { reason: string }).reason).toContain('failed: the connection was refused (ECONNREFUSED)')
    // Each distinct answer is printed once, however many tries repeat it.
    expect(log.match(/connection was refused/g)).toHaveLength(1)
  })

  it('fails when the expected text is missing from a 200, with the body excerpt', async () => {
    const { result } = await check(`${server.url}/old`, 2000, { text: 'version 2.0.0' })
    expect(result.ok).toBe(false)
    expect((result as { reason: string }).reason).toContain(`answered 200 OK without 'version 2.0.0' in the body: "version 1.9.0"`)
  })

  it('passes when the text is there, and honours verify-status', async () => {
    expect((await check(`${server.url}/ok`, 2000, { text: 'version 2.0.0' })).result).toEqual({ ok: true })
    expect((await check(`${server.url}/created`, 2000, { statuses: [[201, 201]] })).result).toEqual({ ok: true })
    const strict = await check(`${server.url}/ok`, 1500, { statuses: [[204, 204]] })
    expect((strict.result as { reason: string }).reason).toContain('never answered 204')
  })

  it('never prints credentials or query values of the URL', async () => {
    const url = `http://deployer:pa55word-x@127.0.0.1:${(await closedPort())}/health?token=s3cr3t-t0ken&x=1`
    const { result, log } = await check(url, 1500)
    const text = `${log}\n${(result as { reason: string }).reason}`
    for (const secret of ['deployer', 'pa55word-x', 's3cr3t-t0ken']) expect(text).not.toContain(secret)
    expect(text).toContain('http://***@127.0.0.1:')
    expect(text).toContain('/health?token=***&x=***')
  })

  it('registers the hidden parts of a URL as secrets', () => {
    const registered: string[] = []
    const shown = maskedUrl('https://user:p%40ss@example.com/a/b?key=abcdef&flag=on#frag-token', s => registered.push(s))
    expect(shown).toBe('https://***@example.com/a/b?key=***&flag=***')
    expect(registered).toEqual(expect.arrayContaining(['user', 'p@ss', 'abcdef']))
    expect(maskedUrl('https://example.com/health', s => registered.push(s))).toBe('https://example.com/health')
  })

  it('stops at once when the run is cancelled', async () => {
    const cancel = new AbortController()
    setTimeout(() => cancel.abort(new Error('the run was cancelled (SIGINT)')), 700)
    const { context: ctx, dispose } = context(30_000, cancel.signal)
    const started = Date.now()
    const result = await verifyRollout(settings(`${server.url}/down`), {}, ctx)
    dispose()
    expect(result.ok).toBe(false)
    expect((result as { reason: string }).reason).toContain('cancelled while checking')
    expect(Date.now() - started).toBeLessThan(3000)
  })
})
