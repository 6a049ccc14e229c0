// Helpers for the ECS strategy and pause suites: a seeded service with more deploymentConfiguration,
// and a run of the action against a fresh scripted endpoint whose minutes are scaled.
import { defaultSeed, startScriptedEcs, type ScriptedEcs, type ScriptedEcsOptions, type SeedService } from '../../test/support/scripted-ecs.js'
import { runEcs, type EcsRun } from './run.js'

/** The default `web` service with more deploymentConfiguration (strategy, bake, alarms, hooks). */
export function seedWith(deploymentConfiguration: Record<string, unknown>, seed: Partial<SeedService> = {}): SeedService[] {
  return defaultSeed().map(s => ({ ...s, deploymentConfiguration, ...seed }))
}

// The action reads bake and step minutes as the endpoint plays them (DEPLOY_SERVICE_ECS_MINUTE_MS).
const MINUTE_MS = 1000
process.env.DEPLOY_SERVICE_ECS_MINUTE_MS = String(MINUTE_MS)

export async function deployOn(options: ScriptedEcsOptions, inputs: Record<string, string>): Promise<EcsRun & { ecs: ScriptedEcs }> {
  const ecs = await startScriptedEcs({ settleMs: 1200, failAfterMs: 900, ...options, serviceDeployments: { minuteMs: MINUTE_MS, stageMs: 100, ...options.serviceDeployments } })
  try {
    return { ...(await runEcs(ecs.endpoint, { service: 'web', timeout: '30s', ...inputs })), ecs }
  } finally {
    await ecs.close()
  }
}

export const callsOf = (ecs: ScriptedEcs, operation: string) => ecs.calls.filter(c => c.operation === operation && c.status === 200)
