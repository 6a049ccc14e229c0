import type { Service } from '@aws-sdk/client-ecs'
import { ProblemList, UserError } from '../../../errors.js'
import { parseDocuments, type SourceDocument } from '../../../render/source.js'
import { readTemplateFile } from '../../../render/template-file.js'

const INPUT = 'codedeploy-appspec'

/** The lifecycle hooks an ECS AppSpec may name (each runs a Lambda function), in the order CodeDeploy runs them. */
export const ECS_HOOKS = ['BeforeInstall', 'AfterInstall', 'AfterAllowTestTraffic', 'BeforeAllowTraffic', 'AfterAllowTraffic'] as const

/** Properties of the AppSpec's TargetService that the file may set; the rest come from the service. */
const FILE_PROPERTIES = ['PlatformVersion', 'NetworkConfiguration', 'CapacityProviderStrategy'] as const

/** What the user's AppSpec file adds to the one built from the service. */
export interface AppSpecAdditions {
  file: string
  hooks: Array<Record<string, string>>
  properties: Record<string, unknown>
}

/** An ECS AppSpec (version 0.0), as CodeDeploy reads it from CreateDeployment's AppSpecContent. */
export interface AppSpec {
  version: '0.0'
  Resources: Array<{ TargetService: { Type: 'AWS::ECS::Service'; Properties: Record<string, unknown> } }>
  Hooks?: Array<Record<string, string>>
}

/**
 * The AppSpec for a new task definition of `service`: the container and port CodeDeploy routes
 * traffic to come from the service's load balancer (a CODE_DEPLOY service has exactly one), the
 * hooks and optional properties from the user's file.
 */
export function buildAppSpec(service: Service, taskDefinition: string, additions?: AppSpecAdditions): AppSpec {
  const target = loadBalancerTarget(service)
  const properties: Record<string, unknown> = {
    TaskDefinition: taskDefinition,
    LoadBalancerInfo: { ContainerName: target.containerName, ContainerPort: target.containerPort },
    ...additions?.properties
  }
  const appSpec: AppSpec = { version: '0.0', Resources: [{ TargetService: { Type: 'AWS::ECS::Service', Properties: properties } }] }
  if (additions?.hooks.length) appSpec.Hooks = additions.hooks
  return appSpec
}

/** The container and port behind the service's load balancer: where CodeDeploy shifts traffic. */
export function loadBalancerTarget(service: Service): { containerName: string; containerPort: number } {
  const balancer = (service.loadBalancers ?? []).find(lb => lb.containerName && lb.containerPort)
  if (!balancer) {
    throw new UserError({
      input: 'service',
      message: `ECS service '${service.serviceName}' uses the CODE_DEPLOY deployment controller but has no load balancer with a container name and port: CodeDeploy blue/green deploys need one (a target group pair in the deployment group); nothing was registered`
    })
  }
  return { containerName: balancer.containerName!, containerPort: balancer.containerPort! }
}

/**
 * Reads the `codedeploy-appspec` file (YAML or JSON, a whole AppSpec or only its Hooks). Every problem
 * is reported at once, at file:line: an unknown hook, a hook without a function, a LoadBalancerInfo
 * that differs from the service's (CodeDeploy would route traffic to the wrong container).
 */
export async function readAppSpecFile(file: string, service: Service): Promise<AppSpecAdditions> {
  let text: string
  try {
    text = await readTemplateFile(file)
  } catch (error) {
    throw new UserError({ input: INPUT, message: (error as Error).message.replace(/^input 'template': /, '') })
  }
  const documents = parseDocuments(text, file)
  if (documents.length !== 1) throw new UserError({ input: INPUT, location: { file, line: 1 }, message: `an AppSpec file holds one document; this one has ${documents.length}` })
  return appSpecAdditions(documents[0], service)
}

