// Helpers for tests that talk to the loopback test cluster (test/cluster/cluster.sh) through the
// real kubectl. The cluster is expected to be up already (jest's global setup runs `cluster.sh up`).
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

/** The run folder of the test cluster, as cluster.sh computes it. */
export function clusterRunDir(): string {
  const explicit = process.env.DEPLOY_SERVICE_CLUSTER_DIR
  if (explicit) return explicit.replace(/\/+$/, '')
  const tmp = (process.env.TMPDIR || '/tmp').replace(/\/+$/, '')
  return `${tmp}/deploy-service-cluster`
}

/**
 * The admin kubeconfig of the test cluster (user in system:masters): TEST_KUBECONFIG, which jest's
 * global setup sets to what `cluster.sh up` printed, else the one in the run folder. Never
 * $KUBECONFIG, so that a developer's own cluster is never the target.
 */
export function kubeconfigPath(): string {
  return process.env.TEST_KUBECONFIG || path.join(clusterRunDir(), 'kubeconfig')
}

/** The kubeconfig of user "limited" (beside the admin one): authenticated, no RBAC binding. */
export function limitedKubeconfigPath(): string {
  return path.join(path.dirname(kubeconfigPath()), 'kubeconfig-limited')
}

/** True when the cluster's kubeconfig is there, i.e. `cluster.sh up` has run. */
export function clusterAvailable(): boolean {
  return fs.existsSync(kubeconfigPath())
}

/** Path of cluster.sh; tests run from the repository root. */
export function clusterScript(): string {
  return path.resolve(process.cwd(), 'test/cluster/cluster.sh')
}

export interface RunResult {
  code: number
  stdout: string
  stderr: string
}

export interface KubectlOptions {
  /** Written to kubectl's standard input (for `apply -f -`). */
  input?: string
  kubeconfig?: string
  timeoutMs?: number
}

function run(file: string, args: string[], options: KubectlOptions & { env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      args,
      { env: options.env ?? process.env, timeout: options.timeoutMs ?? 60_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0
        resolve({ code, stdout: String(stdout), stderr: String(stderr) })
      }
    )
    child.stdin?.end(options.input ?? '')
  })
}

/**
 * kubectl's words for "the request never got an answer": the apiserver is down or restarting (another
 * suite may run `cluster.sh restart-apiserver` at the same time).
 */
const apiserverAway =
  /connection refused|was refused|connection reset|Unable to connect to the server|currently unable to handle the request|client connection lost|: EOF/

/**
 * Runs kubectl against the test cluster; never throws, look at `code`. While the apiserver is away
 * (a restart takes up to ~10 s) the command is tried again, for up to 30 s.
 */
export async function kubectl(args: string[], options: KubectlOptions = {}): Promise<RunResult> {
  const deadline = Date.now() + 30_000
  for (;;) {
    const result = await run('kubectl', ['--kubeconfig', options.kubeconfig ?? kubeconfigPath(), ...args], options)
    if (result.code === 0 || !apiserverAway.test(result.stderr) || Date.now() > deadline) return result
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
}

/** Runs kubectl and throws with its stderr when it fails; returns stdout. */
export async function kubectlOk(args: string[], options: KubectlOptions = {}): Promise<string> {
  const result = await kubectl(args, options)
  if (result.code !== 0) {
    throw new Error(`kubectl ${args.join(' ')} failed (exit ${result.code}): ${result.stderr.trim()}`)
  }
  return result.stdout
}

/** Runs a subcommand of cluster.sh (e.g. `restart-apiserver`). */
export function clusterSh(subcommand: string, timeoutMs = 180_000): Promise<RunResult> {
  return run('bash', [clusterScript(), subcommand], { timeoutMs })
}

/** Creates a namespace with a unique name and returns the name. */
export async function createNamespace(prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`.toLowerCase()
  await kubectlOk(['create', 'namespace', name])
  // Pods can only be created once the service-account controller made "default".
  await waitFor(`service account default in ${name}`, 30_000, async () => {
    const result = await kubectl(['-n', name, 'get', 'serviceaccount', 'default', '-o', 'name'])
    return result.code === 0
  })
  return name
}

/** Deletes a namespace without waiting for it to go. */
export async function deleteNamespace(name: string): Promise<void> {
  await kubectl(['delete', 'namespace', name, '--wait=false', '--ignore-not-found'])
}

/** Applies a manifest (YAML text) in a namespace. */
export async function apply(namespace: string, manifest: string): Promise<void> {
  await kubectlOk(['-n', namespace, 'apply', '-f', '-'], { input: manifest })
}

/** Gets one object as parsed JSON. */
export async function getJson<T = unknown>(namespace: string, ...what: string[]): Promise<T> {
  return JSON.parse(await kubectlOk(['-n', namespace, 'get', ...what, '-o', 'json'])) as T
}

/** Polls `check` until it returns a truthy value or the time is up, then throws. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const value = await check()
      if (value) return value
    } catch (error) {
      lastError = error
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? `: ${lastError.message}` : ''
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

/** A long-running kubectl (e.g. a watch) whose output is collected as it comes. */
export interface Streaming {
  child: ChildProcessWithoutNullStreams
  /** Everything written to stdout so far. */
  output(): string
  /** Resolves with the exit code when the process ends. */
  exited: Promise<number | null>
}

export function kubectlStream(args: string[], options: KubectlOptions = {}): Streaming {
  const child = spawn('kubectl', ['--kubeconfig', options.kubeconfig ?? kubeconfigPath(), ...args])
  let out = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => {
    out += chunk
  })
  child.stderr.resume()
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  return { child, output: () => out, exited }
}
