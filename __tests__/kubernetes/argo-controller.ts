// The real Argo Rollouts controller for the tests: built from Go modules and cached by
// scripts/controllers.sh (minutes the first time on a machine, then instant), its CRDs (from the same
// module) installed on the shared local cluster, and the controller run in namespaced mode, watching
// only the suite's own namespace, without leader election, on free ports; stopped after the suite.
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { controllerBuild } from '../../test/support/controllers.js'
import { freePort } from '../../test/support/moto.js'
import { afterAll, beforeAll } from '@jest/globals'
import { inNamespace, kubeconfig, kubectlOk, until } from './cluster.js'

import { BUILD_TIMEOUT_MS } from '../../test/support/controllers.js'

export { BUILD_TIMEOUT_MS }

export interface ArgoController {
  log: () => string
  stop: () => Promise<void>
}

/** Builds (or finds) the controller, installs its CRDs and starts it for one namespace. */
export async function startArgoRollouts(namespace: string): Promise<ArgoController> {
  const { dir, binary, crds } = await controllerBuild('argo-rollouts', 'rollouts-controller')
  // Server-side: the CRDs are too big for client-side apply's last-applied annotation.
  await kubectlOk(['apply', '--server-side', '--force-conflicts', ...crds.flatMap(f => ['-f', f])])
  // Polled rather than `kubectl wait`, which errs on a CRD whose status has no conditions yet.
  for (const crd of ['rollouts.argoproj.io', 'analysisruns.argoproj.io']) {
    await until(`CRD ${crd} Established`, async () => {
      const status = JSON.parse(await kubectlOk(['get', 'crd', crd, '-o', 'json'])) as { status?: { conditions?: Array<{ type: string; status: string }> } }
      return status.status?.conditions?.some(c => c.type === 'Established' && c.status === 'True') ?? false
    })
  }
  const [metrics, healthz] = [await freePort(), await freePort()]
  const logFile = path.join(dir, `controller-${namespace}.log`)
  const out = fs.openSync(logFile, 'w')
  const child: ChildProcess = spawn(
    binary,
    ['--kubeconfig', kubeconfig, '--namespaced', '--namespace', namespace, '--leader-elect=false', '--metricsport', String(metrics), '--healthzPort', String(healthz), '--loglevel', 'info'],
    { stdio: ['ignore', out, out] }
  )
  fs.closeSync(out)
  const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
  return {
    log: () => fs.readFileSync(logFile, 'utf8'),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    }
  }
}

/**
 * The suite's own namespace with a controller watching it: started before the suite's tests (after the
 * namespace is made), stopped after them. `use` hears both once they are up.
 */
export function inArgoNamespace(prefix: string, use: (namespace: string, controller: ArgoController) => void): void {
  let namespace = ''
  let controller: ArgoController | undefined
  inNamespace(prefix, name => (namespace = name))
  beforeAll(async () => {
    controller = await startArgoRollouts(namespace)
    use(namespace, controller)
  }, BUILD_TIMEOUT_MS)
  afterAll(async () => {
    await controller?.stop()
  })
}

/** A canary Rollout of `name`: two replicas of one container, half the traffic, then `steps` (YAML step items). */
export function canaryRollout(name: string, image: string, options: { steps?: string[]; deadline?: number } = {}): string {
  return `apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: ${name}}
spec:
  replicas: 2
  progressDeadlineSeconds: ${options.deadline ?? 600}
  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: ${name}
        image: ${image}
  strategy:
    canary:
      steps:
      - setWeight: 50
${(options.steps ?? []).map(step => `      - ${step}\n`).join('')}`
}
