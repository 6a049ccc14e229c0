// A local GitHub REST API for the Deployments and issue-comment endpoints that enforces GitHub's own published OpenAPI
// description (@octokit/openapi, generated/api.github.com.json), not a hand-written idea of it. That
// package weighs 385 MB installed (every GitHub edition, dereferenced copies); the one 13 MB file used
// here is taken from its pinned tarball once (`npm pack`, which checks the registry's integrity hash)
// into ~/.cache/deploy-service, like the cluster binaries, instead of being a devDependency.
//
// Every request is matched against the description's paths; an unknown path or method answers 404 as
// GitHub does. Path parameters and the JSON body are validated with ajv against the operation's
// schemas, and a body property the schema does not declare counts as a violation too (a typo such as
// `enviroment_url` is silently ignored by GitHub, so it is the kind of bug only this catches). Every
// answer the server gives is itself validated against the operation's response schema. Violations are
// recorded; a test asserts there are none.
//
// Node builtins and npm packages, erasable TypeScript only: `node test/support/github-api.ts` runs it.
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import AjvModule from 'ajv'
import type { ValidateFunction } from 'ajv'
import addFormatsModule from 'ajv-formats'

const Ajv = AjvModule.default
const addFormats = addFormatsModule.default

type Obj = Record<string, any>

export interface RecordedRequest {
  method: string
  path: string
  operationId?: string
  body?: unknown
  status: number
}

export interface GitHubApiOptions {
  port?: number
  /** Answer every Deployments call with this error, as GitHub does for a token without the permission. */
  deny?: { status: 403 | 404; message: string }
  /** Answer the next N calls with 502 (a retry test). */
  serverErrors?: number
  /**
   * The read-only token of a pull request from a fork (or a token without `pull-requests: write`):
   * reads answer, every write answers 403 'Resource not accessible by integration', as GitHub does.
   */
  readOnly?: boolean
}

/** Who wrote a seeded comment: the Actions bot (GITHUB_TOKEN), or a person with their association to the repository. */
export type CommentAuthor = 'github-actions' | { login: string; association: 'OWNER' | 'MEMBER' | 'COLLABORATOR' | 'CONTRIBUTOR' | 'FIRST_TIME_CONTRIBUTOR' | 'NONE' }

export interface GitHubApi {
  /** Base URL: what GITHUB_API_URL would hold. */
  url: string
  requests: RecordedRequest[]
  /** Requests or responses that broke the schema, one line each. Empty when all is well. */
  violations: string[]
  deployments: Obj[]
  statuses: Obj[]
  /** Issue and pull-request comments, oldest first, each with its `issue_number`. */
  comments: Obj[]
  /** Adds a comment as if someone (by default the Actions bot) had written it; returns it. */
  addComment(issueNumber: number, body: string, author?: CommentAuthor): Obj
  /** Description version and which file: for reports. */
  schema: { file: string; version: string; title: string }
  close(): Promise<void>
}

interface Operation {
  method: string
  template: string
  pattern: RegExp
  literals: number
  operationId: string
  spec: Obj
  pointer: string
}

/** The published description this server enforces: bump deliberately, as a dependency would be. */
export const OPENAPI_PACKAGE = '@octokit/openapi@23.0.2'
const SPEC_IN_PACKAGE = 'package/generated/api.github.com.json'

/** The description's file, from the cache, else taken from the package's tarball (once per version). */
function specFile(): string {
  const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'deploy-service', OPENAPI_PACKAGE.replace(/[@/]/g, '_'))
  const file = join(cache, 'api.github.com.json')
  if (existsSync(file)) return file
  mkdirSync(cache, { recursive: true })
  const staging = mkdtempSync(join(cache, '.fetch-'))
  try {
    const tarball = execFileSync('npm', ['pack', OPENAPI_PACKAGE, '--silent', '--pack-destination', staging], { encoding: 'utf8' }).trim().split('\n').pop()!
    execFileSync('tar', ['-xzf', join(staging, tarball), '-C', staging, SPEC_IN_PACKAGE])
    // A rename is atomic: a concurrent test run sees either no file or a whole one.
    renameSync(join(staging, SPEC_IN_PACKAGE), file)
  } finally {
    rmSync(staging, { recursive: true, force: true })
  }
  return file
}
let cached: { spec: Obj; ajv: InstanceType<typeof Ajv>; operations: Operation[] } | undefined

