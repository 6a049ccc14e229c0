import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto'
import type https from 'node:https'
import * as core from '@actions/core'
import { KubeConfig, type User } from '@kubernetes/client-node'
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types'
import { UserError, errorMessage } from '../../../errors.js'
import { useCredentials } from './credentials.js'

/**
 * An EKS cluster by name: its endpoint and CA from DescribeCluster, and a bearer token made here from
 * the job's AWS credentials the way aws-iam-authenticator defines it. No CLI, no kubeconfig file.
 */

/** The prefix aws-iam-authenticator puts before the base64url presigned URL. */
export const TOKEN_PREFIX = 'k8s-aws-v1.'
/** The header EKS reads the cluster name from; it must be among the signed headers. */
export const CLUSTER_HEADER = 'x-k8s-aws-id'
/**
 * EKS accepts a token for 15 minutes after it was signed (the presigned URL's own 60 s is not what it
 * checks): a new one is made well before, so a request sent near the end never carries a dying token.
 */
export const DEFAULT_REFRESH_AFTER_MS = 10 * 60_000

export interface EksTokenOptions {
  cluster: string
  region: string
  credentials: AwsCredentialIdentity
  /** The STS endpoint the URL names (AWS_ENDPOINT_URL_STS in tests); default the regional one. */
  stsEndpoint?: string
  now?: Date
}

type Bytes = string | ArrayBuffer | ArrayBufferView

function bytes(data: Bytes): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8')
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  return Buffer.from(data)
}

/** SignatureV4 wants a hash class: SHA-256, or HMAC-SHA-256 when given a key. */
class Sha256 {
  private hash: Hash | Hmac
  constructor(secret?: Bytes) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret))
  }
  update(data: Bytes): void {
    this.hash.update(bytes(data))
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()))
  }
}

/** A token for `cluster`: a presigned STS GetCallerIdentity URL with the cluster header signed. */
export async function eksToken(options: EksTokenOptions): Promise<string> {
  const { SignatureV4 } = await import('@smithy/signature-v4')
  const url = new URL(options.stsEndpoint ?? `https://sts.${options.region}.amazonaws.com/`)
  const signer = new SignatureV4({ service: 'sts', region: options.region, credentials: options.credentials, sha256: Sha256, applyChecksum: false, uriEscapePath: true })
  const presigned = await signer.presign(
    {
      method: 'GET',
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: url.pathname || '/',
      query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
      headers: { host: url.host, [CLUSTER_HEADER]: options.cluster }
    },
    { expiresIn: 60, signingDate: options.now }
  )
  const query = new URLSearchParams()
  for (const [key, value] of Object.entries(presigned.query ?? {})) for (const v of [value ?? ''].flat()) query.append(key, v)
  const signed = `${url.protocol}//${url.host}${presigned.path}?${query.toString()}`
  return TOKEN_PREFIX + Buffer.from(signed, 'utf8').toString('base64url')
}

/** What DescribeCluster says about where the API server is. */
export interface EksEndpoint {
  server: string
  /** The cluster CA, base64 PEM as EKS gives it. */
  caData: string
}

/** Endpoint and CA of `cluster`, with errors that name the input and the fix. */
export async function describeEksCluster(cluster: string, signal?: AbortSignal): Promise<EksEndpoint> {
  const { EKSClient, DescribeClusterCommand } = await import('@aws-sdk/client-eks')
  const client = new EKSClient({ maxAttempts: 4 })
  try {
    const answer = await client.send(new DescribeClusterCommand({ name: cluster }), { abortSignal: signal })
    const found = answer.cluster
    if (!found?.endpoint || !found.certificateAuthority?.data) {
      const status = found?.status ? ` (status ${found.status})` : ''
      throw new UserError({ input: 'eks-cluster', message: `EKS cluster '${cluster}' has no endpoint or certificate authority yet${status}: wait until it is ACTIVE` })
    }
    return { server: found.endpoint, caData: found.certificateAuthority.data }
  } catch (error) {
    if (error instanceof UserError) throw error
    throw explainEksError(error, cluster)
  } finally {
    client.destroy()
  }
}

function explainEksError(error: unknown, cluster: string): Error {
  const name = (error as { name?: string })?.name ?? ''
  const message = errorMessage(error)
  if (name === 'ResourceNotFoundException') return new UserError({ input: 'eks-cluster', message: `no EKS cluster '${cluster}' in this account and region: check 'eks-cluster' and AWS_REGION` })
  if (/AccessDenied|UnrecognizedClient|InvalidSignature|ExpiredToken/.test(name)) {
    return new UserError({ input: 'eks-cluster', message: `AWS refused DescribeCluster for '${cluster}' (${message}): the role needs eks:DescribeCluster on this cluster (see SECURITY.md)` })
  }
  if (/Region is missing/i.test(message)) return new UserError({ input: 'eks-cluster', message: 'no AWS region: set AWS_REGION (aws-actions/configure-aws-credentials does)' })
  if (/Could not load credentials/i.test(message)) return new UserError({ input: 'eks-cluster', message: 'no AWS credentials found: run aws-actions/configure-aws-credentials before this step' })
  return new Error(`could not describe EKS cluster '${cluster}': ${message}`, { cause: error })
}

