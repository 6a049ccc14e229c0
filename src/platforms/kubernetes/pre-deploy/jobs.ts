// The pre-deploy Job: what it is made of (the target workload's rendered pod template, or a Job of the
// set annotated as pre-deploy) and how it is checked before anything changes. Running and following
// it is in run.ts.
import { randomBytes } from 'node:crypto'
import type { KubernetesObject } from '@kubernetes/client-node'
import { ProblemList, UserError, formatLocation } from '../../../errors.js'
import { objectName, type KubeObject, type Manifest } from '../../../render/manifests.js'
import type { DeployRequest } from '../../../request.js'
import type { KubeApi } from '../api/client.js'
import { explainApiError } from '../api/errors.js'
import type { Proof } from '../../../rollout/ownership.js'
import type { LivePrecondition } from '../workloads/ownership.js'

/** The annotation that marks a Job of the set as the pre-deploy step: applied first, alone, and followed. */
export const PHASE_ANNOTATION = 'deploy-service/phase'
export const PRE_DEPLOY_PHASE = 'pre-deploy'
/** The label that names the service a pre-deploy Job belongs to (on every Job this action runs). */
export const SERVICE_LABEL = 'deploy-service/service'
/** Finished Jobs (and their pods, with the log) are kept this long for a look, then removed by the cluster. */
const TTL_SECONDS = 86_400
const LABEL_VALUE = /[^A-Za-z0-9._-]/g

export interface PreDeployJob {
  /** The Job as it is applied. */
  job: KubeObject
  /** The container whose exit code is the verdict and whose log is streamed. */
  container: string
  /** Made from `pre-deploy-command`, or taken from the set. */
  origin: 'command' | 'manifest'
}

/** Is this object of the set a pre-deploy Job (`deploy-service/phase: pre-deploy`)? */
export function isPreDeployJob(object: KubeObject): boolean {
  return object.kind === 'Job' && object.metadata.annotations?.[PHASE_ANNOTATION] === PRE_DEPLOY_PHASE
}

interface Container {
  name: string
  image?: string
  command?: string[]
  args?: string[]
  [field: string]: unknown
}

interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }
  spec?: { containers?: Container[]; initContainers?: Container[]; restartPolicy?: string; [field: string]: unknown }
}

/**
 * A Job from the target workload's pod template as this deploy renders it (so: the new image), running
 * `pre-deploy-command` in one container: `pre-deploy-container`, else the first container that gets
 * the new image. The other regular containers are left out (a sidecar that never exits would keep the
 * Job running for ever), and so are the probes and ports of the one that runs (a migration serves
 * nothing). The workload's pod labels are left out too: a Service or PodDisruptionBudget that selects
 * them must never count the migration as one of the app's pods.
 */
export function jobFromWorkload(workload: KubeObject, request: DeployRequest, targetContainers: string[], namespace: string): PreDeployJob {
  const preDeploy = request.preDeploy!
  const template = structuredClone((workload.spec as { template?: PodTemplate } | undefined)?.template ?? {})
  const containers = template.spec?.containers ?? []
  const wanted = preDeploy.container ?? targetContainers[0] ?? containers[0]?.name
  const chosen = containers.find(c => c.name === wanted)
  if (!chosen) {
    const input = preDeploy.container ? 'pre-deploy-container' : 'container'
    throw new UserError({ input, message: `${objectName(workload)} has no container '${wanted}' to run the pre-deploy command in; its containers are ${containers.map(c => `'${c.name}'`).join(', ') || 'none'}` })
  }
  const { livenessProbe, readinessProbe, startupProbe, ports, lifecycle, restartPolicy, ...kept } = chosen
  void [livenessProbe, readinessProbe, startupProbe, ports, lifecycle, restartPolicy]
  const container: Container = { ...kept, command: preDeploy.command }
  delete container.args
  // A StatefulSet mounts volumes of its volumeClaimTemplates, which a Job's pod has no way to get.
  const volumes = new Set(((template.spec?.volumes as Array<{ name: string }> | undefined) ?? []).map(v => v.name))
  const mounts = container.volumeMounts as Array<{ name: string }> | undefined
  if (mounts) container.volumeMounts = mounts.filter(m => volumes.has(m.name))
  const runId = request.github.runId || 'local'
  const name = jobName(request.service, runId)
  const labels = {
    'app.kubernetes.io/managed-by': 'deploy-service',
    [SERVICE_LABEL]: labelValue(request.service),
    'deploy-service/run-id': labelValue(runId),
    [PHASE_ANNOTATION]: PRE_DEPLOY_PHASE
  }
  const annotations: Record<string, string> = { [PHASE_ANNOTATION]: PRE_DEPLOY_PHASE, 'deploy-service/workload': objectName(workload) }
  if (request.github.runUrl) annotations['deploy-service/run-url'] = request.github.runUrl
  const job: KubeObject = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace, labels, annotations },
    spec: {
      backoffLimit: 0,
      ttlSecondsAfterFinished: TTL_SECONDS,
      // A safety net when the runner dies without deleting it: the Job stops itself a little after our deadline.
      activeDeadlineSeconds: Math.ceil(preDeploy.timeoutMs / 1000) + 60,
      template: {
        metadata: { labels, annotations: template.metadata?.annotations },
        spec: { ...template.spec, containers: [container], restartPolicy: 'Never' }
      }
    }
  }
  return { job, container: chosen.name, origin: 'command' }
}