function load(): NonNullable<typeof cached> {
  if (cached) return cached
  const spec = JSON.parse(readFileSync(specFile(), 'utf8')) as Obj
  // OpenAPI 3.0 schemas: `nullable` is understood by ajv; `example`, `x-github` and the like are not
  // JSON Schema keywords and are ignored (strict: false).
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true })
  addFormats(ajv)
  ajv.addSchema(spec, 'github')
  const operations: Operation[] = []
  for (const [template, item] of Object.entries(spec.paths as Obj)) {
    for (const method of ['get', 'post', 'put', 'patch', 'delete']) {
      const op = (item as Obj)[method]
      if (!op) continue
      const segments = template.split('/').slice(1)
      const pattern = new RegExp(`^/${segments.map(s => (s.startsWith('{') ? '([^/]+)' : escapeRegExp(s))).join('/')}$`)
      operations.push({
        method: method.toUpperCase(),
        template,
        pattern,
        literals: segments.filter(s => !s.startsWith('{')).length,
        operationId: op.operationId,
        spec: op,
        pointer: `#/paths/${encodeURIComponent(template.replaceAll('~', '~0').replaceAll('/', '~1'))}/${method}`
      })
    }
  }
  // The most specific template wins: /deployments/{id}/statuses before anything with more parameters.
  operations.sort((a, b) => b.literals - a.literals)
  cached = { spec, ajv, operations }
  return cached
}

const validators = new Map<string, ValidateFunction>()
function validator(ref: string): ValidateFunction {
  let fn = validators.get(ref)
  if (!fn) {
    fn = load().ajv.compile({ $ref: `github${ref}` })
    validators.set(ref, fn)
  }
  return fn
}

function resolveRef(node: Obj): Obj {
  const { spec } = load()
  let current = node
  while (current && typeof current.$ref === 'string') {
    current = (current.$ref as string)
      .slice(2)
      .split('/')
      .reduce((at: Obj, key: string) => at[key.replaceAll('~1', '/').replaceAll('~0', '~')], spec)
  }
  return current
}

function errorsOf(fn: ValidateFunction): string {
  return (fn.errors ?? []).map(e => `${e.instancePath || '(root)'} ${e.message}${e.params && 'allowedValues' in e.params ? ` ${JSON.stringify(e.params.allowedValues)}` : ''}`).join('; ')
}

