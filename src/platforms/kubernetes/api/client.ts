import * as core from '@actions/core'
import { HttpMethod, KubeConfig, KubernetesObjectApi, Watch, type KubernetesObject, type V1APIResource } from '@kubernetes/client-node'
import { UserError, errorMessage } from '../../../errors.js'
import type { KubernetesSettings } from '../../../request.js'
import type { Owned } from '../../../rollout/ownership.js'
import { isRetryable, retry } from '../../../rollout/retry.js'
import { credentialsFor, isUnauthorized, kubeconfigCredentials, useCredentials, type Credentials } from './credentials.js'
import { apiFailure, explainApiError, isMalformedApply, looksLikeHtml, unreachable } from './errors.js'

/**
 * The precondition of a destructive call on one object: the uid and resourceVersion of the read that
 * proved it ours. The server refuses the call when either has changed since.
 */
export interface ObjectPrecondition {
  uid: string
  resourceVersion: string
}

/** The precondition from a fresh read; undefined when the answer lacks either field (then nothing can be proved). */
export function preconditionOf(live: { metadata?: { uid?: string; resourceVersion?: string } } | undefined): ObjectPrecondition | undefined {
  const uid = live?.metadata?.uid
  const resourceVersion = live?.metadata?.resourceVersion
  return uid && resourceVersion ? { uid, resourceVersion } : undefined
}

/** The kubeconfig from the `kubeconfig` input (content), else the standard chain, on the `context` input. */
export function loadKubeConfig(settings: KubernetesSettings): KubeConfig {
  const config = new KubeConfig()
  if (settings.kubeconfig) {
    core.setSecret(settings.kubeconfig)
    try {
      config.loadFromString(settings.kubeconfig)
    } catch (error) {
      throw new UserError({ input: 'kubeconfig', message: `is not a kubeconfig (${errorMessage(error).split('\n')[0]}): pass the file's content, e.g. \${{ secrets.KUBECONFIG }}` })
    }
    for (const secret of kubeconfigSecrets(config)) core.setSecret(secret)
  } else {
    config.loadFromDefault()
    const cluster = config.getCurrentCluster()
    if (config.getClusters().length === 1 && cluster?.server === 'http://localhost:8080' && cluster.name === 'cluster') {
      throw new UserError({ input: 'kubeconfig', message: 'no kubeconfig found (KUBECONFIG, ~/.kube/config, in-cluster): set the kubeconfig input to the content of one' })
    }
  }
  if (settings.context) {
    const names = config.getContexts().map(c => c.name)
    if (!names.includes(settings.context)) {
      throw new UserError({ input: 'context', message: `the kubeconfig has no context '${settings.context}'; it has ${names.map(n => `'${n}'`).join(', ') || 'none'}` })
    }
    config.setCurrentContext(settings.context)
  }
  // After a 401, the same kubeconfig source is read again into this object (the client holds it).
  useCredentials(config, kubeconfigCredentials(config, () => reloadKubeConfig(config, settings)))
  const cluster = config.getCurrentCluster()
  if (!cluster?.server) {
    throw new UserError({ input: 'kubeconfig', message: `the kubeconfig's current context '${config.getCurrentContext()}' names no cluster with a server: set current-context or the 'context' input` })
  }
  return config
}

/** Reads the kubeconfig source again into `config`; a source that became unreadable keeps what it had. */
function reloadKubeConfig(config: KubeConfig, settings: KubernetesSettings): void {
  try {
    const current = config.getCurrentContext()
    if (settings.kubeconfig) config.loadFromString(settings.kubeconfig)
    else config.loadFromDefault()
    config.setCurrentContext(current)
    for (const secret of kubeconfigSecrets(config)) core.setSecret(secret)
  } catch {
    // Nothing better to read: the next request tells whether the old credentials still do.
  }
}

/**
 * Every credential a kubeconfig holds, each on its own: the runner masks a registered value only where
 * it appears whole, so the content as a whole is not enough (a log line may show one token, or one
 * line of a decoded key). Values shorter than 4 characters are left out: masking "1" or "on" would
 * blank out every such word in the log and protect nothing.
 */
