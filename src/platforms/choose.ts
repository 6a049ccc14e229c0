import fs from 'node:fs/promises'
import path from 'node:path'
import { UserError } from '../errors.js'
import { kubernetesTemplate } from '../render/template-kind.js'
import { readTemplateHead } from '../render/template-file.js'
import type { DeployRequest, PlatformName } from '../request.js'
import type { Platform } from '../rollout/platform.js'

/**
 * The platform from the `platform` input, else from the template (`containerDefinitions` means an ECS
 * task definition, `apiVersion`/`kind` Kubernetes manifests), else from which platform's inputs are set.
 */
export async function choosePlatform(request: DeployRequest): Promise<PlatformName> {
  if (request.platform) return request.platform
  // Only ECS service deployments pause or are handed off, and only they can be continued or followed.
  if (request.mode === 'continue' || request.mode === 'follow') return 'ecs'
  if (request.template) {
    // A glob can only be a set of manifests.
    if (/[*?[]/.test(request.template)) return 'kubernetes'
    // A Helm chart or a kustomization folder: rendered by helm or kustomize, for Kubernetes only.
    if ((await kubernetesTemplate(request.template)).kind !== 'manifests') return 'kubernetes'
    const sample = await sampleTemplate(request.template)
    if (/["']?containerDefinitions["']?\s*:/.test(sample)) return 'ecs'
    if (/^\s*["']?(apiVersion|kind)["']?\s*:/m.test(sample)) return 'kubernetes'
  } else {
    const { kubernetes } = request
    if (kubernetes.namespace || kubernetes.kubeconfig || kubernetes.context) return 'kubernetes'
    if (request.ecs.cluster !== 'default' || request.ecs.desiredCount !== undefined) return 'ecs'
  }
  throw new UserError({
    input: 'platform',
    message: "cannot tell the platform: set 'platform' to ecs or kubernetes (or give a template with containerDefinitions, or apiVersion and kind, or a Helm chart or kustomization folder)"
  })
}

/**
 * The head of the template file, or of the first YAML/JSON file of a folder: the keys that tell the
 * platform stand near the top, and a file far too large is refused by its size later, by the platform's
 * own limit, never read whole here.
 */
async function sampleTemplate(template: string): Promise<string> {
  const stat = await fs.stat(template).catch(() => undefined)
  if (stat?.isDirectory()) {
    const first = (await fs.readdir(template)).sort().find(name => /\.(ya?ml|json)$/.test(name))
    return first ? readTemplateHead(path.join(template, first), SAMPLE_BYTES) : ''
  }
  return readTemplateHead(template, SAMPLE_BYTES)
}

const SAMPLE_BYTES = 256 * 1024

/**
 * The platform, loaded on demand so an ECS deploy never parses the Kubernetes client (ncc makes
 * separate chunks). `cancel` is the run's cancellation: it ends every request the platform makes,
 * from the first read in prepare on.
 */
export async function loadPlatform(name: PlatformName, request: DeployRequest, cancel?: AbortSignal): Promise<Platform> {
  if (name === 'ecs') return (await import('./ecs/index.js')).createEcsPlatform(request, undefined, cancel)
  if (request.services.length > 1) {
    throw new UserError({ input: 'service', message: `names ${request.services.length} workloads (${request.services.join(', ')}); Kubernetes deploys one workload per step: name one, or use one step per workload (a matrix)` })
  }
  return (await import('./kubernetes/index.js')).createKubernetesPlatform(request, cancel)
}
