// `npm test`: type-check, lint (eslint), then every jest suite: unit, ECS against moto and the scripted endpoint,
// Kubernetes against the local control plane, GitHub Deployments, examples, the bundle end to end.
// The cluster is started here once (built from Go modules the first time) and stopped at the end;
// jest's global setup starts moto. Suites that restart kube-apiserver run last, one at a time, so
// they never pull the server from under another suite. Ends with the plain line CI reads:
// "tests: N passed, N failed, N skipped".
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')
const bin = name => path.join(root, 'node_modules', '.bin', name)
const args = process.argv.slice(2)
const SERIAL = ['__tests__/cluster/', '__tests__/kubernetes/apiserver-restart']
const totals = { passed: 0, failed: 0, skipped: 0 }
let ok = true

function jest(extra) {
  const report = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'jest-')), 'report.json')
  const status = spawnSync(process.execPath, [bin('jest'), '--json', `--outputFile=${report}`, ...extra], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --experimental-vm-modules --no-warnings=ExperimentalWarning`.trim() }
  }).status
  if (fs.existsSync(report)) {
    const result = JSON.parse(fs.readFileSync(report, 'utf8'))
    totals.passed += result.numPassedTests
    totals.failed += result.numFailedTests + result.numRuntimeErrorTestSuites
    totals.skipped += result.numPendingTests + result.numTodoTests
  } else if (status !== 0) totals.failed++
  ok &&= status === 0
}

// helm and kustomize take minutes to build the first time on a machine: start now, while tsc and eslint run;
// jest's global setup waits for this build (scripts/tools.sh holds a lock) and puts them on PATH.
spawn('bash', [path.join(root, 'scripts/tools.sh'), 'build'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] }).on('error', () => {})
// Likewise the Argo Rollouts and Flagger controllers (their suites wait for them: scripts/controllers.sh holds a lock).
spawn('bash', [path.join(root, 'scripts/controllers.sh'), 'build', 'argo-rollouts', 'flagger'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] }).on('error', () => {})

if (spawnSync(bin('tsc'), ['--noEmit', '-p', 'tsconfig.test.json'], { cwd: root, stdio: 'inherit' }).status !== 0) {
  console.log('\ntests: 0 passed, 1 failed (type check)')
  process.exit(1)
}
if (spawnSync(bin('eslint'), ['.'], { cwd: root, stdio: 'inherit' }).status !== 0) {
  console.log('\ntests: 0 passed, 1 failed (lint: npm run lint)')
  process.exit(1)
}

let startedCluster = false
if (!process.env.TEST_KUBECONFIG && process.env.DEPLOY_SERVICE_CLUSTER !== 'off') {
  // A cluster that was already running is used and left running: only the run that started it stops it.
  const wasRunning = spawnSync('bash', [path.join(root, 'test/cluster/cluster.sh'), 'status'], { cwd: root, stdio: 'ignore' }).status === 0
  const out = execFileSync('bash', [path.join(root, 'test/cluster/cluster.sh'), 'up'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  process.env.TEST_KUBECONFIG = out.trim().split('\n').pop()
  startedCluster = !wasRunning
}
try {
  if (args.length > 0) jest(args)
  else {
    jest(SERIAL.flatMap(p => ['--testPathIgnorePatterns', p]))
    jest(['--runInBand', ...SERIAL])
  }
} finally {
  if (startedCluster) spawnSync('bash', [path.join(root, 'test/cluster/cluster.sh'), 'down'], { cwd: root, stdio: 'inherit' })
}
console.log(`\ntests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`)
process.exit(ok && totals.failed === 0 ? 0 : 1)
