// The runner's point of view: the committed bundle (node dist/index.js, as the runner runs it) against
// an endpoint that accepts connections and never answers. Measures how long after SIGINT (what GitHub
// sends when a run is cancelled; SIGTERM follows 7.5 s later, then a kill) the step exits while a
// request hangs, on ECS and on Kubernetes. Also how long the bundle takes to refuse a generated 55 MB task
// definition (refused by its size before it is read). Every connection goes to 127.0.0.1 only.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')
const RUNS = Number(process.env.BENCH_RUNS ?? 3)
const median = values => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

/** A TCP server that takes every connection and never says a word; tells when one arrives. */
async function blackHole() {
  const sockets = new Set()
  let onConnection = () => {}
  const server = net.createServer(socket => {
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
    onConnection()
  })
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    port: server.address().port,
    connected: () => new Promise(resolve => (onConnection = resolve)),
    close: () => {
      for (const socket of sockets) socket.destroy()
      return new Promise(resolve => server.close(resolve))
    }
  }
}

/** Starts the bundle, sends SIGINT once its first request hangs, and measures signal -> exit. */
async function signalWhileHanging(platformEnv) {
  const hole = await blackHole()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-runner-'))
  const env = {
    PATH: process.env.PATH, HOME: dir, RUNNER_TEMP: dir,
    GITHUB_OUTPUT: path.join(dir, 'output'), GITHUB_STEP_SUMMARY: path.join(dir, 'summary'),
    INPUT_SERVICE: 'web', 'INPUT_IMAGE-TAG': '2.0.0', ...platformEnv(hole.port, dir)
  }
  fs.writeFileSync(env.GITHUB_OUTPUT, '')
  fs.writeFileSync(env.GITHUB_STEP_SUMMARY, '')
  const connected = hole.connected()
  const child = spawn(process.execPath, [path.join(root, 'dist/index.js')], { env })
  let log = ''
  child.stdout.on('data', d => (log += d))
  child.stderr.on('data', d => (log += d))
  const exited = new Promise(resolve => child.on('exit', code => resolve(code)))
  const first = await Promise.race([connected.then(() => 'connected'), exited.then(() => 'exited')])
  if (first === 'exited') {
    await hole.close()
    throw new Error(`the bundle exited before its first request hung:\n${log}`)
  }
  await new Promise(resolve => setTimeout(resolve, 500))
  const signalledAt = Date.now()
  child.kill('SIGINT')
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  const code = await exited
  const ms = Date.now() - signalledAt
  clearTimeout(killer)
  await hole.close()
  return { ms, code, cancelled: /cancel/i.test(log), summary: fs.readFileSync(env.GITHUB_STEP_SUMMARY, 'utf8') }
}

const ecs = (port) => ({
  INPUT_PLATFORM: 'ecs', AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench',
  AWS_ENDPOINT_URL_ECS: `http://127.0.0.1:${port}`
})
const kubernetes = (port) => ({
  INPUT_PLATFORM: 'kubernetes', INPUT_NAMESPACE: 'default',
  INPUT_KUBECONFIG: [
    'apiVersion: v1', 'kind: Config', 'current-context: hole',
    'clusters: [{name: hole, cluster: {server: "https://127.0.0.1:' + port + '", insecure-skip-tls-verify: true}}]',
    'users: [{name: u, user: {token: bench}}]',
    'contexts: [{name: hole, context: {cluster: hole, user: u}}]'
  ].join('\n')
})

console.log(`${'measure'.padEnd(58)} | ${'deploy-service'.padEnd(34)} | target`)
for (const [name, platformEnv] of [['ECS', ecs], ['Kubernetes', kubernetes]]) {
  const runs = []
  for (let i = 0; i < RUNS; i++) runs.push(await signalWhileHanging(platformEnv))
  const ok = runs.every(r => r.code !== 0 && r.cancelled && r.summary.length > 0 && r.ms <= 5000)
  const figure = `${(median(runs.map(r => r.ms)) / 1000).toFixed(2)} s (median of ${RUNS}, max ${(Math.max(...runs.map(r => r.ms)) / 1000).toFixed(2)} s)`
  console.log(`${`${name}: SIGINT -> exit while a request hangs`.padEnd(58)} | ${figure.padEnd(34)} | <= 5 s, exit non-zero, says cancelled, summary written${ok ? '' : ' (NOT MET)'}`)
}

/** Runs the bundle on a generated 55 MB task definition (an endpoint that refuses connections: nothing may be called). */
async function refuseHugeTemplate(template) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-runner-'))
  const port = await new Promise(resolve => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
  const env = {
    PATH: process.env.PATH, HOME: dir, RUNNER_TEMP: dir,
    GITHUB_OUTPUT: path.join(dir, 'output'), GITHUB_STEP_SUMMARY: path.join(dir, 'summary'),
    INPUT_SERVICE: 'web', 'INPUT_IMAGE-TAG': '2.0.0', INPUT_TEMPLATE: template, ...ecs(port)
  }
  fs.writeFileSync(env.GITHUB_OUTPUT, '')
  fs.writeFileSync(env.GITHUB_STEP_SUMMARY, '')
  const startedAt = Date.now()
  const child = spawn(process.execPath, [path.join(root, 'dist/index.js')], { env })
  let log = ''
  child.stdout.on('data', d => (log += d))
  child.stderr.on('data', d => (log += d))
  const code = await new Promise(resolve => child.on('exit', resolve))
  return { ms: Date.now() - startedAt, code, named: log.includes(template) && /MiB \(\d+ bytes\), more than the 256 KiB/.test(log) }
}

{
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-template-'))
  const template = path.join(dir, 'task-definition.json')
  const entry = i => `{"name":"GENERATED_${String(i).padStart(8, '0')}","value":"${'x'.repeat(60)}"}`
  const count = Math.ceil((55 * 1000 * 1000) / entry(0).length)
  fs.writeFileSync(template, `{"family":"web","containerDefinitions":[{"name":"web","image":"registry.example/web:1.0.0","essential":true,"environment":[${Array.from({ length: count }, (_, i) => entry(i)).join(',')}]}]}`)
  const runs = []
  for (let i = 0; i < RUNS; i++) runs.push(await refuseHugeTemplate(template))
  fs.rmSync(dir, { recursive: true, force: true })
  const ok = runs.every(r => r.code !== 0 && r.named && r.ms <= 2000)
  const figure = `${(median(runs.map(r => r.ms)) / 1000).toFixed(2)} s (median of ${RUNS}, max ${(Math.max(...runs.map(r => r.ms)) / 1000).toFixed(2)} s)`
  console.log(`${'ECS: start -> exit on a generated 55 MB task definition'.padEnd(58)} | ${figure.padEnd(34)} | <= 2 s (start-up included), names file, size and limit${ok ? '' : ' (NOT MET)'}`)
}