export function kubeconfigSecrets(config: KubeConfig): string[] {
  const secrets = new Set<string>()
  const add = (value: unknown): void => {
    if (typeof value !== 'string') return
    for (const line of [value, ...value.split(/\r?\n/)].map(l => l.trim())) if (line.length >= 4 && !/^-----(BEGIN|END) /.test(line)) secrets.add(line)
  }
  for (const user of config.getUsers()) {
    add(user.token)
    add(user.password)
    add(user.keyData)
    // The client key, decoded: a tool that prints the PEM must not show its lines either.
    if (user.keyData) add(Buffer.from(user.keyData, 'base64').toString('utf8'))
    // exec plugins get their credentials through env values (AWS keys, API tokens) and sometimes args.
    const exec = user.exec as { env?: Array<{ value?: unknown }> | null; args?: unknown[] | null } | undefined
    for (const entry of exec?.env ?? []) add(entry?.value)
    for (const arg of exec?.args ?? []) if (typeof arg === 'string' && /(token|secret|password|key)=/i.test(arg)) add(arg.slice(arg.indexOf('=') + 1))
    // auth-provider (oidc, gcp, azure): tokens and client secrets live in its config.
    const providerConfig = (user.authProvider as { config?: Record<string, unknown> } | undefined)?.config ?? {}
    for (const [key, value] of Object.entries(providerConfig)) if (/token|secret|password|key/i.test(key)) add(value)
  }
  return [...secrets]
}

/** The namespace of the deploy: the input, else the context's, else `default`. */
export function namespaceOf(config: KubeConfig, settings: KubernetesSettings): string {
  return settings.namespace ?? config.getContextObject(config.getCurrentContext())?.namespace ?? 'default'
}

/** One request's limit: a server that accepts the connection and never answers. */
const REQUEST_TIMEOUT_MS = 15_000
/**
 * No new attempt starts after this long: with one timed-out request and a second try, a black-holed
 * server ends in a clear error after about 31 s, never minutes.
 */
const RETRY_BUDGET_MS = 20_000

interface SendOptions {
  query?: Record<string, string | number | boolean | undefined>
  body?: unknown
  contentType?: string
  accept?: string
  timeoutMs?: number
  signal?: AbortSignal
}

interface ApiResource {
  name: string
  kind: string
  namespaced: boolean
}

// KubernetesObjectApi turns bodies into typed models, dropping fields it does not know (a typo in a
// manifest would vanish instead of being reported): requests here carry the user's JSON untouched.
class RawObjectApi extends KubernetesObjectApi {
  async send<T>(method: HttpMethod, path: string, options: SendOptions = {}): Promise<T> {
    const context = this.configuration.baseServer.makeRequestContext(path, method)
    const accept = options.accept ?? 'application/json'
    context.setHeaderParam('Accept', accept)
    // No call may hang a deploy: a server that stops answering is a transient failure (TimeoutError);
    // the caller's signal (deadline, cancellation) ends it at once.
    const timeout = AbortSignal.timeout(options.timeoutMs ?? REQUEST_TIMEOUT_MS)
    context.setSignal(options.signal ? AbortSignal.any([timeout, options.signal]) : timeout)
    for (const [key, value] of Object.entries(options.query ?? {})) if (value !== undefined) context.setQueryParam(key, String(value))
    if (options.body !== undefined) {
      context.setHeaderParam('Content-Type', options.contentType ?? 'application/json')
      context.setBody(typeof options.body === 'string' ? options.body : JSON.stringify(options.body))
    }
    const answer = (await this.requestPromise(context, 'any')) as T
    // The client hands text/* answers back as a string: for a JSON request that is not the API speaking.
    if (typeof answer === 'string' && accept === 'application/json') throw new NotTheApi(answer)
    return answer
  }
}

/** A guarded patch refused: the object changed (or was made anew) since the read that proved it ours. */
export class StaleObject extends Error {
  constructor(what: string, cause: unknown) {
    super(`the API server refused the patch of ${what}: it changed since it was read (uid and resourceVersion precondition)`, { cause })
    this.name = 'StaleObject'
  }
}

/** A 2xx answer that is not JSON: a proxy, a login page or a web server stands where the API should. */
export class NotTheApi extends Error {
  constructor(body: string) {
    super(`the server answered with ${looksLikeHtml(body) ? 'an HTML page' : 'text'} instead of the Kubernetes API's JSON (${body.replace(/\s+/g, ' ').trim().slice(0, 80)})`)
    this.name = 'NotTheApi'
  }
}

/** What all views of one connection share: the client, the discovery cache, the credentials. */
interface Connection {
  raw: RawObjectApi
  watcher: Watch
  discovery: Map<string, Promise<ApiResource[] | undefined>>
  credentials: Credentials
  /** Counts renewals: a request refused with credentials already replaced just tries again. */
  generation: number
  /**
   * Set by the first answer the server gave these credentials: only after it can a 401 mean they expired
   * (before it, they are wrong, and the error says to check the kubeconfig's user).
   */
  accepted?: boolean
  renewing?: Promise<void>
}