/** `<service>-pre-deploy-<run id>-<4 hex>`, within the 63 characters a Job's name may have. */
export function jobName(service: string, runId: string): string {
  const suffix = `-pre-deploy-${runId.replace(/[^a-z0-9]/gi, '').toLowerCase().slice(-10) || 'local'}-${randomBytes(2).toString('hex')}`
  return `${service.slice(0, 63 - suffix.length).replace(/[-.]+$/, '')}${suffix}`
}

function labelValue(text: string): string {
  return text.replace(LABEL_VALUE, '-').slice(0, 63).replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '')
}

/**
 * The Jobs of the set annotated as pre-deploy, each with the container whose exit code decides (its
 * only container, or the one named by `pre-deploy-container`). They cannot be combined with
 * `pre-deploy-command`: one pre-deploy step per deploy.
 */
export function jobsFromManifests(manifests: Manifest[], request: DeployRequest): PreDeployJob[] {
  const problems = new ProblemList()
  const jobs: PreDeployJob[] = []
  for (const { object, source } of manifests.filter(m => isPreDeployJob(m.object))) {
    const where = formatLocation(source.locate([]))
    if (request.preDeploy) {
      problems.add({ input: 'pre-deploy-command', message: `the template has a pre-deploy Job (${objectName(object)}, ${where}); run the command there, or remove its ${PHASE_ANNOTATION} annotation` })
      continue
    }
    const containers = ((object.spec as { template?: PodTemplate } | undefined)?.template?.spec?.containers ?? []).map(c => c.name)
    const container = containers.length === 1 ? containers[0] : undefined
    if (!container) {
      problems.add({ input: 'template', location: source.locate(['spec', 'template', 'spec', 'containers']), message: `the pre-deploy ${objectName(object)} must have exactly one container (it has ${containers.length}): its exit code is the verdict` })
      continue
    }
    // Our service label: with our phase annotation and our field manager, what proves a finished Job of
    // this name ours to delete before it runs again (another team's Job of the same name is not).
    object.metadata.labels = { ...object.metadata.labels, [SERVICE_LABEL]: labelValue(request.service) }
    jobs.push({ job: object, container, origin: 'manifest' })
  }
  problems.throwIfAny()
  return jobs
}

/**
 * A server-side dry run of each Job, with everything the server checks (schema, admission, quota,
 * names). A finished Job of ours of the same name (an annotated Job of an earlier deploy) is replaced
 * when it runs, so it is checked as a new object beside it; one still running is refused, and so is
 * one that is not provably ours (another team's `Job/migrate`): nothing is changed.
 */
export async function validateJobs(api: KubeApi, jobs: PreDeployJob[], fieldManager: string): Promise<void> {
  const problems = new ProblemList()
  for (const preDeploy of jobs) {
    const { job } = preDeploy
    try {
      const live = await api.read<KubeObject & { status?: JobStatus }>(job as KubernetesObject)
      if (live && !finished(live.status)) {
        problems.add({ input: 'template', message: `${objectName(job)} in namespace ${job.metadata.namespace} is still running (another deploy's?): wait for it to finish, or delete it` })
        continue
      }
      const proof = live ? finishedJobProof(live, preDeploy, fieldManager) : undefined
      if (proof && !proof.ours) {
        problems.add({ input: 'template', message: notOursToReplace(job, proof) })
        continue
      }
      const probe = live ? { ...job, metadata: { ...job.metadata, name: `${job.metadata.name.slice(0, 54)}-dry-run` } } : job
      await api.apply(probe as KubernetesObject, { fieldManager, force: false, dryRun: true })
    } catch (error) {
      const explained = explainApiError(error, `apply ${objectName(job)} (server dry run)`)
      if (!(explained instanceof UserError)) throw explained
      problems.add(explained.problems[0])
    }
  }
  problems.throwIfAny()
}

