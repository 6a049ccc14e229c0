import type { VerifySettings } from '../request.js'
import { verifyUrlProblem, verifyUrlSecrets } from '../verify/url-input.js'
import type { InputReader } from './reader.js'

/** The checks after a successful rollout: `verify-url` (with its statuses and text), `verify-command`, their timeout. */
export function verifyInputs(read: InputReader, registerSecret: (secret: string) => void): VerifySettings | undefined {
  const url = verifyUrlInput(read, registerSecret)
  const command = read.optional('verify-command')
  if (url === undefined && command === undefined) {
    for (const name of ['verify-status', 'verify-text', 'verify-timeout']) {
      if (read.input(name) !== '') read.problems.add({ input: name, message: "is only used with 'verify-url' or 'verify-command'" })
    }
    return undefined
  }
  const statuses = parseStatuses(read.input('verify-status') || '200-299')
  if (typeof statuses === 'string') read.problems.add({ input: 'verify-status', message: statuses })
  const verify: VerifySettings = {
    url,
    statuses: typeof statuses === 'string' ? [] : statuses,
    text: read.optional('verify-text'),
    command,
    timeoutMs: read.duration('verify-timeout', '2m')
  }
  if (url === undefined) {
    for (const name of ['verify-status', 'verify-text']) if (read.input(name) !== '') read.problems.add({ input: name, message: "is only used with 'verify-url'" })
  }
  return verify
}

function verifyUrlInput(read: InputReader, registerSecret: (secret: string) => void): string | undefined {
  const url = read.optional('verify-url')
  if (url === undefined) return undefined
  // Masked before anything can print it, in every form; the problem never quotes it.
  for (const secret of verifyUrlSecrets(url)) registerSecret(secret)
  // A path alone (`/healthz`) is checked against the service's endpoint URL (ECS Express).
  const problem = /^\/[^\s\p{Cc}]*$/u.test(url) ? undefined : verifyUrlProblem(url)
  if (problem !== undefined) read.problems.add({ input: 'verify-url', message: problem })
  return url
}

/** `verify-status`: codes and ranges, comma-separated: `200`, `200-299`, `2xx`, `200,204,301-308`. */
export function parseStatuses(text: string): Array<[number, number]> | string {
  const ranges: Array<[number, number]> = []
  for (const part of text.split(',').map(p => p.trim())) {
    const hundreds = /^([1-5])xx$/.exec(part)
    const codes = /^(\d{3})(?:-(\d{3}))?$/.exec(part)
    const range = hundreds ? [Number(hundreds[1]) * 100, Number(hundreds[1]) * 100 + 99] : codes ? [Number(codes[1]), Number(codes[2] ?? codes[1])] : undefined
    if (!range || range[0] < 100 || range[1] > 599 || range[0] > range[1]) {
      return `'${part}' is not an HTTP status or range: use e.g. 200, 200-299, 2xx or 200,204`
    }
    ranges.push([range[0], range[1]])
  }
  return ranges
}
