// `verify-url` as an input: checked with the other inputs, before anything changes, and every form its
// secrets can take registered with the runner before anything is printed. No network, no heavy imports:
// inputs/verify.ts uses it.

/** Spaces and control characters (C0, DEL, C1): a URL holds none of them unencoded. */
const UNENCODED = /[\s\p{Cc}]/u
/** Query values this short (`?v=1`, `?page=2`) are no secrets, and masking them would hide common words everywhere. */
const SHORTEST_MASKED_QUERY_VALUE = 3

/**
 * What is wrong with `text` as `verify-url`, in words that never quote it (it may hold a password), or
 * undefined when it is an http(s) URL that the check can use as it stands.
 */
export function verifyUrlProblem(text: string): string | undefined {
  const fix = 'write it as http(s)://host[:port]/path?query, percent-encoding what is not allowed there (a space as %20, % as %25)'
  const at = UNENCODED.exec(text)
  if (at) return `the URL has ${/\s/u.test(at[0]) ? 'a space' : 'a control character'} at character ${at.index + 1}, which a URL never holds: ${fix}`
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(text)?.[1]
  if (!scheme) return `the URL has no scheme: ${fix}`
  // The scheme is not quoted either: without '//' what looks like one may be a user name ('user:pass@host').
  if (!/^https?$/i.test(scheme)) return `the URL's scheme is not http or https, the only ones checked: ${fix}`
  if (!/^[A-Za-z]+:\/\/[^/?#]/.test(text)) return `the URL has no host after its '//': ${fix}`
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return `the URL cannot be parsed (check the host name, the port and the brackets of an IPv6 address): ${fix}`
  }
  const parts: Array<[string, string]> = [
    ['user name', url.username],
    ['password', url.password],
    ...[...rawQueryValues(url.search)].map(([key, value]): [string, string] => [`value of query parameter '${safeKey(key)}'`, value])
  ]
  for (const [where, raw] of parts) {
    if (decoded(raw) === undefined) return `the URL has a '%' in its ${where} that is no valid percent-escape (%XX of UTF-8): write a literal '%' as %25`
  }
  return undefined
}

/**
 * Every form in which the secret parts of `text` (user name, password, each query value) can show up in
 * the log or in an error: as written, decoded, percent-encoded as `encodeURIComponent` and as a form
 * (`+` for a space) encodes it, as the URL parser normalises it, with upper- and lower-case escapes,
 * and the Basic credentials sent for them. Nothing for a URL that does not parse.
 */
export function verifyUrlSecrets(text: string): string[] {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return []
  }
  const forms = new Set<string>()
  const add = (raw: string, minLength: number) => {
    for (const form of formsOf(raw)) if (form.length >= minLength) forms.add(form)
  }
  const written = writtenUserinfo(text)
  add(url.username, 1)
  add(url.password, 1)
  for (const raw of written) add(raw, 1)
  if (url.username || url.password) forms.add(basicCredentials(url))
  for (const [, raw] of rawQueryValues(url.search)) add(raw, SHORTEST_MASKED_QUERY_VALUE)
  // The values as written in the input, before the parser normalised their escapes.
  for (const [, raw] of rawQueryValues(writtenQuery(text))) add(raw, SHORTEST_MASKED_QUERY_VALUE)
  return [...forms]
}

/** `Basic <base64 of user:password>`'s token, as the check sends it. */
export function basicCredentials(url: URL): string {
  return Buffer.from(`${decoded(url.username) ?? url.username}:${decoded(url.password) ?? url.password}`).toString('base64')
}

/** Percent-decoded, or undefined when an escape is not valid UTF-8. */
export function decoded(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw)
  } catch {
    return undefined
  }
}

function formsOf(raw: string): string[] {
  const plain = decoded(raw) ?? raw
  // A query value decoded as a form decodes it (`+` is a space), beside the plain decoding.
  const form = decoded(raw.replace(/\+/g, ' ')) ?? plain
  const encoded = [raw, encodeURIComponent(plain), new URLSearchParams([['', plain]]).toString().slice(1), encodeURIComponent(form)]
  const cased = encoded.flatMap(value => [value, value.replace(/%[0-9a-f]{2}/gi, e => e.toUpperCase()), value.replace(/%[0-9a-f]{2}/gi, e => e.toLowerCase())])
  return [...new Set([plain, form, ...cased])].filter(value => value !== '')
}

/** `key=value` pairs of a query as written (still percent-encoded), keys decoded for messages. */
function rawQueryValues(search: string): Array<[string, string]> {
  const query = search.startsWith('?') ? search.slice(1) : search
  if (query === '') return []
  return query.split('&').filter(pair => pair !== '').map(pair => {
    const equals = pair.indexOf('=')
    return equals < 0 ? [pair, ''] : [pair.slice(0, equals), pair.slice(equals + 1)]
  })
}

/** The query of the input as written (the parser re-encodes some characters). */
function writtenQuery(text: string): string {
  const withoutFragment = text.split('#')[0]
  const at = withoutFragment.indexOf('?')
  return at < 0 ? '' : withoutFragment.slice(at)
}

/** The user name and password of the input as written, before the parser normalised them. */
function writtenUserinfo(text: string): string[] {
  const authority = /^[A-Za-z]+:\/\/([^/?#]*)/.exec(text)?.[1] ?? ''
  const at = authority.lastIndexOf('@')
  if (at < 0) return []
  const userinfo = authority.slice(0, at)
  const colon = userinfo.indexOf(':')
  return colon < 0 ? [userinfo] : [userinfo.slice(0, colon), userinfo.slice(colon + 1)]
}

/** A query key for a message: decoded, printable, short. */
function safeKey(key: string): string {
  return (decoded(key) ?? key).replace(/[^\w.-]/g, '?').slice(0, 40)
}
