// verify-url's secrets (user, password, each query value) against a real local HTTP server that echoes them
// back in every form it received them: nothing is left once the runner masks what the action registered.
// And a malformed URL is an input error, raised with the others before anything changes.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals'
import { parseInputs } from '../../src/inputs.js'
import { verifyRollout } from '../../src/verify/index.js'
import { userError } from '../helpers/user-error.js'
import { closedPort, context, serve, type TestServer } from './helpers.js'

const inputs = (more: Record<string, string>) =>
  Object.fromEntries(Object.entries({ service: 'web', 'image-tag': '2.0.0', platform: 'ecs', ...more }).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, v]))

/** What the runner does with `::add-mask::` values: each replaced by *** in the log, the longest first. */
function runnerMasks(text: string, secrets: Iterable<string>): string {
  return [...secrets].sort((a, b) => b.length - a.length).reduce((out, secret) => out.split(secret).join('***'), text)
}

/** The values registered through @actions/core (`::add-mask::`, escaped as workflow command data). */
let masked: string[] = []
let write: typeof process.stdout.write
beforeEach(() => {
  masked = []
  write = process.stdout.write
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = String(chunk)
    const found = /^::add-mask::(.*)$/m.exec(text)
    if (found) masked.push(found[1].replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%'))
    else return (write as (...args: unknown[]) => boolean).call(process.stdout, chunk, ...rest)
    return true
  }) as typeof process.stdout.write
})
afterEach(() => {
  process.stdout.write = write
})

describe('verify-url secrets', () => {
  let server: TestServer
  beforeAll(async () => {
    // Answers 503 with all it received: the path and query as sent, the query decoded, the Authorization
    // header and the credentials in it, as a proxy or a debug page might.
    server = await serve({
      '/echo': (q, r) => {
        const query = new URL(q.url ?? '/', 'http://x').searchParams
        const auth = q.headers.authorization ?? ''
        const credentials = Buffer.from(auth.replace(/^Basic /, ''), 'base64').toString()
        r.writeHead(503).end(`${q.url} ${query.get('token')} ${query.get('sig')} ${auth} ${credentials}`)
      }
    })
  })
  afterAll(() => server.close())

  it('masks the user, the password and each query value in every form: as written, decoded, re-encoded', async () => {
    const url = server.url.replace('http://', 'http://deploy%2Bbot:p%40ss%20w0rd@') + '/echo?token=s3cr%2Ft-t0k%C3%A9n&sig=a+b%2Bc'
    const registered: string[] = []
    const request = parseInputs({ ...inputs({ 'verify-url': url, 'verify-timeout': '2s' }), RUNNER_TEMP: '/tmp' }, secret => registered.push(secret))
    const { context: ctx, lines, dispose } = context(1500)
    let reason: string
    try {
      const result = await verifyRollout(request.verify!, {}, ctx)
      expect(result.ok).toBe(false)
      reason = (result as { reason: string }).reason
    } finally {
      dispose()
    }
    // The server did echo them (in the forms fetch sent them), so this checks the masking, not the server.
    expect(reason).toContain('answered 503')
    const printed = runnerMasks(`${lines.join('\n')}\n${reason}`, [...registered, ...masked])
    const forms = [
      'deploy%2Bbot', 'deploy+bot', 'deploy%2bbot',
      'p%40ss%20w0rd', 'p@ss w0rd', 'p%40ss+w0rd',
      's3cr%2Ft-t0k%C3%A9n', 's3cr%2ft-t0k%c3%a9n', 's3cr/t-t0kén',
      'a+b%2Bc', 'a b+c', 'a%20b%2Bc', 'a+b%2bc',
      Buffer.from('deploy+bot:p@ss w0rd').toString('base64')
    ]
    for (const form of forms) expect([form, printed.includes(form)]).toEqual([form, false])
    // Registered before anything ran: parsing the inputs alone masks them.
    for (const form of forms) expect([form, runnerMasks(form, registered)]).toEqual([form, '***'])
    expect(printed).toContain(`${server.url.replace('http://', 'http://***@')}/echo?token=***&sig=***`)
  })
})

describe('a malformed verify-url', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['a space in the password', 'https://deployer:pa55 w0rd-x@health.example.com/ready', /has a space at character 22/],
    ['a scheme other than http(s)', 'ftp://deployer:pa55w0rd-x@health.example.com/ready', /scheme is not http or https/],
    ['no scheme', 'deployer:pa55w0rd-x@health.example.com/ready', /scheme is not http or https|has no scheme/],
    ['an unparsable host', 'https://[::1/health?token=pa55w0rd-x', /cannot be parsed/],
    ['a bad percent-escape', 'https://deployer:pa55w0rd-x%zz@health.example.com/ready', /'%' in its password that is no valid percent-escape/],
    ['no host', 'https:/pa55w0rd-x/ready', /has no host/]
  ]
  for (const [what, url, message] of cases) {
    it(`is an input error with the others, never quoting the URL: ${what}`, () => {
      const error = userError(() => parseInputs({ ...inputs({ 'verify-url': url, timeout: '5 parsecs' }), RUNNER_TEMP: '/tmp' }, () => undefined))
      expect(error.problems.map(problem => problem.input).sort()).toEqual(['timeout', 'verify-url'])
      const problem = error.problems.find(p => p.input === 'verify-url')!
      expect(problem.message).toMatch(message)
      expect(problem.message).toMatch(/write it as http\(s\):\/\/host|write a literal '%' as %25/)
      expect(error.message).not.toContain('pa55')
    })
  }

  it('that reaches the check anyway fails it with words, never an exception after the rollout', async () => {
    const port = await closedPort()
    const { context: ctx, dispose } = context(1000)
    try {
      const result = await verifyRollout({ url: `http://deployer:pa55w0rd-x%zz@127.0.0.1:${port}/ready`, statuses: [[200, 299]], timeoutMs: 1000 }, {}, ctx)
      expect(result).toEqual({ ok: false, reason: expect.stringMatching(/^verify-url: the URL has a '%' in its password/) })
    } finally {
      dispose()
    }
  })
})
