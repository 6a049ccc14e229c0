// The progressive-delivery controllers the Kubernetes suites run on the local control plane (Argo Rollouts,
// Flagger): built from Go modules and cached by scripts/controllers.sh, whose folder holds the binary and
// `crds/`, the CRDs of the same module.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
const ROOT = path.resolve(import.meta.dirname, '../..')

/** How long the first build may take on a cold machine (measured: see scripts/controllers.sh). */
export const BUILD_TIMEOUT_MS = 30 * 60_000

export interface ControllerBuild {
  /** The cached folder. */
  dir: string
  /** The binary's path. */
  binary: string
  /** The CRD files, for `kubectl apply --server-side`. */
  crds: string[]
}

/** Builds the controller (or takes it from the cache; a build under way elsewhere is waited for: the lock). */
export async function controllerBuild(name: 'argo-rollouts' | 'flagger', binary: string): Promise<ControllerBuild> {
  const { stdout } = await run('bash', [path.join(ROOT, 'scripts/controllers.sh'), 'build', name], { maxBuffer: 16 << 20, timeout: BUILD_TIMEOUT_MS })
  const dir = stdout.trim().split('\n').at(-1)!
  const crds = fs.readdirSync(path.join(dir, 'crds')).map(f => path.join(dir, 'crds', f))
  return { dir, binary: path.join(dir, binary), crds }
}
