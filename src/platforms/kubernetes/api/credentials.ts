import type { KubeConfig } from '@kubernetes/client-node'

/**
 * How a connection gets fresh credentials after a 401 in the middle of a deploy (a token that expired
 * during a long wait), and what to name when even fresh ones are refused.
 */
export interface Credentials {
  renew(): Promise<void>
  /** What was refused, for the error after fresh credentials were refused too. */
  readonly what: string
  /** The input that gave them (default `kubeconfig`). */
  readonly input?: string
}

const credentialsOf = new WeakMap<KubeConfig, Credentials>()

/** Says how `config`'s credentials are renewed (the EKS token source does this for its config). */
export function useCredentials(config: KubeConfig, credentials: Credentials): void {
  credentialsOf.set(config, credentials)
}

/** How `config`'s credentials are renewed: as said by `useCredentials`, else the kubeconfig's own way without a source to read again. */
export function credentialsFor(config: KubeConfig): Credentials {
  return credentialsOf.get(config) ?? kubeconfigCredentials(config, () => undefined)
}

/**
 * The kubeconfig's own credentials, renewed by reading the kubeconfig again (`reload`: a file a sidecar
 * rotates) and forgetting what exec plugins gave, so the plugin runs again.
 */
export function kubeconfigCredentials(config: KubeConfig, reload: () => void): Credentials {
  const user = config.getCurrentUser()
  const exec = (user?.exec as { command?: string } | undefined)?.command
  const what = exec
    ? `the token that the kubeconfig's exec plugin '${exec}' gives (it was run again and its new token was refused too): check the plugin's credentials and the cluster's access for them`
    : user?.token || user?.authProvider
      ? "the kubeconfig's token (expired or revoked; a fixed token cannot be renewed): pass a current kubeconfig, use an exec plugin, or the eks-cluster input for EKS"
      : "the kubeconfig's credentials (an expired client certificate?): pass a current kubeconfig"
  return {
    what,
    renew: () => {
      // The client keeps an exec plugin's token until its expirationTimestamp, or forever without one;
      // its cache is private, so it is emptied through the authenticators that have one.
      const authenticators = (config as unknown as { authenticators?: Array<{ tokenCache?: Record<string, unknown> }> }).authenticators ?? []
      for (const authenticator of authenticators) if (authenticator.tokenCache) for (const key of Object.keys(authenticator.tokenCache)) delete authenticator.tokenCache[key]
      reload()
      return Promise.resolve()
    }
  }
}

/** A 401: the server does not accept the credentials (any more). */
export function isUnauthorized(error: unknown): boolean {
  const e = error as { code?: unknown; statusCode?: unknown }
  return e?.code === 401 || e?.statusCode === 401
}
