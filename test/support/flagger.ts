// Flagger (github.com/fluxcd/flagger, built by scripts/controllers.sh from test/controllers/flagger) run
// against the local control plane for one namespace, with the kubernetes provider (no mesh) and no
// metrics server (the Canaries of the tests analyse with webhooks only, served by a test HTTP server).
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { controllerBuild } from './controllers.js'
import { freePort } from './moto.js'

const run = promisify(execFile)

export interface Flagger {
  /** Flagger's own log (for a failed expectation). */
  log(): string
  stop(): Promise<void>
}

/** Installs Flagger's CRDs from the module's own artifacts (server-side: the same for every suite). */
export async function installFlaggerCrds(kubeconfig: string, crds: string[]): Promise<void> {
  await run('kubectl', ['--kubeconfig', kubeconfig, 'apply', '--server-side', '--force-conflicts', '--field-manager', 'deploy-service-tests', ...crds.flatMap(f => ['-f', f])])
  await run('kubectl', ['--kubeconfig', kubeconfig, 'wait', '--for=condition=Established', '--timeout=60s', 'crd/canaries.flagger.app'])
}

/** Starts Flagger watching only `namespace` (other suites share the cluster), with a 1 s control loop. */
export async function startFlagger(kubeconfig: string, namespace: string): Promise<Flagger> {
  const { binary, crds } = await controllerBuild('flagger', 'flagger')
  await installFlaggerCrds(kubeconfig, crds)
  const logFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'flagger-')), 'flagger.log')
  const out = fs.openSync(logFile, 'a')
  const port = await freePort()
  const args = [
    `-kubeconfig=${kubeconfig}`,
    '-mesh-provider=kubernetes',
    '-control-loop-interval=1s',
    `-namespace=${namespace}`,
    `-port=${port}`,
    // Nothing listens there: Flagger only logs that it is unreachable; webhook-only analyses never ask it.
    '-metrics-server=http://127.0.0.1:9',
    '-log-level=info',
    '-zap-encoding=console',
    '-enable-config-tracking=false'
  ]
  const child: ChildProcess = spawn(binary, args, { stdio: ['ignore', out, out] })
  fs.closeSync(out)
  const readLog = (): string => fs.readFileSync(logFile, 'utf8')
  // Ready once its HTTP server answers (it starts after the informers synced).
  const started = Date.now()
  for (;;) {
    if (child.exitCode !== null) throw new Error(`flagger exited with ${child.exitCode}:\n${readLog()}`)
    const healthy = await fetch(`http://127.0.0.1:${port}/healthz`).then(r => r.ok, () => false)
    if (healthy) break
    if (Date.now() - started > 60_000) throw new Error(`flagger did not answer on :${port} within 60s:\n${readLog()}`)
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  return {
    log: readLog,
    stop: () =>
      new Promise<void>(resolve => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      })
  }
}

/** A webhook for the Canaries' analysis: answers 200 while `passing`, else 500; counts the calls. */
export interface CheckServer {
  url: string
  passing: boolean
  calls: number
  close(): Promise<void>
}

export async function startCheckServer(): Promise<CheckServer> {
  const port = await freePort()
  const state = { passing: true, calls: 0 }
  const server = http.createServer((request, response) => {
    request.resume()
    state.calls++
    response.writeHead(state.passing ? 200 : 500, { 'content-type': 'text/plain' })
    response.end(state.passing ? 'ok' : 'the test says no')
  })
  await new Promise<void>(resolve => server.listen(port, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${port}/check`,
    get passing() {
      return state.passing
    },
    set passing(value: boolean) {
      state.passing = value
    },
    get calls() {
      return state.calls
    },
    close: () => new Promise<void>(resolve => server.close(() => resolve()))
  }
}
