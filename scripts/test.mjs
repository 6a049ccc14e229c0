// `npm test`: type-check, then every jest suite (unit, moto, scripted ECS, the local Kubernetes
// cluster, the bundle end to end). The global setup starts and stops the servers it needs.
// Ends with one plain line, "N passed, N failed", that CI reads.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')
const bin = name => path.join(root, 'node_modules', '.bin', name)
const run = (command, args, env = {}) => spawnSync(command, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } }).status

if (run(bin('tsc'), ['--noEmit', '-p', 'tsconfig.test.json']) !== 0) {
  console.log('tests: 0 passed, 1 failed (type check)')
  process.exit(1)
}

const report = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'jest-')), 'report.json')
const status = run(process.execPath, [bin('jest'), '--json', `--outputFile=${report}`, ...process.argv.slice(2)], {
  NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --experimental-vm-modules --no-warnings=ExperimentalWarning`.trim()
})
let passed = 0
let failed = 0
let skipped = 0
if (fs.existsSync(report)) {
  const result = JSON.parse(fs.readFileSync(report, 'utf8'))
  passed = result.numPassedTests
  failed = result.numFailedTests + result.numRuntimeErrorTestSuites
  skipped = result.numPendingTests + result.numTodoTests
}
if (status !== 0 && failed === 0) failed = 1
console.log(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped`)
process.exit(status === 0 && failed === 0 ? 0 : 1)