interface LiveJob {
  metadata?: { uid?: string; resourceVersion?: string; labels?: Record<string, string>; annotations?: Record<string, string>; managedFields?: Array<{ manager?: string; operation?: string; subresource?: string }> }
}

/**
 * Is a live Job of the same name one that an earlier deploy of this service ran, so ours to delete
 * before running it again? It must carry our phase annotation and this service's label, and have been
 * applied by our field manager: a label alone is never proof (anyone can copy it).
 */
export function finishedJobProof(live: LiveJob, ours: PreDeployJob, fieldManager: string): Proof<LivePrecondition> {
  const metadata = live.metadata ?? {}
  const service = ours.job.metadata.labels?.[SERVICE_LABEL]
  const appliers = (metadata.managedFields ?? []).filter(f => !f.subresource && f.operation === 'Apply').map(f => f.manager ?? '?')
  const writers = [...new Set((metadata.managedFields ?? []).filter(f => !f.subresource).map(f => f.manager ?? '?'))]
  const owner = writers.length ? `written by field manager${writers.length > 1 ? 's' : ''} ${writers.map(w => `"${w}"`).join(', ')}` : undefined
  const missing = [
    metadata.annotations?.[PHASE_ANNOTATION] !== PRE_DEPLOY_PHASE ? `no ${PHASE_ANNOTATION}: ${PRE_DEPLOY_PHASE} annotation` : '',
    !service || metadata.labels?.[SERVICE_LABEL] !== service ? `no ${SERVICE_LABEL}=${service ?? '?'} label${metadata.labels?.[SERVICE_LABEL] ? ` (it has ${SERVICE_LABEL}=${metadata.labels[SERVICE_LABEL]})` : ''}` : '',
    !appliers.includes(fieldManager) ? `not applied by our field manager "${fieldManager}"` : ''
  ].filter(Boolean)
  if (missing.length) return { ours: false, found: `${objectName(ours.job)} in namespace ${ours.job.metadata.namespace} already exists with ${missing.join(', ')}`, owner }
  return { ours: true, precondition: { uid: metadata.uid ?? '', resourceVersion: metadata.resourceVersion ?? '' }, evidence: `${objectName(ours.job)} was applied by field manager "${fieldManager}" as the pre-deploy Job of ${service}` }
}

/** Why a Job of the same name is left alone, and what the user can do. */
export function notOursToReplace(job: KubeObject, proof: Extract<Proof<unknown>, { ours: false }>): string {
  return `${proof.found}${proof.owner ? ` (${proof.owner})` : ''}, so it is not ours to delete and run again: rename the pre-deploy Job in the template (metadata.name), or, if it is a leftover of this service, delete it yourself (kubectl delete job ${job.metadata.name} -n ${job.metadata.namespace})`
}

export interface JobStatus {
  conditions?: Array<{ type?: string; status?: string; reason?: string; message?: string }>
  active?: number
  failed?: number
  succeeded?: number
}

/** Complete or Failed, by the Job's conditions (the job controller's final word). */
export function jobVerdict(status: JobStatus | undefined): { state: 'succeeded' | 'failed'; reason?: string } | undefined {
  const condition = (type: string) => status?.conditions?.find(c => c.type === type && c.status === 'True')
  if (condition('Complete')) return { state: 'succeeded' }
  const failed = condition('Failed')
  if (failed) return { state: 'failed', reason: [failed.reason, failed.message].filter(Boolean).join(': ') || 'the Job failed' }
  return undefined
}

function finished(status: JobStatus | undefined): boolean {
  return jobVerdict(status) !== undefined
}

/** The command line for the log: what runs, in which container, from which image. */
export function describeJob(preDeploy: PreDeployJob): string {
  const spec = (preDeploy.job.spec as { template?: PodTemplate }).template?.spec
  const container = spec?.containers?.find(c => c.name === preDeploy.container)
  const command = container?.command?.length ? ` ${JSON.stringify(container.command)}` : ''
  const origin = preDeploy.origin === 'manifest' ? ' (a pre-deploy Job of the set)' : ''
  return `Kubernetes ${objectName(preDeploy.job)}${origin}: container ${preDeploy.container}${command}, image ${container?.image ?? '?'}`
}
