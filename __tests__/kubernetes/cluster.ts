// Helpers for the Kubernetes integration tests: run the action in-process against the local control
// plane (TEST_KUBECONFIG, set by jest's global setup), and look at the cluster with kubectl.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe } from '@jest/globals'
import { parseInputs } from '../../src/inputs.js'
import { loadPlatform } from '../../src/platforms/choose.js'
import { runDeployment, type RunResult } from '../../src/rollout/engine.js'
import { Progress } from '../../src/rollout/progress.js'
import * as kube from '../cluster/kube.js'

// One kubectl runner and one kubeconfig resolver for every cluster suite: the ones in ../cluster/kube.ts
// (which also ride out an apiserver restart). These wrappers keep the short signatures these suites use.
export const kubeconfig = kube.kubeconfigPath()
/**
 * Integration suites need the local cluster (npm test starts it). Without it they fail rather than
 * skip, so a CI run whose cluster did not start can never look green.
 */
export const withCluster = describe
if (!fs.existsSync(kubeconfig)) console.warn(`no test cluster kubeconfig at ${kubeconfig}: the Kubernetes integration tests will fail`)

export function kubectl(args: string[], input?: string, config = kubeconfig): Promise<{ code: number; stdout: string; stderr: string }> {
  return kube.kubectl(args, { input, kubeconfig: config, timeoutMs: 120_000 })
}

export async function kubectlOk(args: string[], input?: string): Promise<string> {
  return kube.kubectlOk(args, { input, timeoutMs: 120_000 })
}

export const getJson = <T = Record<string, any>>(namespace: string, ...what: string[]): Promise<T> => kube.getJson<T>(namespace, ...what)
export const createNamespace = kube.createNamespace
export const deleteNamespace = kube.deleteNamespace

/** A folder with the given files, for the `template` input. */
export function templateDir(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'k8s-template-'))
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text)
  return dir
}

export interface Run {
  result?: RunResult
  error?: Error
  lines: string[]
  log: string
}

/**
 * Runs the action as main.ts does, in-process: INPUT_* variables -> request -> platform -> engine.
 * The kubeconfig comes through KUBECONFIG (the standard chain) unless the inputs give one. `lines`
 * receives the log as it is printed, for a test that acts while the run waits.
 */
export async function deploy(inputs: Record<string, string>, env: Record<string, string> = {}, lines: string[] = []): Promise<Run> {
  const variables: Record<string, string> = {
    GITHUB_SHA: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_REPOSITORY: 'acme/shop',
    GITHUB_RUN_ID: '1001',
    RUNNER_TEMP: os.tmpdir(),
    ...env
  }
  for (const [key, value] of Object.entries({ platform: 'kubernetes', timeout: '2m', ...inputs })) variables[`INPUT_${key.toUpperCase()}`] = value
  const progress = new Progress({ info: line => lines.push(line), warning: line => lines.push(`WARNING ${line}`) })
  const previous = process.env.KUBECONFIG
  process.env.KUBECONFIG = env.KUBECONFIG ?? kubeconfig
  try {
    const request = parseInputs(variables)
    const platform = await loadPlatform('kubernetes', request)
    const result = await runDeployment(request, platform, progress)
    return { result, lines, log: lines.join('\n') }
  } catch (error) {
    return { error: error as Error, lines, log: lines.join('\n') }
  } finally {
    if (previous === undefined) delete process.env.KUBECONFIG
    else process.env.KUBECONFIG = previous
  }
}

/** What a run ended with, log included, so that a failed expectation shows why. */
export function outcome(run: Run): { status?: string; revision?: string; previousRevision?: string; error?: string; reasons?: string; log: string } {
  const { result } = run
  return { status: result?.status, revision: result?.revision, previousRevision: result?.previousRevision, error: run.error?.message, reasons: result?.reasons.join('\n'), log: run.log }
}

/** Fails with the run's log and reasons when it did not end with `status`. */
/** What the run's object table says of `ref` (`Rollout/web`): `ready: ...`, `not ready: ...`, `failed: ...`. */
export function stateOf(run: Run, ref: string): string | undefined {
  return run.result?.objects?.find(o => o.ref === ref)?.state
}

export function expectStatus(run: Run, status: string): void {
  if (run.result?.status === status) return
  throw new Error(`expected status ${status}, got ${run.result?.status ?? 'an error'}: ${run.error?.message ?? run.result?.message}\nreasons: ${run.result?.reasons.join('\n')}\nlog:\n${run.log}`)
}

export function deployment(name: string, image: string, options: { replicas?: number; annotations?: string; kind?: string } = {}): string {
  const kind = options.kind ?? 'Deployment'
  const replicas = kind === 'DaemonSet' ? '' : `  replicas: ${options.replicas ?? 2}\n`
  const service = kind === 'StatefulSet' ? `  serviceName: ${name}\n` : ''
  const strategy = kind === 'Deployment' ? '  strategy: {rollingUpdate: {maxUnavailable: 0, maxSurge: 1}}\n' : ''
  return `apiVersion: apps/v1
kind: ${kind}
metadata:
  name: ${name}
spec:
${replicas}${service}${strategy}  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}${options.annotations ? `\n      annotations: ${options.annotations}` : ''}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: ${name}
        image: ${image}
`
}

/** Polls `check` until it holds; throws, naming `what`, after `timeoutMs`. */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  await kube.waitFor(what, timeoutMs, check)
}

/**
 * A namespace of the suite's own, created before its tests and deleted after them; `use` receives its
 * name (`let ns = ''; inNamespace('k8s-x', name => (ns = name))`).
 */
export function inNamespace(prefix: string, use: (name: string) => void): void {
  let name = ''
  beforeAll(async () => {
    name = await createNamespace(prefix)
    use(name)
  }, 60_000)
  afterAll(async () => {
    if (name) await deleteNamespace(name)
  })
}
