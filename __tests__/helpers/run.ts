import type { ECSClient } from '@aws-sdk/client-ecs'
import os from 'node:os'
import fs from 'node:fs'
import path from 'node:path'
import { parseInputs } from '../../src/inputs.js'
import { choosePlatform } from '../../src/platforms/choose.js'
import { createEcsPlatform } from '../../src/platforms/ecs/index.js'
import { createEcsClient, EcsApi } from '../../src/platforms/ecs/client.js'
import { runDeployment, type RunResult } from '../../src/rollout/engine.js'
import { Progress } from '../../src/rollout/progress.js'

export const REGION = 'us-east-1'
export const CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' }

/** A client configured as the action configures its own (timeouts, no SDK retry), pointed at a local server. */
export function ecsClient(endpoint: string, credentials = CREDENTIALS): ECSClient {
  return createEcsClient({ endpoint, region: REGION, credentials })
}

/** INPUT_* variables as the runner sets them (upper case, dashes kept). */
export function inputEnv(inputs: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(inputs).map(([name, value]) => [`INPUT_${name.toUpperCase()}`, value]))
}

export interface EcsRun {
  result?: RunResult
  error?: Error
  /** Every line the run printed, warnings prefixed with 'warning: '. */
  log: string[]
}

export const GITHUB_ENV = {
  GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
  GITHUB_REPOSITORY: 'acme/shop',
  GITHUB_RUN_ID: '4242',
  GITHUB_REF_NAME: 'main',
  RUNNER_TEMP: fs.mkdtempSync(path.join(os.tmpdir(), 'deploy-service-test-'))
}

/**
 * Runs the whole pipeline in-process (inputs -> ECS platform -> engine) against a local endpoint.
 * `onLine` sees each line as it is printed (a test acts at a step of the run, never after a sleep).
 */
export async function runEcs(
  endpoint: string,
  inputs: Record<string, string>,
  options: { cancel?: AbortSignal; credentials?: typeof CREDENTIALS; onLine?: (line: string) => void } = {}
): Promise<EcsRun> {
  const log: string[] = []
  const print = (line: string) => {
    log.push(line)
    options.onLine?.(line)
  }
  const progress = new Progress({ info: print, warning: line => print(`warning: ${line}`) })
  try {
    const request = parseInputs({ ...GITHUB_ENV, ...inputEnv({ platform: 'ecs', ...inputs }) })
    if (!request.platform) await choosePlatform(request)
    const platform = createEcsPlatform(request, new EcsApi(request.ecs.cluster, ecsClient(endpoint, options.credentials)))
    return { result: await runDeployment(request, platform, progress, options.cancel), log }
  } catch (error) {
    return { error: error as Error, log }
  }
}

/** Writes `text` as a template file `name` in a fresh temporary folder (`.dir`); returns its path. */
export function templateWriter(prefix: string): ((name: string, text: string) => string) & { dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  const write = (name: string, text: string): string => {
    const file = path.join(dir, name)
    fs.writeFileSync(file, text)
    return file
  }
  return Object.assign(write, { dir })
}
