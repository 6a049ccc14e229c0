// verify-url: what the server answers (status text, body) is cleaned like the rest of the reason: a
// server that echoes the requested URL never shows its credentials or query values.
import { afterAll, beforeAll, expect, it } from '@jest/globals'
import { verifyRollout } from '../../src/verify/index.js'
import { context, serve, type TestServer } from '../verify/helpers.js'

let server: TestServer
beforeAll(async () => {
  server = await serve({
    '/health': (q, r) => r.writeHead(503, { 'content-type': 'text/plain' }).end(`not ready: GET http://deployer:pa55word-x@${q.headers.host}${q.url} failed`)
  })
})
afterAll(() => server.close())

it('masks the URL where the answer quotes it', async () => {
  const url = server.url.replace('http://', 'http://deployer:pa55word-x@') + '/health?token=s3cr3t-t0ken'
  const { context: ctx, lines, dispose } = context(1500)
  try {
    const result = await verifyRollout({ url, statuses: [[200, 299]], timeoutMs: 1500 }, {}, ctx)
    const reason = (result as { reason: string }).reason
    expect(result.ok).toBe(false)
    expect(reason).toContain('answered 503')
    expect(reason).toContain('not ready: GET http://***@127.0.0.1:')
    for (const secret of ['pa55word-x', 's3cr3t-t0ken']) expect(`${reason}\n${lines.join('\n')}`).not.toContain(secret)
  } finally {
    dispose()
  }
})
