import { ProblemList, UserError } from '../errors.js'
import { renderChart, type RenderedTemplate } from './chart.js'
import { loadManifestDocuments } from './manifests.js'
import { buildOverlay } from './overlay.js'
import type { SourceDocument } from './source.js'
import { kubernetesTemplate, type KubernetesTemplate } from './template-kind.js'
import type { DeployRequest } from '../request.js'

export interface LoadedTemplate {
  documents: SourceDocument[]
  /** Set when a tool rendered the documents: its command and version (for the log and the rendered set). */
  renderedBy?: string
}

/**
 * The documents of the template, rendered by helm or kustomize when it is a chart or a kustomization,
 * else read from the manifests with their `${KEY}` placeholders filled in. Placeholders are for plain
 * manifests only: a chart has its values and a kustomization its own patches and replacements, and
 * their output may hold `${...}` of its own (shell scripts in ConfigMaps) that is not ours to replace.
 * `signal`, the run's cancellation, stops helm or kustomize (each also has its own bound: tools.ts).
 */
export async function loadKubernetesTemplate(request: DeployRequest, namespace: string, env: NodeJS.ProcessEnv = process.env, signal?: AbortSignal): Promise<LoadedTemplate> {
  const template = await kubernetesTemplate(request.template!)
  checkInputsFit(request, template)
  if (template.kind === 'manifests') return { documents: await loadManifestDocuments(request, namespace) }
  const rendered: RenderedTemplate =
    template.kind === 'chart' ? await renderChart(template.dir, request, namespace, { env, signal }) : await buildOverlay(template.dir, template.kustomization, { env, signal })
  // A chart or kustomization that renders nothing is a mistake worth naming (a false condition, an empty templates/).
  if (rendered.documents.length === 0) throw new UserError({ input: 'template', message: `${rendered.renderedBy} rendered no Kubernetes objects from '${template.dir}'` })
  return rendered
}

/** Inputs that do nothing for this kind of template are a mistake to say, not to ignore. */
function checkInputsFit(request: DeployRequest, template: KubernetesTemplate): void {
  const problems = new ProblemList()
  const { helmValues, helmSet } = request.kubernetes
  if (template.kind !== 'chart') {
    const what = template.kind === 'overlay' ? `a kustomization (${template.kustomization})` : 'plain manifests'
    if (helmValues.length) problems.add({ input: 'helm-values', message: `is only used when 'template' is a Helm chart folder (with Chart.yaml); '${request.template}' is ${what}` })
    if (Object.keys(helmSet).length) problems.add({ input: 'helm-set', message: `is only used when 'template' is a Helm chart folder (with Chart.yaml); '${request.template}' is ${what}` })
  }
  if (template.kind !== 'manifests' && Object.keys(request.vars).length) {
    const instead = template.kind === 'chart' ? "pass values with 'helm-set' or 'helm-values'" : 'use the kustomization\'s own patches or replacements'
    problems.add({ input: 'vars', message: `\${KEY} placeholders are for plain manifests; '${request.template}' is ${template.kind === 'chart' ? 'a Helm chart' : 'a kustomization'}: ${instead}` })
  }
  problems.throwIfAny()
}

