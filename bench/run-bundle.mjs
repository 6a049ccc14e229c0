// Runs the committed bundle (dist/index.js, or BENCH_BUNDLE: another build of the action to measure)
// as the runner runs it, against a local endpoint; shared by the ECS benchmarks.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')
const bundle = process.env.BENCH_BUNDLE ?? path.join(root, 'dist/index.js')

export /** Runs dist/index.js like the runner; resolves with its exit time, outputs and log. */
function runBundle(endpoint, inputs, extraEnv = {}, watchFor) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-'))
  const outputFile = path.join(dir, 'output')
  fs.writeFileSync(outputFile, '')
  const env = {
    PATH: process.env.PATH, HOME: process.env.HOME, RUNNER_TEMP: dir, GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: path.join(dir, 'summary'), AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench', AWS_ENDPOINT_URL_ECS: endpoint, INPUT_PLATFORM: 'ecs', INPUT_SERVICE: 'web', ...extraEnv
  }
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value
  fs.writeFileSync(env.GITHUB_STEP_SUMMARY, '')
  const spawnedAt = Date.now()
  const child = spawn(process.execPath, [...(extraEnv.TRACE_LOADS_FILE ? ['--import', path.join(root, 'bench/trace-loads.mjs')] : []), bundle], { env })
  let log = ''
  let seenAt
  child.stdout.on('data', d => {
    log += d
    if (watchFor && seenAt === undefined && watchFor.test(log)) seenAt = Date.now()
  })
  child.stderr.on('data', d => (log += d))
  return new Promise(resolve =>
    child.on('close', code => {
      const output = fs.readFileSync(outputFile, 'utf8')
      const id = /deployment-id<<(\S+)\n(.*)\n/.exec(output)?.[2]
      resolve({ code, exitedAt: Date.now(), spawnedAt, seenAt, log, output, deploymentId: id })
    })
  )
}

