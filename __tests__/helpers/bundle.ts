// Runs the committed bundle the way a runner does, for the end-to-end suites.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { inputEnv } from './run.js'

const BUNDLE = path.resolve('dist/index.js')

export interface BundleRun {
  code: number | null
  stdout: string
  outputs: Record<string, string>
  summary: string
  /** From the start of the process to its exit. */
  elapsedMs: number
}

/** Runs dist/index.js in a child process the way a runner does, returning what a runner would see. */
export function runBundle(inputs: Record<string, string>, env: Record<string, string>, options: { node?: string; signalAfterMs?: number; bundle?: string } = {}): Promise<BundleRun> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bundle-run-'))
  const outputFile = path.join(dir, 'output')
  const summaryFile = path.join(dir, 'summary')
  fs.writeFileSync(outputFile, '')
  fs.writeFileSync(summaryFile, '')
  const startedAt = Date.now()
  const child = spawn(options.node ?? process.execPath, [options.bundle ?? BUNDLE], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      GITHUB_OUTPUT: outputFile,
      GITHUB_STEP_SUMMARY: summaryFile,
      GITHUB_SHA: 'feedfacefeedfacefeedfacefeedfacefeedface',
      GITHUB_REPOSITORY: 'acme/shop',
      GITHUB_RUN_ID: '77',
      GITHUB_SERVER_URL: 'https://github.com',
      RUNNER_TEMP: dir,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      ...inputEnv(inputs),
      ...env
    }
  })
  let stdout = ''
  child.stdout.on('data', chunk => (stdout += chunk))
  child.stderr.on('data', chunk => (stdout += chunk))
  if (options.signalAfterMs) setTimeout(() => child.kill('SIGINT'), options.signalAfterMs)
  return new Promise(resolve => {
    child.on('close', code => {
      const elapsedMs = Date.now() - startedAt
      resolve({ code, stdout, elapsedMs, outputs: parseOutputs(readIfFile(outputFile)), summary: readIfFile(summaryFile) })
    })
  })
}

function readIfFile(file: string): string {
  return fs.statSync(file, { throwIfNoEntry: false })?.isFile() ? fs.readFileSync(file, 'utf8') : ''
}

/** GITHUB_OUTPUT as @actions/core writes it: `name<<DELIMITER`, the value, `DELIMITER`. */
function parseOutputs(text: string): Record<string, string> {
  const outputs: Record<string, string> = {}
  const pattern = /^(.+?)<<(\S+)\n([\s\S]*?)\n\2$/gm
  for (let match = pattern.exec(text); match; match = pattern.exec(text)) outputs[match[1]] = match[3]
  return outputs
}