function appSpecAdditions(document: SourceDocument, service: Service): AppSpecAdditions {
  const problems = new ProblemList()
  const at = (path: Array<string | number>, message: string): void => problems.add({ input: INPUT, location: document.locate(path), message })
  const value = document.value
  const additions: AppSpecAdditions = { file: document.file, hooks: [], properties: {} }
  if (!isObject(value)) {
    at([], 'an AppSpec must be a mapping (version, Resources, Hooks)')
    problems.throwIfAny()
    return additions
  }
  for (const key of Object.keys(value)) if (!['version', 'Resources', 'Hooks'].includes(key)) at([key], `unknown AppSpec key '${key}': an ECS AppSpec has version, Resources and Hooks`)
  if (value.version !== undefined && String(value.version) !== '0' && String(value.version) !== '0.0') at(['version'], `AppSpec version ${String(value.version)}: ECS AppSpecs are version 0.0`)
  if (value.Hooks !== undefined) {
    if (!Array.isArray(value.Hooks)) at(['Hooks'], `Hooks must be a list of '- HookName: LambdaFunction' entries (hooks: ${ECS_HOOKS.join(', ')})`)
    else value.Hooks.forEach((entry, index) => {
      const entries = isObject(entry) ? Object.entries(entry) : []
      if (entries.length !== 1) return at(['Hooks', index], `each Hooks entry is one '- HookName: LambdaFunction' pair`)
      const [name, fn] = entries[0]
      if (!(ECS_HOOKS as readonly string[]).includes(name)) return at(['Hooks', index, name], `unknown ECS lifecycle hook '${name}': use one of ${ECS_HOOKS.join(', ')}`)
      if (typeof fn !== 'string' || fn.trim() === '') return at(['Hooks', index, name], `hook ${name} must name a Lambda function (name or ARN)`)
      if (additions.hooks.some(h => name in h)) return at(['Hooks', index, name], `hook ${name} is given twice`)
      additions.hooks.push({ [name]: fn.trim() })
    })
  }
  if (value.Resources !== undefined) readResources(value.Resources, service, at, additions)
  problems.throwIfAny()
  return additions
}

/** The file's TargetService: its optional properties are kept; TaskDefinition is this run's; LoadBalancerInfo must match the service. */
function readResources(resources: unknown, service: Service, at: (path: Array<string | number>, message: string) => void, additions: AppSpecAdditions): void {
  const target = Array.isArray(resources) && resources.length === 1 && isObject(resources[0]) ? resources[0].TargetService : undefined
  if (!isObject(target)) return at(['Resources'], 'Resources must be one entry, TargetService (Type AWS::ECS::Service, Properties)')
  const base = ['Resources', 0, 'TargetService']
  if (target.Type !== undefined && target.Type !== 'AWS::ECS::Service') at([...base, 'Type'], `TargetService Type must be AWS::ECS::Service, not ${String(target.Type)}`)
  const properties = target.Properties ?? {}
  if (!isObject(properties)) return at([...base, 'Properties'], 'Properties must be a mapping')
  for (const [key, value] of Object.entries(properties)) {
    const path = [...base, 'Properties', key]
    if (key === 'TaskDefinition') continue // this run's new revision takes its place
    if (key === 'LoadBalancerInfo') {
      const live = service.loadBalancers?.find(lb => lb.containerName && lb.containerPort)
      const given = isObject(value) ? value : {}
      if (live && (given.ContainerName !== live.containerName || Number(given.ContainerPort) !== live.containerPort)) {
        at(path, `LoadBalancerInfo says ${String(given.ContainerName)}:${String(given.ContainerPort)}, but service '${service.serviceName}' routes its load balancer to ${live.containerName}:${live.containerPort}; remove LoadBalancerInfo (it is read from the service) or fix it`)
      }
      continue
    }
    if (!(FILE_PROPERTIES as readonly string[]).includes(key)) {
      at(path, `unknown TargetService property '${key}': the file may set ${FILE_PROPERTIES.join(', ')} (TaskDefinition and LoadBalancerInfo come from this deploy and the service)`)
      continue
    }
    additions.properties[key] = value
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
