import * as core from '@actions/core'
import type { DeployRequest } from '../request.js'
import { ecsInputs, serviceDeploymentArnInput } from './ecs.js'
import { environmentUrlInput, gitHubInputs } from './github.js'
import { applyInputs, kubernetesInputs, namespaceInput } from './kubernetes.js'
import { healthChecksInput } from './health-checks.js'
import { combinationProblems } from './modes.js'
import { preDeployInput } from './pre-deploy.js'
import { InputReader, type Env } from './reader.js'
import { runOptions, targetInputs } from './target.js'
import { verifyInputs } from './verify.js'

/**
 * Reads every input the way the runner passes them (INPUT_<NAME> with the dashes kept) and turns them
 * into one typed request. All problems are collected and thrown together as one UserError; nothing
 * here touches the network.
 */
export function parseInputs(env: Env = process.env, registerSecret: (secret: string) => void = core.setSecret): DeployRequest {
  const read = new InputReader(env)
  // Each step notes its problems as it reads, so the steps stand in the order users have always seen
  // the problems listed in (a few areas' first inputs are read early for that reason).
  const target = targetInputs(read)
  const namespace = namespaceInput(read)
  const environmentUrl = environmentUrlInput(read)
  const serviceDeploymentArn = serviceDeploymentArnInput(read, target.mode)
  const preDeploy = preDeployInput(read)
  const verify = verifyInputs(read, registerSecret)
  const apply = applyInputs(read, registerSecret)
  const request: DeployRequest = {
    ...target,
    ...runOptions(read),
    preDeploy,
    verify,
    github: gitHubInputs(read, environmentUrl),
    ecs: ecsInputs(read, target.mode, serviceDeploymentArn),
    kubernetes: { ...kubernetesInputs(read, namespace, apply), healthChecks: healthChecksInput(read) }
  }
  // One input for both platforms, read once (its problems said once).
  request.ecs.followLogs = request.kubernetes.followLogs
  combinationProblems(request, read.problems)
  read.problems.throwIfAny()
  return request
}