/** The name of the kubeconfig user whose requests carry our EKS token. */
const EKS_USER = 'deploy-service-eks'

export interface EksAuthOptions {
  cluster: string
  region: string
  credentials: AwsCredentialIdentityProvider
  stsEndpoint?: string
  refreshAfterMs?: number
  now?: () => number
}

/**
 * Puts a current EKS token on every request and watch: the client asks its authenticators each time
 * it sends, so a token made anew here is what every later request carries.
 */
export class EksTokenSource {
  private token?: { value: string; madeAt: number }
  private pending?: Promise<string>
  private readonly options: EksAuthOptions

  constructor(options: EksAuthOptions) {
    this.options = options
  }

  /** The token, made anew when the current one is older than the refresh age. */
  async current(): Promise<string> {
    const now = (this.options.now ?? Date.now)()
    if (this.token && now - this.token.madeAt < (this.options.refreshAfterMs ?? DEFAULT_REFRESH_AFTER_MS)) return this.token.value
    return this.renew()
  }

  /** A new token now, from fresh credentials (several callers at once share one). */
  renew(): Promise<string> {
    this.pending ??= this.make().finally(() => (this.pending = undefined))
    return this.pending
  }

  private async make(): Promise<string> {
    const madeAt = (this.options.now ?? Date.now)()
    let credentials: AwsCredentialIdentity
    try {
      // forceRefresh: a memoized provider hands over new role credentials when the old ones expire.
      credentials = await (this.options.credentials as (o?: { forceRefresh?: boolean }) => Promise<AwsCredentialIdentity>)({ forceRefresh: this.token !== undefined })
    } catch (error) {
      throw new UserError({ input: 'eks-cluster', message: `no AWS credentials for the EKS token (${errorMessage(error)}): run aws-actions/configure-aws-credentials before this step` })
    }
    const value = await eksToken({ cluster: this.options.cluster, region: this.options.region, credentials, stsEndpoint: this.options.stsEndpoint, now: new Date(madeAt) })
    core.setSecret(value)
    this.token = { value, madeAt }
    return value
  }

  /** The client's hook: only our own user is ours to authenticate. */
  authenticator(): { isAuthProvider(user: User): boolean; applyAuthentication(user: User, opts: https.RequestOptions): Promise<void> } {
    return {
      isAuthProvider: user => user?.name === EKS_USER,
      applyAuthentication: async (_user, opts) => {
        opts.headers = { ...(opts.headers ?? {}), Authorization: `Bearer ${await this.current()}` }
      }
    }
  }
}

/**
 * The kubeconfig and token source for the `eks-cluster` input: region and credentials from the
 * standard AWS chain (configure-aws-credentials), endpoint and CA from DescribeCluster.
 */
export async function loadEksConfig(cluster: string, signal?: AbortSignal): Promise<{ config: KubeConfig; tokens: EksTokenSource }> {
  const region = awsRegion()
  const endpoint = await describeEksCluster(cluster, signal)
  const { defaultProvider } = await import('@aws-sdk/credential-provider-node')
  const tokens = new EksTokenSource({ cluster, region, credentials: defaultProvider(), stsEndpoint: stsEndpointFromEnv() })
  // The first token now: missing credentials are reported before anything else is tried.
  await tokens.renew()
  const config = eksKubeConfig(cluster, endpoint, tokens)
  return { config, tokens }
}

/** A kubeconfig in memory for the EKS cluster, its requests authenticated by `tokens`. */
export function eksKubeConfig(cluster: string, endpoint: EksEndpoint, tokens: EksTokenSource): KubeConfig {
  const config = new KubeConfig()
  config.loadFromOptions({
    clusters: [{ name: cluster, server: endpoint.server, caData: endpoint.caData, skipTLSVerify: false }],
    users: [{ name: EKS_USER }],
    contexts: [{ name: cluster, cluster, user: EKS_USER }],
    currentContext: cluster
  })
  config.addAuthenticator(tokens.authenticator())
  // A 401 makes a new token; refused again, the error names the token and what to check.
  useCredentials(config, {
    input: 'eks-cluster',
    what: `the EKS token for cluster '${cluster}', made anew from the job's AWS credentials: check that the role has an access entry (or aws-auth mapping) on the cluster and that its credentials have not expired`,
    renew: () => tokens.renew().then(() => undefined)
  })
  return config
}

/** The STS endpoint the token names: the SDK's own override variables, else the regional endpoint. */
export function stsEndpointFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.AWS_ENDPOINT_URL_STS || env.AWS_ENDPOINT_URL || undefined
}

/** The region for DescribeCluster and the token: the same chain the SDK reads. */
export function awsRegion(): string {
  const region = process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION
  if (region) return region
  throw new UserError({ input: 'eks-cluster', message: 'no AWS region: set AWS_REGION (aws-actions/configure-aws-credentials does)' })
}
