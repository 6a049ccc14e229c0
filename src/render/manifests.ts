import fs from 'node:fs/promises'
import path from 'node:path'
import { stringify } from 'yaml'
import { ProblemList, UserError, formatLocation, type SourceLocation } from '../errors.js'
import { chooseContainers, nextImage, type ContainerRef, type ImageChange } from './containers.js'
import { formatImageReference, parseImageReference, versionOf } from './image.js'
import { substitute, templateValues } from './placeholders.js'
import { parseDocuments, type SourceDocument } from './source.js'
import { MANIFEST_FILE_LIMIT, MANIFESTS_TOTAL_LIMIT, readTemplateFile, templateFileSize, tooLarge } from './template-file.js'
import type { DeployRequest } from '../request.js'

/** The kinds `service` may name: they own a pod template and roll out. */
export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet'] as const
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number]

export const CHANGE_CAUSE = 'kubernetes.io/change-cause'

/** A Kubernetes object as written in a manifest. */
export interface KubeObject {
  apiVersion: string
  kind: string
  metadata: { name: string; namespace?: string; annotations?: Record<string, string>; labels?: Record<string, string>; [key: string]: unknown }
  [key: string]: unknown
}

/** One object of the manifest set and the document it came from, for file:line in errors. */
export interface Manifest {
  object: KubeObject
  source: SourceDocument
}

export interface RenderedManifests {
  manifests: Manifest[]
  /** The workload named by `service`, which gets the new image. */
  target: Manifest
  images: ImageChange[]
}

type RenderRequest = Pick<DeployRequest, 'service' | 'containers' | 'image' | 'imageVersion' | 'github'>

export function isWorkload(object: { kind?: string }): boolean {
  return (WORKLOAD_KINDS as readonly string[]).includes(object.kind ?? '')
}

/** An Argo Rollouts Rollout: a workload whose rollout its own controller runs and judges (readiness/argo-rollout.ts). */
export function isArgoRollout(object: { apiVersion?: string; kind?: string }): boolean {
  return object.kind === 'Rollout' && (object.apiVersion ?? '').startsWith('argoproj.io/')
}

export function objectName(object: { kind: string; metadata: { name: string } }): string {
  return `${object.kind.toLowerCase()}/${object.metadata.name}`
}

