import fs from 'node:fs/promises'
import path from 'node:path'

// Apart from the renderers, so that choosing the platform (an ECS deploy too) loads no tool runner.

/** The names kustomize looks for in a folder, in its own order. */
export const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'] as const

/** What a Kubernetes `template` is: plain manifests, a Helm chart folder or a kustomization folder. */
export type KubernetesTemplate =
  | { kind: 'manifests' }
  | { kind: 'chart'; dir: string }
  | { kind: 'overlay'; dir: string; kustomization: string }

/**
 * A folder with a kustomization file is built with kustomize; one with Chart.yaml is rendered with
 * helm; anything else is manifests. The kustomization wins when a folder has both (it may itself
 * inflate the chart). `template` may also name the Chart.yaml or kustomization file itself.
 */
export async function kubernetesTemplate(template: string): Promise<KubernetesTemplate> {
  if (/[*?[{]/.test(template)) return { kind: 'manifests' }
  const stat = await fs.stat(template).catch(() => undefined)
  if (!stat) return { kind: 'manifests' }
  const base = path.basename(template)
  if (stat.isFile()) {
    const dir = path.dirname(template)
    if ((KUSTOMIZATION_FILES as readonly string[]).includes(base)) return { kind: 'overlay', dir, kustomization: template }
    if (base === 'Chart.yaml') return { kind: 'chart', dir }
    return { kind: 'manifests' }
  }
  if (!stat.isDirectory()) return { kind: 'manifests' }
  const names = new Set(await fs.readdir(template))
  const kustomization = KUSTOMIZATION_FILES.find(name => names.has(name))
  if (kustomization) return { kind: 'overlay', dir: template, kustomization: path.join(template, kustomization) }
  if (names.has('Chart.yaml')) return { kind: 'chart', dir: template }
  return { kind: 'manifests' }
}