/**
 * The Kubernetes calls a deploy makes. Retryable failures (throttling, 5xx, dropped connections) are
 * tried again with the shared retry policy; everything else is turned into an error that names the
 * input and the fix. A view made by `withSignal` ends every request when that signal aborts.
 */
export class KubeApi {
  readonly config: KubeConfig
  readonly server: string
  /** Ends every request of this view (the wait's deadline, the run's cancellation). */
  readonly signal?: AbortSignal
  private readonly connection: Connection

  constructor(config: KubeConfig, signal?: AbortSignal, connection?: Connection) {
    this.config = config
    this.server = config.getCurrentCluster()!.server
    this.signal = signal
    this.connection = connection ?? { raw: config.makeApiClient(RawObjectApi), watcher: new Watch(config), discovery: new Map(), credentials: credentialsFor(config), generation: 0 }
  }

  /** Which credentials are current; pass it to `renewCredentials` after a 401. */
  get credentialsGeneration(): number {
    return this.connection.generation
  }

  /**
   * Fresh credentials after a 401 to a request sent with generation `seen`: renewed once however many
   * requests were refused at the same time; one refused with credentials already replaced only tries again.
   */
  async renewCredentials(seen: number): Promise<void> {
    const connection = this.connection
    if (connection.generation !== seen) return
    connection.renewing ??= connection.credentials.renew().finally(() => {
      connection.generation++
      connection.renewing = undefined
    })
    await connection.renewing
  }

  /** The error after fresh credentials were refused too: it says what expired. */
  credentialsRefused(what: string): UserError {
    const { credentials } = this.connection
    return new UserError({ input: credentials.input ?? 'kubeconfig', message: `could not ${what}: the API server at ${this.server} answered 401 Unauthorized to fresh credentials too; refused: ${credentials.what}` })
  }

  /** The same connection, its requests also ended by `signal`. */
  withSignal(signal: AbortSignal): KubeApi {
    return new KubeApi(this.config, this.signal ? AbortSignal.any([this.signal, signal]) : signal, this.connection)
  }

  /** Server-side apply of one object (`dryRun` checks it without persisting). */
  async apply(object: KubernetesObject, options: { fieldManager: string; force: boolean; dryRun: boolean }): Promise<KubernetesObject> {
    const path = await this.objectPath(object)
    return this.call(`apply ${describe(object)}${options.dryRun ? ' (server dry run)' : ''}`, signal =>
      this.connection.raw.send(HttpMethod.PATCH, path, {
        query: { fieldManager: options.fieldManager, force: options.force || undefined, dryRun: options.dryRun ? 'All' : undefined, fieldValidation: 'Strict' },
        body: object,
        contentType: 'application/apply-patch+yaml',
        signal
      })
    )
  }

  /**
   * A destructive patch (`rollout undo`), made only with the proof that the object is ours: the patch
   * carries the proof's uid and resourceVersion, so the API server refuses it (StaleObject) when the
   * object changed or was made anew since the read that proved it ours.
   */
  async patch(owned: Owned<ObjectPrecondition>, object: KubernetesObject, patch: unknown, contentType: string, options: { fieldManager: string; subresource?: 'status' }): Promise<KubernetesObject> {
    const { uid, resourceVersion } = owned.precondition
    const guarded =
      contentType === 'application/json-patch+json'
        ? // Written into the object, as in a merge patch: the server compares them with what it holds.
          [{ op: 'replace', path: '/metadata/uid', value: uid }, { op: 'replace', path: '/metadata/resourceVersion', value: resourceVersion }, ...(patch as unknown[])]
        : { ...(patch as Record<string, unknown>), metadata: { ...((patch as { metadata?: Record<string, unknown> }).metadata ?? {}), uid, resourceVersion } }
    try {
      return await this.sendPatch(object, guarded, contentType, { fieldManager: options.fieldManager }, true, options.subresource)
    } catch (error) {
      throw (error as { cause?: unknown }).cause instanceof StaleObject ? (error as { cause: StaleObject }).cause : error
    }
  }

  /** A patch checked by the server without persisting it (dryRun=All): what a rollback or image change would do. */
  async dryRunPatch(object: KubernetesObject, patch: unknown, contentType: string, options: { fieldManager: string }): Promise<KubernetesObject> {
    return this.sendPatch(object, patch, contentType, { fieldManager: options.fieldManager, dryRun: 'All' }, false)
  }

