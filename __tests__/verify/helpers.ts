// A local HTTP server whose answers each test scripts, and a wait context for the checks.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Deadline } from '../../src/rollout/deadline.js'
import type { WaitContext } from '../../src/rollout/platform.js'
import { Progress } from '../../src/rollout/progress.js'

export type Handler = (request: http.IncomingMessage, response: http.ServerResponse, count: number) => void

export interface TestServer {
  url: string
  /** Requests per path. */
  counts: Map<string, number>
  /** Requests as they came (method, url). */
  requests: string[]
  close(): Promise<void>
}

export async function serve(routes: Record<string, Handler>): Promise<TestServer> {
  const counts = new Map<string, number>()
  const requests: string[] = []
  const sockets = new Set<import('node:net').Socket>()
  const server = http.createServer((request, response) => {
    const pathname = new URL(request.url ?? '/', 'http://x').pathname
    const count = (counts.get(pathname) ?? 0) + 1
    counts.set(pathname, count)
    requests.push(`${request.method} ${request.url}`)
    const handler = routes[pathname]
    if (!handler) {
      response.writeHead(404).end('no such route')
      return
    }
    handler(request, response, count)
  })
  server.on('connection', socket => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    requests,
    close: () =>
      new Promise<void>(resolve => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
  }
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = http.createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>(resolve => server.close(() => resolve()))
  return port
}

export function context(timeoutMs: number, cancel?: AbortSignal): { context: WaitContext; lines: string[]; dispose(): void } {
  const lines: string[] = []
  const progress = new Progress({ info: line => lines.push(line), warning: line => lines.push(`WARNING ${line}`) })
  const signal = cancel ?? new AbortController().signal
  const deadline = new Deadline(timeoutMs, signal)
  return { context: { deadline, progress, cancel: signal }, lines, dispose: () => deadline.dispose() }
}