/** The manifest files a `template` names: a file, the YAML/JSON files of a folder, or a glob. */
export async function manifestFiles(template: string): Promise<string[]> {
  if (/[*?[{]/.test(template)) {
    const files: string[] = []
    for await (const file of fs.glob(template)) if (/\.(ya?ml|json)$/i.test(file)) files.push(file)
    if (files.length === 0) throw new UserError({ input: 'template', message: `the glob '${template}' matches no .yaml, .yml or .json file` })
    return files.sort()
  }
  const stat = await fs.stat(template).catch(() => undefined)
  if (!stat?.isDirectory()) return [template]
  const files = (await fs.readdir(template)).filter(name => /\.(ya?ml|json)$/i.test(name)).sort()
  if (files.length === 0) throw new UserError({ input: 'template', message: `the folder '${template}' holds no .yaml, .yml or .json file` })
  return files.map(name => path.join(template, name))
}

/** Reads, fills in and parses every manifest of the template; all problems of all files at once. */
export async function loadManifestDocuments(request: DeployRequest, namespace: string): Promise<SourceDocument[]> {
  const values = templateValues(request, { ...imageValues(request), namespace })
  const problems = new ProblemList()
  const documents: SourceDocument[] = []
  const files = await manifestFiles(request.template!)
  await checkManifestSizes(request.template!, files)
  for (const file of files) {
    const text = await readTemplateFile(file)
    documents.push(...(problems.collect(() => parseDocuments(substitute(text, file, values), file)) ?? []))
  }
  problems.throwIfAny()
  if (documents.length === 0) throw new UserError({ input: 'template', message: `'${request.template}' holds no Kubernetes objects` })
  return documents
}

/** Every file, and all of them together, within what a cluster accepts: checked by size before any is read. */
async function checkManifestSizes(template: string, files: string[]): Promise<void> {
  const problems = new ProblemList()
  let total = 0
  for (const file of files) {
    const size = await templateFileSize(file)
    total += size
    if (size > MANIFEST_FILE_LIMIT.bytes) problems.add(tooLarge(file, size, MANIFEST_FILE_LIMIT).problems[0])
  }
  problems.throwIfAny()
  if (total > MANIFESTS_TOTAL_LIMIT.bytes) throw tooLarge(template, total, MANIFESTS_TOTAL_LIMIT, `'${template}' (${files.length} files)`)
}

function imageValues(request: DeployRequest): { image?: string; imageTag?: string } {
  const parsed = request.image ? parseImageReference(request.image) : undefined
  const image = parsed && typeof parsed !== 'string' ? formatImageReference(parsed) : undefined
  if (request.imageVersion) return { image, imageTag: 'tag' in request.imageVersion ? request.imageVersion.tag : request.imageVersion.digest }
  return { image, imageTag: request.image ? versionOf(request.image) : undefined }
}

/**
 * Checks the documents are Kubernetes objects in the right namespace, finds the workload named by
 * `service`, puts the new image on the chosen containers and records the change cause. Pure.
 */
export function renderManifests(documents: SourceDocument[], request: RenderRequest, namespace: string): RenderedManifests {
  const problems = new ProblemList()
  const manifests: Manifest[] = []
  for (const source of documents) {
    const object = problems.collect(() => asKubeObject(source, namespace))
    if (object) manifests.push({ object, source })
  }
  problems.throwIfAny()
  const candidates = manifests.filter(m => (isWorkload(m.object) || isArgoRollout(m.object)) && m.object.metadata.name === request.service)
  // A Rollout and the Deployment its workloadRef names often share the name (Argo's own examples): one workload.
  const named = candidates.filter(m => !candidates.some(other => other !== m && referencedBy(other, m)))
  if (named.length !== 1) throw targetProblem(manifests, named, request.service)
  const target = workloadOf(named[0], manifests)
  const images = setImages(target, request)
  annotateChangeCause(target.object, request, images)
  return { manifests, target, images }
}

/** Whether `rollout` is an Argo Rollout whose workloadRef names `workload`. */
function referencedBy(rollout: Manifest, workload: Manifest): boolean {
  const ref = (rollout.object.spec as { workloadRef?: { kind?: string; name?: string } } | undefined)?.workloadRef
  return isArgoRollout(rollout.object) && ref?.kind === workload.object.kind && ref.name === workload.object.metadata.name
}

/**
 * A Rollout with a `workloadRef` has no pod template of its own: Argo Rollouts reads the referenced
 * Deployment's (argo-rollouts rollout/templateref.go), so that Deployment is the workload the image
 * goes into, the previous image is read from and the rollout history belongs to. It must be in the set:
 * a Deployment outside it would be changed behind the template's back.
 */
function workloadOf(named: Manifest, manifests: Manifest[]): Manifest {
  const spec = named.object.spec as { workloadRef?: { apiVersion?: string; kind?: string; name?: string }; template?: unknown } | undefined
  const ref = spec?.workloadRef
  if (!isArgoRollout(named.object) || !ref) return named
  const at = (field: string[]) => named.source.locate(['spec', 'workloadRef', ...field])
  if (ref.kind !== 'Deployment' || (ref.apiVersion ?? 'apps/v1') !== 'apps/v1') {
    throw new UserError({ input: 'template', location: at(['kind']), message: `Rollout/${named.object.metadata.name} refers to ${ref.apiVersion ?? '?'} ${ref.kind ?? '?'}: deploy-service follows a workloadRef to an apps/v1 Deployment only; refer to one, or give the Rollout its own template` })
  }
  const referenced = manifests.find(m => m.object.apiVersion === 'apps/v1' && m.object.kind === 'Deployment' && m.object.metadata.name === ref.name)
  if (!referenced) {
    throw new UserError({ input: 'template', location: at(['name']), message: `Rollout/${named.object.metadata.name}'s workloadRef names Deployment/${ref.name ?? '?'}, which the template does not contain: add that Deployment to the template (its pod template is what the new image goes into)` })
  }
  return referenced
}

function asKubeObject(source: SourceDocument, namespace: string): KubeObject {
  const value = source.value as Partial<KubeObject> | null
  const at = (field: string[]): SourceLocation => source.locate(field)
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new UserError({ input: 'template', location: at([]), message: 'a manifest document must be a mapping with apiVersion, kind and metadata' })
  }
  const problems = new ProblemList()
  if (typeof value.apiVersion !== 'string' || !value.apiVersion) problems.add({ input: 'template', location: at([]), message: 'apiVersion is missing' })
  if (typeof value.kind !== 'string' || !value.kind) problems.add({ input: 'template', location: at([]), message: 'kind is missing' })
  if (typeof value.metadata?.name !== 'string' || !value.metadata.name) {
    problems.add({ input: 'template', location: at(['metadata']), message: `${value.kind ?? 'the object'} has no metadata.name` })
  }
  const own = value.metadata?.namespace
  if (own !== undefined && own !== namespace) {
    problems.add({
      input: 'template',
      location: at(['metadata', 'namespace']),
      message: `${value.kind}/${value.metadata?.name} is in namespace '${own}' but this deploy goes to '${namespace}': remove metadata.namespace or set the 'namespace' input to '${own}'`
    })
  }
  problems.throwIfAny()
  return value as KubeObject
}

function targetProblem(manifests: Manifest[], named: Manifest[], service: string): UserError {
  const where = (m: Manifest): string => `${objectName(m.object)} (${formatLocation(m.source.locate([]))})`
  if (named.length > 1) {
    return new UserError({ input: 'service', message: `'${service}' names several workloads: ${named.map(where).join(', ')}; keep one` })
  }
  const workloads = manifests.filter(m => isWorkload(m.object))
  const found = workloads.length ? `it has ${workloads.map(where).join(', ')}` : `it has no workload at all, only ${manifests.map(where).join(', ')}`
  return new UserError({ input: 'service', message: `the template has no Deployment, StatefulSet, DaemonSet or Argo Rollout named '${service}'; ${found}` })
}

interface PodSpec {
  containers?: Array<{ name: string; image?: string }>
  initContainers?: Array<{ name: string; image?: string }>
}

/** Sets the new image on the chosen containers (init containers only when named); returns the changes. */
export function setImages(target: Manifest, request: Pick<DeployRequest, 'service' | 'containers' | 'image' | 'imageVersion'>): ImageChange[] {
  const { object, source } = target
  const podSpec = (object.spec as { template?: { spec?: PodSpec } } | undefined)?.template?.spec
  if (!podSpec?.containers?.length) {
    throw new UserError({ input: 'template', location: source.locate(['spec', 'template', 'spec']), message: `${objectName(object)} has no spec.template.spec.containers` })
  }
  const refs = (list: PodSpec['containers'], field: string): Array<ContainerRef & { field: string; index: number }> =>
    (list ?? []).map((c, index) => ({ name: c.name, image: c.image ?? '', field, index, location: source.locate(['spec', 'template', 'spec', field, index]) }))
  const candidates = [...refs(podSpec.containers, 'containers'), ...(request.containers.length ? refs(podSpec.initContainers, 'initContainers') : [])]
  const chosen = chooseContainers(candidates, request, objectName(object)) as typeof candidates
  return chosen.map(ref => {
    const container = (podSpec as Record<string, Array<{ image?: string }>>)[ref.field][ref.index]
    const next = nextImage(ref.image, request)
    container.image = next
    return { container: ref.name, previous: ref.image, next }
  })
}

/** Records what is deployed and why where `kubectl rollout history` and a rollback can read it. */
export function annotateChangeCause(object: KubeObject, request: Pick<DeployRequest, 'github'>, images: ImageChange[]): void {
  const { sha, runUrl } = request.github
  const what = [...new Set(images.map(i => i.next))].join(', ')
  const cause = `deploy-service: ${what}${sha ? ` from commit ${sha.slice(0, 12)}` : ''}${runUrl ? ` (${runUrl})` : ''}`
  object.metadata.annotations = { ...object.metadata.annotations, [CHANGE_CAUSE]: cause }
}

/** The manifest set as a user reads it: multi-document YAML. */
export function manifestsText(objects: KubeObject[]): string {
  return objects.map(object => stringify(object, { lineWidth: 0 })).join('---\n')
}