  /**
   * This run's own change of a live workload (an image-only deploy, a strategic-merge patch of the
   * chosen containers' images): like an apply, it makes our revision and never goes back to an earlier one.
   */
  async changeImages(object: KubernetesObject, patch: unknown, options: { fieldManager: string; contentType?: string }): Promise<KubernetesObject> {
    // A custom resource (an Argo Rollout) takes no strategic-merge patch: its caller sends a JSON patch.
    return this.sendPatch(object, patch, options.contentType ?? 'application/strategic-merge-patch+json', { fieldManager: options.fieldManager }, false)
  }

  private async sendPatch(object: KubernetesObject, patch: unknown, contentType: string, query: { fieldManager: string; dryRun?: string }, guarded: boolean, subresource?: 'status'): Promise<KubernetesObject> {
    // A controller's status fields (an Argo Rollout's pauseConditions) are written through /status only.
    const path = `${await this.objectPath(object)}${subresource ? `/${subresource}` : ''}`
    return this.call(`patch ${describe(object)}`, signal =>
      this.connection.raw.send<KubernetesObject>(HttpMethod.PATCH, path, { query, body: patch, contentType, signal }).catch(error => {
        // A precondition that does not hold: 409 for a stale resourceVersion, 422 "metadata.uid: field
        // is immutable" for an object made anew under the same name.
        if (guarded && preconditionFailed(error)) throw new StaleObject(describe(object), error)
        throw error
      })
    )
  }

  /** The live object, or undefined when it does not exist. */
  async read<T extends KubernetesObject>(object: KubernetesObject): Promise<T | undefined> {
    const path = await this.objectPath(object)
    return this.call(`read ${describe(object)}`, signal => this.connection.raw.send<T>(HttpMethod.GET, path, { signal }).catch(notFound))
  }

