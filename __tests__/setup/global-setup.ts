import { execFile } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import type { MotoServer } from '../../test/support/moto.js'

const run = promisify(execFile)

/**
 * Starts the real local servers the integration tests talk to: moto_server for ECS, and the local
 * Kubernetes control plane (test/cluster) unless DEPLOY_SERVICE_CLUSTER=off. Their addresses reach
 * the test workers through the environment. helm and kustomize (scripts/tools.sh, built from Go modules
 * the first time, then cached) go on the workers' PATH, for the chart and kustomization suites.
 */
export default async function globalSetup(): Promise<void> {
  // Built while moto and the cluster start; a build already under way (npm test starts one early) is waited for.
  const tools = run('bash', ['scripts/tools.sh', 'build'], { maxBuffer: 16 * 1024 * 1024, timeout: 45 * 60_000 })
  // Argo Rollouts and Flagger for their suites (scripts/controllers.sh): built here, early, so no test worker waits minutes.
  const controllers = run('bash', ['scripts/controllers.sh', 'build', 'argo-rollouts', 'flagger'], { maxBuffer: 16 * 1024 * 1024, timeout: 45 * 60_000 })
  // Jest loads this file outside its module mapper: Node 24 imports the TypeScript helper itself.
  const { startMoto } = (await import(new URL('../../test/support/moto.ts', import.meta.url).href)) as { startMoto(): Promise<MotoServer> }
  const moto = await startMoto()
  process.env.MOTO_ENDPOINT = moto.endpoint
  ;(globalThis as Record<string, unknown>).__moto = moto

  if (process.env.DEPLOY_SERVICE_CLUSTER !== 'off' && fs.existsSync('test/cluster/cluster.sh') && !process.env.TEST_KUBECONFIG) {
    // A cluster that was already running (a developer's, or another test run's) is used and left running:
    // only the run that started it stops it.
    const wasRunning = await run('bash', ['test/cluster/cluster.sh', 'status']).then(() => true, () => false)
    const { stdout } = await run('bash', ['test/cluster/cluster.sh', 'up'], { maxBuffer: 16 * 1024 * 1024, timeout: 45 * 60_000 })
    const kubeconfig = stdout.trim().split('\n').pop()!
    process.env.TEST_KUBECONFIG = kubeconfig
    ;(globalThis as Record<string, unknown>).__clusterStarted = !wasRunning
  }
  const toolsDir = (await tools).stdout.trim().split('\n').pop()!
  await controllers
  process.env.PATH = `${toolsDir}${path.delimiter}${process.env.PATH ?? ''}`
}
