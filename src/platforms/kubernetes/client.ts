import * as core from '@actions/core'
import { HttpMethod, KubeConfig, KubernetesObjectApi, Watch, type KubernetesObject, type V1APIResource } from '@kubernetes/client-node'
import { UserError, errorMessage } from '../../errors.js'
import type { KubernetesSettings } from '../../request.js'
import { sleep } from '../../rollout/poll.js'
import { isRetryable } from '../../rollout/retry.js'
import { explainApiError, isMalformedApply, unreachable } from './errors.js'

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
    for (const user of config.getUsers()) for (const secret of [user.token, user.password, user.keyData]) if (secret) core.setSecret(secret)
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
  const cluster = config.getCurrentCluster()
  if (!cluster?.server) {
    throw new UserError({ input: 'kubeconfig', message: `the kubeconfig's current context '${config.getCurrentContext()}' names no cluster with a server: set current-context or the 'context' input` })
  }
  return config
}

/** The namespace of the deploy: the input, else the context's, else `default`. */
export function namespaceOf(config: KubeConfig, settings: KubernetesSettings): string {
  return settings.namespace ?? config.getContextObject(config.getCurrentContext())?.namespace ?? 'default'
}

export interface RequestCounts {
  lists: number
  watches: number
  other: number
}

const REQUEST_TIMEOUT_MS = 30_000

interface SendOptions {
  query?: Record<string, string | number | boolean | undefined>
  body?: unknown
  contentType?: string
  accept?: string
  timeoutMs?: number
}

// KubernetesObjectApi turns bodies into typed models, dropping fields it does not know (a typo in a
// manifest would vanish instead of being reported): requests here carry the user's JSON untouched.
class RawObjectApi extends KubernetesObjectApi {
  async send<T>(method: HttpMethod, path: string, options: SendOptions = {}): Promise<T> {
    const context = this.configuration.baseServer.makeRequestContext(path, method)
    context.setHeaderParam('Accept', options.accept ?? 'application/json')
    // No call may hang a deploy: a server that stops answering is a transient failure (TimeoutError).
    context.setSignal(AbortSignal.timeout(options.timeoutMs ?? REQUEST_TIMEOUT_MS))
    for (const [key, value] of Object.entries(options.query ?? {})) if (value !== undefined) context.setQueryParam(key, String(value))
    if (options.body !== undefined) {
      context.setHeaderParam('Content-Type', options.contentType ?? 'application/json')
      context.setBody(typeof options.body === 'string' ? options.body : JSON.stringify(options.body))
    }
    return (await this.requestPromise(context, 'any')) as T
  }

  objectPath(object: KubernetesObject, action: 'read' | 'patch'): Promise<string> {
    return this.specUriPath(object, action)
  }

  discover(apiVersion: string, kind: string): Promise<V1APIResource | undefined> {
    return this.resource(apiVersion, kind)
  }
}

/**
 * The Kubernetes calls a deploy makes. Retryable failures (throttling, 5xx, dropped connections) are
 * tried again a few times; everything else is turned into an error that names the input and the fix.
 */
export class KubeApi {
  readonly config: KubeConfig
  readonly server: string
  readonly counts: RequestCounts = { lists: 0, watches: 0, other: 0 }
  private readonly raw: RawObjectApi
  private readonly watcher: Watch

  constructor(config: KubeConfig) {
    this.config = config
    this.server = config.getCurrentCluster()!.server
    this.raw = config.makeApiClient(RawObjectApi)
    this.watcher = new Watch(config)
  }

  /** Server-side apply of one object (`dryRun` checks it without persisting). */
  async apply(object: KubernetesObject, options: { fieldManager: string; force: boolean; dryRun: boolean }): Promise<KubernetesObject> {
    const path = await this.call(`find the API of ${object.kind}`, () => this.raw.objectPath(object, 'patch'))
    return this.call(`apply ${describe(object)}${options.dryRun ? ' (server dry run)' : ''}`, () =>
      this.raw.send(HttpMethod.PATCH, path, {
        query: { fieldManager: options.fieldManager, force: options.force || undefined, dryRun: options.dryRun ? 'All' : undefined, fieldValidation: 'Strict' },
        body: object,
        contentType: 'application/apply-patch+yaml'
      })
    )
  }

  /** A patch other than apply: strategic merge or JSON patch (image-only changes, `rollout undo`). */
  async patch(object: KubernetesObject, patch: unknown, contentType: string, options: { fieldManager: string; dryRun?: boolean }): Promise<KubernetesObject> {
    const path = await this.call(`find the API of ${object.kind}`, () => this.raw.objectPath(object, 'patch'))
    return this.call(`patch ${describe(object)}`, () =>
      this.raw.send(HttpMethod.PATCH, path, { query: { fieldManager: options.fieldManager, dryRun: options.dryRun ? 'All' : undefined }, body: patch, contentType })
    )
  }

  /** The live object, or undefined when it does not exist. */
  async read<T extends KubernetesObject>(object: KubernetesObject): Promise<T | undefined> {
    const path = await this.call(`find the API of ${object.kind}`, () => this.raw.objectPath(object, 'read'))
    return this.call(`read ${describe(object)}`, () => this.raw.send<T>(HttpMethod.GET, path).catch(notFound))
  }

  async list<T>(path: string, query: Record<string, string | undefined> = {}): Promise<{ items: T[]; metadata?: { resourceVersion?: string } }> {
    this.counts.lists++
    return this.call(`list ${path}`, () => this.raw.send(HttpMethod.GET, path, { query }))
  }

  /** How the server knows a kind: undefined when it does not (a typo, a CRD not installed). */
  async resource(apiVersion: string, kind: string): Promise<V1APIResource | undefined> {
    return this.call(`discover ${apiVersion}`, () => this.raw.discover(apiVersion, kind).catch(notFound))
  }

  /** The last lines a container wrote (`previous`: before its last restart). */
  async podLog(namespace: string, pod: string, container: string, previous: boolean, tailLines = 20): Promise<string> {
    const path = `/api/v1/namespaces/${namespace}/pods/${pod}/log`
    return this.call(`read the log of ${pod}`, () => this.raw.send<string>(HttpMethod.GET, path, { query: { container, previous, tailLines }, accept: '*/*', timeoutMs: 10_000 }), 1)
  }

  /** Starts one watch request; `done` is called once when it ends, with the error if any. */
  watch(path: string, query: Record<string, string | number | boolean | undefined>, onEvent: (type: string, object: unknown) => void, done: (error?: unknown) => void): Promise<AbortController> {
    this.counts.watches++
    return this.watcher.watch(path, query, (type, object) => onEvent(type, object), error => done(error ?? undefined))
  }

  private async call<T>(what: string, send: () => Promise<T>, attempts = 4): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      this.counts.other++
      try {
        return await send()
      } catch (error) {
        if (attempt < attempts && isRetryable(error) && !isMalformedApply(error)) {
          // Full jitter, no sleep after the last attempt.
          await sleep(Math.random() * 500 * 2 ** attempt)
          continue
        }
        const network = !(error as { code?: unknown }).code && (isRetryable(error) || /fetch failed/.test(String((error as Error)?.message)))
        if (network) throw unreachable(this.server, error)
        throw explainApiError(error, what)
      }
    }
  }
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