  /**
   * Deletes one object that a fresh read proved ours (`owned`, made only by `ifOurs`), only if it is
   * still exactly the object read: uid and resourceVersion are preconditions, so one made anew under
   * the same name, or changed since the read, is never deleted (the server answers 409). False when
   * it was already gone.
   */
  async delete(owned: Owned<ObjectPrecondition>, object: KubernetesObject, options: { dryRun?: boolean } = {}): Promise<boolean> {
    const path = await this.objectPath(object)
    const { uid, resourceVersion } = owned.precondition
    const body = { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background', preconditions: { uid, resourceVersion } }
    return this.call(`delete ${describe(object)}`, signal =>
      this.connection.raw.send(HttpMethod.DELETE, path, { query: { dryRun: options.dryRun ? 'All' : undefined }, body, signal }).then(
        () => true,
        error => notFound(error) ?? false
      )
    )
  }

  /** One GET of any path that answers JSON (an API group's discovery document). */
  async get<T>(path: string): Promise<T | undefined> {
    return this.call(`read ${path}`, signal => this.connection.raw.send<T>(HttpMethod.GET, path, { signal }).catch(notFound))
  }

  async list<T>(path: string, query: Record<string, string | undefined> = {}): Promise<{ items: T[]; metadata?: { resourceVersion?: string } }> {
    return this.call(`list ${path}`, signal => this.connection.raw.send(HttpMethod.GET, path, { query, signal }))
  }

  /** How the server knows a kind: undefined when it does not (a typo, a CRD not installed). */
  async resource(apiVersion: string, kind: string): Promise<V1APIResource | undefined> {
    let resources = this.connection.discovery.get(apiVersion)
    if (!resources) {
      const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`
      resources = this.call(`discover ${apiVersion}`, signal =>
        this.connection.raw.send<{ resources?: ApiResource[] }>(HttpMethod.GET, path, { signal }).then(list => (list.resources ?? []).filter(r => !r.name.includes('/')), notFound)
      )
      this.connection.discovery.set(apiVersion, resources)
      // A failed discovery (server away, cancelled) is asked again next time.
      resources.catch(() => this.connection.discovery.delete(apiVersion))
    }
    const found = (await resources)?.find(r => r.kind === kind)
    return found ? ({ name: found.name, kind: found.kind, namespaced: found.namespaced, singularName: '', verbs: [] } as V1APIResource) : undefined
  }

  /** The last lines a container wrote (`previous`: before its last restart). */
  async podLog(namespace: string, pod: string, container: string, previous: boolean, tailLines = 20): Promise<string> {
    const path = `/api/v1/namespaces/${namespace}/pods/${pod}/log`
    return this.call(`read the log of ${pod}`, signal => this.connection.raw.send<string>(HttpMethod.GET, path, { query: { container, previous, tailLines }, accept: '*/*', timeoutMs: 10_000, signal }), 1)
  }

  /** Starts one watch request; `done` is called once when it ends, with the error if any. */
  watch(path: string, query: Record<string, string | number | boolean | undefined>, onEvent: (type: string, object: unknown) => void, done: (error?: unknown) => void): Promise<AbortController> {
    return this.connection.watcher.watch(path, query, (type, object) => onEvent(type, object), error => done(error ?? undefined))
  }

  /** The URL path of one object, from discovery (namespaced or not, the resource's plural name). */
  /**
   * The path of a kind's collection (in `namespace` when the kind is namespaced), with whether it is
   * namespaced; undefined when the server does not serve the kind.
   */
  async collectionPath(apiVersion: string, kind: string, namespace: string | undefined): Promise<{ path: string; namespaced: boolean } | undefined> {
    const resource = await this.resource(apiVersion, kind)
    if (!resource) return undefined
    const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`
    const scope = resource.namespaced ? `/namespaces/${encodeURIComponent(namespace ?? 'default')}` : ''
    return { path: `${base}${scope}/${resource.name}`, namespaced: resource.namespaced === true }
  }

  private async objectPath(object: KubernetesObject): Promise<string> {
    const apiVersion = object.apiVersion ?? ''
    const collection = await this.collectionPath(apiVersion, object.kind ?? '', object.metadata?.namespace)
    if (!collection) throw new UserError({ input: 'template', message: `the server knows no kind ${object.kind} in ${apiVersion}: check apiVersion and kind, or install its CustomResourceDefinition first` })
    return `${collection.path}/${encodeURIComponent(object.metadata?.name ?? '')}`
  }

  private async call<T>(what: string, send: (signal?: AbortSignal) => Promise<T>, attempts = 4): Promise<T> {
    const { signal } = this
    const started = Date.now()
    let tries = 0
    const once = async (): Promise<T> => {
      tries++
      const generation = this.connection.generation
      try {
        const answer = await send(signal).catch(async (error: unknown) => {
          // Credentials that expired during a long wait: fresh ones once, then the same request again.
          if (!isUnauthorized(error) || !this.connection.accepted) throw error
          await this.renewCredentials(generation)
          return send(signal).catch((again: unknown) => {
            throw isUnauthorized(again) ? this.credentialsRefused(what) : again
          })
        })
        this.connection.accepted = true
        return answer
      } catch (error) {
        // A 500 for a body that does not fit the schema is the manifest's fault: never worth another try.
        if (isMalformedApply(error)) throw explainApiError(error, what)
        throw error
      }
    }
    try {
      return await retry(once, { attempts, failures: { attempts, withinMs: RETRY_BUDGET_MS }, baseMs: 1000, maxMs: 4000, signal })
    } catch (error) {
      // Our own deadline or cancellation: say that, not "could not read ...".
      if (signal?.aborted) throw signal.reason
      if (error instanceof UserError) throw error
      if ((error as { name?: string })?.name === 'TimeoutError') {
        const seconds = Math.round((Date.now() - started) / 1000)
        throw unreachable(this.server, new Error(`no answer to ${tries} request${tries === 1 ? '' : 's'} in ${seconds}s`))
      }
      if (error instanceof NotTheApi) throw new UserError({ input: 'kubeconfig', message: `could not ${what}: ${error.message} at ${this.server}: check the kubeconfig's server address (a proxy or a login page may be in the way)` })
      const network = !(error as { code?: unknown }).code && (isRetryable(error) || /fetch failed/.test(String((error as Error)?.message)))
      if (network) throw unreachable(this.server, error)
      throw explainApiError(error, what)
    }
  }
}

function preconditionFailed(error: unknown): boolean {
  const failure = apiFailure(error)
  return failure?.code === 409 || (failure?.code === 422 && failure.causes.some(c => c.field === 'metadata.uid'))
}

/** A 404 answers "it does not exist"; any other failure is passed on. */
function notFound(error: unknown): undefined {
  if ((error as { code?: unknown }).code === 404) return undefined
  throw error
}

export function describe(object: { kind?: string; metadata?: { name?: string; namespace?: string } }): string {
  const ns = object.metadata?.namespace ? ` in namespace ${object.metadata.namespace}` : ''
  return `${object.kind}/${object.metadata?.name}${ns}`
}
