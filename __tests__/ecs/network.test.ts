// The ECS transport against real local servers: an endpoint that accepts and never answers, a closed
// port, a proxy that answers HTML, a throttling proxy, and a proxy that loses RegisterTaskDefinition's
// answer after moto registered. Each ends with a message that says what happened; the times are
// measured in bench/ecs.mjs, not here.
import { ListTaskDefinitionsCommand, type ECSClient } from '@aws-sdk/client-ecs'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import http from 'node:http'
import net from 'node:net'
import { EcsApi } from '../../src/platforms/ecs/client.js'
import { freePort, startMoto, type MotoServer } from '../../test/support/moto.js'
import { seedService } from '../helpers/ecs-state.js'
import { ecsClient, runEcs } from '../helpers/run.js'

let moto: MotoServer
let client: ECSClient

beforeAll(async () => {
  moto = await startMoto()
  client = ecsClient(moto.endpoint)
  await seedService(client, 'shop', 'web')
})

afterAll(async () => {
  await moto.stop()
})

/** A TCP server that accepts every connection and never says a word. */
async function blackHole(): Promise<{ endpoint: string; connections: () => number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>()
  let connections = 0
  const server = net.createServer(socket => {
    connections++
    sockets.add(socket)
    socket.on('error', () => undefined)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  return {
    endpoint: `http://127.0.0.1:${port}`,
    connections: () => connections,
    close: () => {
      sockets.forEach(socket => socket.destroy())
      return new Promise(resolve => server.close(() => resolve()))
    }
  }
}

type Answer = { status: number; headers: Record<string, string>; body: string }

/**
 * An HTTP server in front of moto. `decide` sees each request's ECS operation and either answers in
 * moto's place, or lets it through; `after` may replace moto's answer once it was made, drop the
 * connection ('reset') or never answer ('hang').
 */
async function proxy(options: {
  decide?: (operation: string) => Answer | undefined
  after?: (operation: string, answer: Answer) => Answer | 'reset' | 'hang' | undefined
}): Promise<{ endpoint: string; operations: string[]; close(): Promise<void> }> {
  const operations: string[] = []
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', chunk => chunks.push(chunk))
    request.on('end', async () => {
      const operation = String(request.headers['x-amz-target'] ?? '').split('.').pop() ?? ''
      operations.push(operation)
      const send = (answer: Answer): void => {
        response.writeHead(answer.status, answer.headers)
        response.end(answer.body)
      }
      const instead = options.decide?.(operation)
      if (instead) return send(instead)
      const forwarded = await fetch(`${moto.endpoint}${request.url}`, {
        method: request.method,
        headers: Object.fromEntries(Object.entries(request.headers).filter(([name]) => !['host', 'content-length', 'connection'].includes(name)).map(([name, value]) => [name, String(value)])),
        body: Buffer.concat(chunks)
      })
      const answer = { status: forwarded.status, headers: { 'content-type': forwarded.headers.get('content-type') ?? 'application/x-amz-json-1.1' }, body: await forwarded.text() }
      const replaced = options.after?.(operation, answer) ?? answer
      if (replaced === 'reset') request.socket.destroy()
      else if (replaced !== 'hang') send(replaced)
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  return { endpoint: `http://127.0.0.1:${port}`, operations, close: () => new Promise(resolve => server.close(() => resolve())) }
}

const html = (status: number): Answer => ({ status, headers: { 'content-type': 'text/html' }, body: '<html><head><title>Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>' })
const ecsError = (status: number, type: string, message: string): Answer => ({ status, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: JSON.stringify({ __type: type, message }) })

describe('an endpoint that does not answer properly', () => {
  it('ends a black-holed request with a message that says the endpoint did not answer, after 2 tries', async () => {
    const hole = await blackHole()
    try {
      const run = await runEcs(hole.endpoint, { service: 'web', cluster: 'shop', 'image-tag': '2' })
      expect(run.result).toBeUndefined()
      expect(run.error?.message).toMatch(new RegExp(`^could not describe service 'web': the ECS endpoint ${hole.endpoint} did not answer within 10s \\(2 tries in \\d+s\\): check the network path to ECS`))
      // One retry loop: our tries and nothing stacked under them.
      expect(hole.connections()).toBe(2)
    } finally {
      await hole.close()
    }
  })

  it('ends a refused connection with a message that says nothing listens there', async () => {
    const port = await freePort()
    const run = await runEcs(`http://127.0.0.1:${port}`, { service: 'web', cluster: 'shop', 'image-tag': '2' })
    expect(run.result).toBeUndefined()
    expect(run.error?.message).toMatch(new RegExp(`^could not describe service 'web': the ECS endpoint http://127.0.0.1:${port} refused the connection \\(nothing listens there\\) \\(4 tries in \\d+s\\)`))
  })

  it.each([
    [502, 4],
    [200, 1]
  ])('says that a proxy answered HTML (HTTP %i) instead of a JSON parse error, after %i tries', async (status, tries) => {
    const front = await proxy({ decide: () => html(status) })
    try {
      const run = await runEcs(front.endpoint, { service: 'web', cluster: 'shop', 'image-tag': '2' })
      expect(run.error?.message).toContain(`could not describe service 'web': the ECS endpoint ${front.endpoint} answered HTML (HTTP ${status}), not ECS JSON: a proxy or wrong endpoint?`)
      expect(run.error?.message).not.toMatch(/Unexpected token|Deserialization/)
      // A gateway's 502 may pass: tried a few times. A 200 page will not change: tried once.
      expect(front.operations).toEqual(Array(tries).fill('DescribeServices'))
    } finally {
      await front.close()
    }
  })

  it('says that the answer was not ECS JSON, quoting its start, for plain text from a gateway', async () => {
    const front = await proxy({ decide: () => ({ status: 502, headers: { 'content-type': 'text/plain' }, body: 'Bad Gateway' }) })
    try {
      const run = await runEcs(front.endpoint, { service: 'web', cluster: 'shop', 'image-tag': '2' })
      expect(run.error?.message).toMatch(/^could not describe service 'web': the ECS endpoint \S+ answered HTTP 502 with something that is not ECS JSON \(it starts 'Bad Gatew[a-z]*'\): a proxy or wrong endpoint\?/)
      expect(run.error?.message).not.toMatch(/Unexpected token|Deserialization/)
    } finally {
      await front.close()
    }
  })

  it('aborts a request in flight when the run is cancelled, saying so', async () => {
    const hole = await blackHole()
    try {
      const api = new EcsApi('shop', ecsClient(hole.endpoint))
      const controller = new AbortController()
      setTimeout(() => controller.abort(new Error('the run was cancelled (SIGTERM)')), 300)
      await expect(api.describeService('web', controller.signal)).rejects.toThrow("could not describe service 'web': the run was cancelled (SIGTERM)")
      expect(hole.connections()).toBe(1)
    } finally {
      await hole.close()
    }
  })
})

describe('retries', () => {
  it('waits out throttling longer than it retries failures: 5 throttled answers (more than the 4 tries a failure gets), then the deploy goes through', async () => {
    let throttled = 0
    const front = await proxy({ decide: operation => (operation === 'DescribeServices' && throttled++ < 5 ? ecsError(400, 'ThrottlingException', 'Rate exceeded') : undefined) })
    try {
      const run = await runEcs(front.endpoint, { service: 'web', cluster: 'shop', 'image-tag': '2.0.0', wait: 'false' })
      expect(run.error).toBeUndefined()
      expect(run.result!.status).toBe('applied')
      expect(front.operations.slice(0, 6)).toEqual(Array(6).fill('DescribeServices'))
    } finally {
      await front.close()
    }
  })

  const serverError = ecsError(500, 'ServerException', 'We encountered an internal error. Please try again.')
  it.each<[string, string, { before?: Answer; after?: Answer | 'reset' | 'hang' }, number]>([
    ['a 500 after moto registered it (the answer was lost)', 'lost', { after: serverError }, 1],
    ['a reset after moto registered it', 'reset', { after: 'reset' }, 1],
    ['no answer after moto registered it (a timeout)', 'timeout', { after: 'hang' }, 1],
    ['a 500 before moto saw it', 'failed', { before: serverError }, 2]
  ])('registers exactly one revision when RegisterTaskDefinition gets %s', async (_name, family, fault, sends) => {
    await seedService(client, 'shop', family)
    let faults = 0
    const first = (operation: string): boolean => operation === 'RegisterTaskDefinition' && faults++ === 0
    const front = await proxy({
      decide: operation => (fault.before && first(operation) ? fault.before : undefined),
      after: operation => (fault.after && first(operation) ? fault.after : undefined)
    })
    try {
      const run = await runEcs(front.endpoint, { service: family, cluster: 'shop', 'image-tag': '3.0.0', wait: 'false' })
      expect(run.error).toBeUndefined()
      const revisions = (await client.send(new ListTaskDefinitionsCommand({ familyPrefix: family }))).taskDefinitionArns!
      expect(revisions.map(arn => arn.split('/').pop())).toEqual([`${family}:1`, `${family}:2`])
      expect(run.result!.revision).toBe(revisions[1])
      // Each fault is ambiguous, so the family is searched for the registration's tag before another
      // try: found (moto had registered), it is not sent again; not found, it is sent once more.
      expect(front.operations.filter(operation => operation === 'RegisterTaskDefinition')).toHaveLength(sends)
      expect(front.operations).toContain('ListTaskDefinitions')
    } finally {
      await front.close()
    }
  })
})
