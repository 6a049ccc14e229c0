import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type { MotoServer } from '../../test/support/moto.js'

const run = promisify(execFile)

export default async function globalTeardown(): Promise<void> {
  const state = globalThis as Record<string, unknown>
  await (state.__moto as MotoServer | undefined)?.stop()
  if (state.__clusterStarted && process.env.DEPLOY_SERVICE_KEEP_CLUSTER !== '1') {
    await run('bash', ['test/cluster/cluster.sh', 'down'], { timeout: 120_000 })
  }
}
