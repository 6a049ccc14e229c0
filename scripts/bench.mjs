// `npm run bench`: the ECS benchmark (scripted endpoint) and the Kubernetes one (local cluster),
// each printing its rows. BENCH_ONLY=ecs, kubernetes, runner or codedeploy runs one of them (runner: the step's exit after SIGINT while a request hangs; codedeploy: a CODE_DEPLOY service's bake).
import { spawnSync } from 'node:child_process'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')
let failed = false
for (const name of ['ecs', 'kubernetes', 'runner', 'codedeploy']) {
  if (process.env.BENCH_ONLY && process.env.BENCH_ONLY !== name) continue
  console.log(`\n## ${name}\n`)
  const result = spawnSync(process.execPath, [path.join(root, 'bench', `${name}.mjs`)], { stdio: 'inherit', cwd: root })
  failed ||= result.status !== 0
}
process.exit(failed ? 1 : 0)
