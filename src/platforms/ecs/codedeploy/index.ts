// Deploys of ECS services under the CODE_DEPLOY deployment controller, loaded by dynamic import from
// the ECS platform only for such services: a rolling deploy never loads the CodeDeploy client.
import * as core from '@actions/core'
import type { Service } from '@aws-sdk/client-ecs'
import type { DeployRequest } from '../../../request.js'
import type { Plan, Rendered } from '../../../rollout/platform.js'
import type { Progress } from '../../../rollout/progress.js'
import { shortArn } from '../assess.js'
import type { EcsApi } from '../client.js'
import { pruneRevisions, reportPruned } from '../revisions.js'
import { readAppSpecFile, buildAppSpec, type AppSpecAdditions } from './appspec.js'
import { CodeDeployApi, createCodeDeployClient } from './client.js'
import { CodeDeployRollout, type CodeDeployTarget } from './rollout.js'

export { CodeDeployApi, createCodeDeployClient } from './client.js'

/** What the ECS platform has prepared: the rendered change, and how to get the revision to deploy. */
export interface CodeDeployPlanInput {
  request: DeployRequest
  /** For keep-revisions after a successful deploy. */
  ecs: EcsApi
  /** The live service (controller CODE_DEPLOY, its load balancer). */
  service: Service
  rendered: Rendered
  previousRevision: string
  /** The ECS plan line ("ECS service web (cluster shop): web:7 -> a new revision ..."). */
  description: string
  checkedBy: string
  /** The task definition diff of the ECS dry run. */
  diff(): Promise<string>
  /**
   * Registers the new revision (deploy) or names the target (rollback): its ARN, and what runs right
   * before the deployment (read again at apply: a deploy may have landed during the pre-deploy step).
   */
  revision(progress: Progress, signal: AbortSignal): Promise<{ taskDefinition: string; previous: string }>
  /** Placeholder for the revision in the dry run's AppSpec, before it is registered. */
  revisionPreview: string
  /** Tests pass a client pointed at a local endpoint; the standard AWS chain otherwise. */
  codeDeploy?: CodeDeployApi
  cancel?: AbortSignal
}

/**
 * The plan for a CODE_DEPLOY service: the AppSpec file is read and checked first (no network), then
 * the deployment group that deploys the service is found, all before anything is registered.
 * Applying registers the task definition and creates a CodeDeploy deployment with an AppSpec built
 * from the service; the rollout follows it, and CodeDeploy's own rollback undoes it.
 */
export async function planCodeDeploy(input: CodeDeployPlanInput): Promise<Plan> {
  const { request, service } = input
  const additions: AppSpecAdditions | undefined = request.ecs.codedeployAppspec ? await readAppSpecFile(request.ecs.codedeployAppspec, service) : undefined
  // Built once now so that a service without a load balancer is refused before anything changes.
  const preview = buildAppSpec(service, input.revisionPreview, additions)
  const api = input.codeDeploy ?? new CodeDeployApi(createCodeDeployClient(), input.cancel)
  const { application, group } = await api.findDeploymentGroup(service.clusterArn ?? request.ecs.cluster, request.service, input.cancel)
  const groupName = group.deploymentGroupName ?? ''
  const config = group.deploymentConfigName ?? 'the default configuration'
  const target: CodeDeployTarget = {
    api,
    application,
    group: groupName,
    service: request.service,
    appSpecFor: taskDefinition => JSON.stringify(buildAppSpec(service, taskDefinition, additions)),
    onPause: request.ecs.onPause,
    bakeMs: terminationWaitMs(group.blueGreenDeploymentConfiguration?.terminateBlueInstancesOnDeploymentSuccess?.terminationWaitTimeInMinutes)
  }
  // CodeDeploy keeps the service's desired count and always starts a new task set.
  const ignored = [request.ecs.desiredCount !== undefined && 'desired-count', request.ecs.forceNewDeployment && 'force-new-deployment'].filter(Boolean)
  if (ignored.length) core.warning(`${ignored.join(' and ')} ${ignored.length > 1 ? 'are' : 'is'} not used for ECS service '${request.service}': CodeDeploy deploys it (a new task set with the service's desired count each time)`)
  const rollbackSetting = group.autoRollbackConfiguration?.enabled ? `automatic rollback on ${(group.autoRollbackConfiguration.events ?? []).join(', ') || 'no events'}` : 'no automatic rollback'
  const route = `through CodeDeploy application ${application}, deployment group ${groupName} (${config}; ${rollbackSetting})`
  return {
    ...input.rendered,
    previousRevision: input.previousRevision,
    description: `${input.description}; ${route}`,
    checkedBy: `${input.checkedBy}; the CodeDeploy deployment group was found and the AppSpec built (CodeDeploy has no dry run of a deployment)`,
    dryRun: async () => {
      const diff = await input.diff()
      const hooks = additions?.hooks.length ? ` (hooks from ${additions.file})` : ''
      return `${diff}\n\nCodeDeploy: application ${application}, deployment group ${groupName}, ${config}, ${rollbackSetting}\nAppSpec${hooks}:\n${JSON.stringify(preview, null, 2)}`
    },
    apply: async (progress, signal) => {
      const { taskDefinition: revision, previous } = await input.revision(progress, signal)
      const why = `deploy-service: ${request.service} -> ${shortArn(revision)} (${request.github.sha.slice(0, 12)})`
      const rollout = await CodeDeployRollout.start(target, revision, previous, progress, signal, why)
      const keep = request.mode === 'deploy' ? request.ecs.keepRevisions : undefined
      if (keep !== undefined) {
        rollout.afterSuccess = async after => {
          const family = shortArn(revision).replace(/:\d+$/, '')
          // The revision a rollback of this deploy returns to is kept whatever its age.
          reportPruned(after, keep, await pruneRevisions(input.ecs, family, keep, [previous]))
        }
      }
      progress.step(`following CodeDeploy deployment ${rollout.outputs['codedeploy-deployment-id']} of ECS service ${request.service} (cluster ${shortArn(request.ecs.cluster)})`)
      return rollout
    }
  }
}

function terminationWaitMs(minutes: number | undefined): number | undefined {
  return minutes === undefined ? undefined : minutes * 60_000
}