export async function startGitHubApi(options: GitHubApiOptions = {}): Promise<GitHubApi> {
  const { spec, operations } = load()
  const requests: RecordedRequest[] = []
  const violations: string[] = []
  const deployments: Obj[] = []
  const statuses: Obj[] = []
  const comments: Obj[] = []
  let serverErrors = options.serverErrors ?? 0
  let nextId = 1000
  let base = ''

  const bot = (): Obj => ({
    login: 'github-actions[bot]',
    id: 41898282,
    node_id: 'MDM6Qm90NDE4OTgyODI=',
    avatar_url: 'https://avatars.githubusercontent.com/in/15368?v=4',
    gravatar_id: '',
    url: `${base}/users/github-actions%5Bbot%5D`,
    html_url: 'https://github.com/apps/github-actions',
    followers_url: `${base}/users/github-actions%5Bbot%5D/followers`,
    following_url: `${base}/users/github-actions%5Bbot%5D/following{/other_user}`,
    gists_url: `${base}/users/github-actions%5Bbot%5D/gists{/gist_id}`,
    starred_url: `${base}/users/github-actions%5Bbot%5D/starred{/owner}{/repo}`,
    subscriptions_url: `${base}/users/github-actions%5Bbot%5D/subscriptions`,
    organizations_url: `${base}/users/github-actions%5Bbot%5D/orgs`,
    repos_url: `${base}/users/github-actions%5Bbot%5D/repos`,
    events_url: `${base}/users/github-actions%5Bbot%5D/events{/privacy}`,
    received_events_url: `${base}/users/github-actions%5Bbot%5D/received_events`,
    type: 'Bot',
    site_admin: false
  })

  /** Records every violation; returns false when GitHub would refuse the request (422). */
  function checkRequest(op: Operation, params: Record<string, string>, body: unknown, request: IncomingMessage, query: URLSearchParams): boolean {
    const before = violations.length
    let refused: boolean
    const where = `${op.method} ${op.template} (${op.operationId})`
    for (const raw of (op.spec.parameters ?? []) as Obj[]) {
      const parameter = resolveRef(raw)
      if (parameter.in === 'query' && query.has(parameter.name)) {
        const value = query.get(parameter.name)!
        const typed = parameter.schema?.type === 'integer' && /^-?\d+$/.test(value) ? Number(value) : value
        const fn = load().ajv.compile(parameter.schema)
        if (!fn(typed)) violations.push(`${where}: query parameter ${parameter.name}=${value}: ${errorsOf(fn)}`)
        continue
      }
      if (parameter.in !== 'path') continue
      const value = params[parameter.name]
      const typed = parameter.schema?.type === 'integer' && /^-?\d+$/.test(value) ? Number(value) : value
      const fn = load().ajv.compile(parameter.schema)
      if (!fn(typed)) violations.push(`${where}: path parameter ${parameter.name}=${value}: ${errorsOf(fn)}`)
    }
    refused = violations.length > before
    const content = resolveRef(op.spec.requestBody ?? {})?.content?.['application/json']
    if (!content) {
      if (body !== undefined) violations.push(`${where}: a body was sent, the operation takes none`)
      return !refused
    }
    if (body === undefined) {
      if (op.spec.requestBody.required) violations.push(`${where}: the request body is required`)
      return !refused && !op.spec.requestBody.required
    }
    if (!/^application\/json/.test(request.headers['content-type'] ?? '')) violations.push(`${where}: content-type ${request.headers['content-type']} is not application/json`)
    const ref = `${op.pointer}/requestBody/content/application~1json/schema`
    const fn = validator(ref)
    if (!fn(body)) {
      violations.push(`${where}: request body: ${errorsOf(fn)}`)
      refused = true
    }
    // GitHub ignores undeclared properties, so they are violations here but not refused.
    const declared = resolveRef(content.schema)?.properties as Obj | undefined
    if (declared && body && typeof body === 'object') {
      for (const key of Object.keys(body)) if (!(key in declared)) violations.push(`${where}: request body property '${key}' is not in GitHub's schema`)
    }
    return !refused
  }

  function send(response: ServerResponse, op: Operation | undefined, status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (op) {
      const declared = op.spec.responses?.[String(status)]
      const where = `${op.method} ${op.template} (${op.operationId}) answer ${status}`
      if (declared) {
        const media = resolveRef(declared).content?.['application/json']
        if (media) {
          const responseRef = (declared.$ref as string | undefined) ?? `${op.pointer}/responses/${status}`
          const fn = validator(`${responseRef}/content/application~1json/schema`)
          if (!fn(body)) violations.push(`${where}: response body: ${errorsOf(fn)}`)
        }
      } else if (status < 400) {
        violations.push(`${where}: the description declares no such answer`)
      } else {
        const fn = validator('#/components/schemas/basic-error')
        if (!fn(body)) violations.push(`${where}: error body: ${errorsOf(fn)}`)
      }
    }
    const text = body === undefined ? '' : JSON.stringify(body)
    response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-github-media-type': 'github.v3; format=json', ...headers })
    response.end(text)
  }

  function error(status: number, message: string, docs = 'https://docs.github.com/rest'): Obj {
    return { message, documentation_url: docs, status: String(status) }
  }

  function handle(op: Operation, params: Record<string, string>, body: Obj, query: URLSearchParams): [number, unknown, Record<string, string>?] {
    const { owner, repo } = params
    const repositoryUrl = `${base}/repos/${owner}/${repo}`
    const deployment = (id: string): Obj | undefined => deployments.find(d => d.id === Number(id) && d.repository_url === repositoryUrl)
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z')
    if (/^issues\/(create|update)-comment$/.test(op.operationId) && typeof body?.body === 'string' && body.body.length > 65_536) {
      // GitHub's limit on a comment body; it refuses longer ones.
      violations.push(`${op.operationId}: body longer than 65536 characters (${body.body.length})`)
      return [422, { message: 'Validation Failed', documentation_url: op.spec.externalDocs?.url ?? '', errors: [{ resource: 'IssueComment', field: 'body', code: 'custom', message: 'body is too long (maximum is 65536 characters)' }] }]
    }
    switch (op.operationId) {
      case 'repos/create-deployment': {
        if (typeof body?.ref !== 'string' || body.ref === '') {
          return [422, { message: 'Invalid request.', documentation_url: op.spec.externalDocs?.url ?? '', errors: [{ resource: 'Deployment', field: 'ref', code: 'missing_field' }] }]
        }
        const id = nextId++
        const environment = body.environment ?? 'production'
        const created: Obj = {
          url: `${repositoryUrl}/deployments/${id}`,
          id,
          node_id: Buffer.from(`Deployment${id}`).toString('base64'),
          sha: /^[0-9a-f]{40}$/.test(body.ref) ? body.ref : '0123456789abcdef0123456789abcdef01234567',
          ref: body.ref,
          task: body.task ?? 'deploy',
          payload: typeof body.payload === 'string' && body.payload !== '' ? JSON.parse(body.payload) : (body.payload ?? {}),
          original_environment: environment,
          environment,
          description: body.description ?? null,
          creator: bot(),
          created_at: now,
          updated_at: now,
          statuses_url: `${repositoryUrl}/deployments/${id}/statuses`,
          repository_url: repositoryUrl,
          transient_environment: body.transient_environment ?? false,
          production_environment: body.production_environment ?? environment === 'production'
        }
        deployments.push(created)
        return [201, created]
      }
      case 'repos/get-deployment': {
        const found = deployment(params.deployment_id)
        return found ? [200, found] : [404, error(404, 'Not Found')]
      }
      case 'repos/list-deployments': {
        const list = deployments.filter(
          d => d.repository_url === repositoryUrl && (!query.get('environment') || d.environment === query.get('environment')) && (!query.get('sha') || d.sha === query.get('sha'))
        )
        return [200, list.slice().reverse()]
      }
      case 'repos/create-deployment-status': {
        const found = deployment(params.deployment_id)
        if (!found) return [404, error(404, 'Not Found', op.spec.externalDocs?.url)]
        if (typeof body?.description === 'string' && body.description.length > 140) {
          // "The maximum description length is 140 characters." (the operation's own words)
          violations.push(`${op.operationId}: description longer than 140 characters (${body.description.length})`)
          return [422, { message: 'Validation Failed', documentation_url: op.spec.externalDocs?.url ?? '', errors: [{ resource: 'DeploymentStatus', field: 'description', code: 'custom', message: 'description is too long (maximum is 140 characters)' }] }]
        }
        const id = nextId++
        const logUrl = body.log_url || body.target_url || undefined
        const status: Obj = {
          url: `${found.url}/statuses/${id}`,
          id,
          node_id: Buffer.from(`DeploymentStatus${id}`).toString('base64'),
          state: body.state,
          creator: bot(),
          description: body.description ?? '',
          environment: body.environment ?? found.environment,
          // Required with format uri by the description; GitHub itself answers "" when none was given.
          target_url: logUrl ?? found.url,
          created_at: now,
          updated_at: now,
          deployment_url: found.url,
          repository_url: repositoryUrl,
          ...(body.environment_url ? { environment_url: body.environment_url } : {}),
          ...(logUrl ? { log_url: logUrl } : {})
        }
        statuses.push({ ...status, deployment_id: found.id })
        return [201, status]
      }
      case 'issues/list-comments': {
        const all = comments.filter(c => c.issue_url === `${repositoryUrl}/issues/${params.issue_number}`)
        // GitHub's pagination: `per_page` (default 30, at most 100), `page` from 1, and a Link header.
        const perPage = Math.min(100, Number(query.get('per_page') ?? 30))
        const page = Number(query.get('page') ?? 1)
        const last = Math.max(1, Math.ceil(all.length / perPage))
        const link = (n: number, rel: string): string => `<${repositoryUrl}/issues/${params.issue_number}/comments?per_page=${perPage}&page=${n}>; rel="${rel}"`
        const links = [...(page > 1 ? [link(page - 1, 'prev'), link(1, 'first')] : []), ...(page < last ? [link(page + 1, 'next'), link(last, 'last')] : [])]
        return [200, all.slice((page - 1) * perPage, page * perPage).map(c => ({ ...c })), links.length ? { link: links.join(', ') } : {}]
      }
      case 'issues/create-comment':
        return [201, { ...newComment(Number(params.issue_number), repositoryUrl, body.body, 'github-actions') }]
      case 'issues/update-comment': {
        const found = comments.find(c => c.id === Number(params.comment_id) && c.url.startsWith(`${repositoryUrl}/`))
        if (!found) return [404, error(404, 'Not Found', op.spec.externalDocs?.url)]
        found.body = body.body
        found.updated_at = now
        return [200, { ...found }]
      }
      case 'repos/list-deployment-statuses': {
        const found = deployment(params.deployment_id)
        if (!found) return [404, error(404, 'Not Found')]
        const list = statuses.filter(s => s.deployment_id === found.id).map(({ deployment_id: _, ...rest }) => rest)
        return [200, list.reverse()]
      }
      default:
        violations.push(`${op.method} ${op.template} (${op.operationId}): called, but this test server does not play it`)
        return [501, error(501, `${op.operationId} is not played by the test server`)]
    }
  }

  /** A comment as GitHub stores it; `issue_url` says which issue or pull request it is on. */
  function newComment(issueNumber: number, repositoryUrl: string, text: string, author: CommentAuthor): Obj {
    const id = nextId++
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z')
    const user = author === 'github-actions' ? bot() : { ...bot(), login: author.login, id: 500 + id, node_id: Buffer.from(`User${id}`).toString('base64'), type: 'User', html_url: `https://github.com/${author.login}` }
    const comment: Obj = {
      id,
      node_id: Buffer.from(`IssueComment${id}`).toString('base64'),
      url: `${repositoryUrl}/issues/comments/${id}`,
      html_url: `https://github.com/${repositoryUrl.split('/repos/')[1]}/pull/${issueNumber}#issuecomment-${id}`,
      body: text,
      user,
      created_at: now,
      updated_at: now,
      issue_url: `${repositoryUrl}/issues/${issueNumber}`,
      author_association: author === 'github-actions' ? 'NONE' : author.association,
      performed_via_github_app: null
    }
    comments.push(comment)
    return comment
  }

  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', chunk => chunks.push(chunk as Buffer))
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://localhost')
      const method = request.method ?? 'GET'
      const recorded: RecordedRequest = { method, path: url.pathname, status: 0 }
      requests.push(recorded)
      const reply = (op: Operation | undefined, status: number, body: unknown): void => {
        recorded.status = status
        send(response, op, status, body)
      }
      const candidates = operations.filter(o => o.pattern.test(url.pathname))
      const op = candidates.find(o => o.method === method)
      if (!op) return reply(undefined, 404, error(404, 'Not Found'))
      recorded.operationId = op.operationId
      const names = [...op.template.matchAll(/\{([^}]+)\}/g)].map(m => m[1])
      const values = op.pattern.exec(url.pathname)!.slice(1).map(decodeURIComponent)
      const params = Object.fromEntries(names.map((name, i) => [name, values[i]]))
      const text = Buffer.concat(chunks).toString('utf8')
      let body: any
      if (text !== '') {
        try {
          body = JSON.parse(text)
        } catch {
          violations.push(`${method} ${op.template}: the body is not JSON`)
          return reply(op, 400, error(400, 'Problems parsing JSON'))
        }
      }
      recorded.body = body
      if (!/^(token|Bearer) \S+/.test(request.headers.authorization ?? '')) {
        return reply(op, 401, error(401, 'Requires authentication'))
      }
      if (!checkRequest(op, params, body, request, url.searchParams)) {
        return reply(op, 422, { message: 'Invalid request.', documentation_url: op.spec.externalDocs?.url ?? 'https://docs.github.com/rest' })
      }
      if (options.readOnly && method !== 'GET') {
        return reply(op, 403, error(403, 'Resource not accessible by integration', op.spec.externalDocs?.url))
      }
      if (options.deny && /deployments/.test(op.template)) {
        return reply(op, options.deny.status, error(options.deny.status, options.deny.message, op.spec.externalDocs?.url))
      }
      if (serverErrors > 0) {
        serverErrors--
        return reply(op, 502, error(502, 'Server Error'))
      }
      const [status, answer, headers] = handle(op, params, body, url.searchParams)
      recorded.status = status
      send(response, op, status, answer, headers)
    })
  })

  await new Promise<void>(resolve => server.listen(options.port ?? 0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url: base,
    requests,
    violations,
    deployments,
    statuses,
    comments,
    addComment: (issueNumber, body, author = 'github-actions') => newComment(issueNumber, `${base}/repos/acme/shop`, body, author),
    schema: { file: `${OPENAPI_PACKAGE}/generated/api.github.com.json`, version: String(spec.info?.version), title: String(spec.info?.title) },
    close: () =>
      new Promise<void>((resolve, reject) => {
        if (!server.listening) return resolve()
        server.closeAllConnections()
        server.close(error => (error ? reject(error) : resolve()))
      })
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const port = Number(process.argv[process.argv.indexOf('--port') + 1] || 0)
  const api = await startGitHubApi({ port: process.argv.includes('--port') ? port : 0 })
  console.log(api.url)
}
