// Runs the pre-deploy Job to the end: applies it, watches it and its pod (never polls), streams the
// pod's log into the step log as it comes, and deletes the Job when the deadline passes or the run is
// cancelled. The verdict is the Job controller's (Complete / Failed), with the container's exit code.
import type { KubernetesObject } from '@kubernetes/client-node'
import { stringify } from 'yaml'
import { errorMessage } from '../../../errors.js'
import { objectName } from '../../../render/manifests.js'
import { sleep } from '../../../rollout/poll.js'
import type { BeforeOutcome, BeforeStep, WaitContext } from '../../../rollout/platform.js'
import type { Progress } from '../../../rollout/progress.js'
import { KubeApi } from '../api/client.js'
import { LogFollower } from '../logs/log-follower.js'
import { DEFAULT_DOOM_RULES, FailingSince, describeProblem, diagnosePods, readLogTail, type PodState } from '../workloads/pods.js'
import { PHASE_ANNOTATION, PRE_DEPLOY_PHASE, describeJob, finishedJobProof, jobVerdict, notOursToReplace, type JobStatus, type PreDeployJob } from './jobs.js'
import { ifOurs, isNotOurs, type Proof } from '../../../rollout/ownership.js'
import type { LivePrecondition } from '../workloads/ownership.js'
import { Changes, CollectionWatch } from '../api/watch.js'

const TAIL_LINES = 20
/** Deleting the Job after a timeout or a cancellation: a request of its own, never the run's signal. */
const CLEANUP_TIMEOUT_MS = 10_000

interface JobObject {
  metadata: { name: string; uid?: string; resourceVersion?: string }
  status?: JobStatus
}

type Pod = PodState & { metadata: PodState['metadata'] & { creationTimestamp?: string; resourceVersion?: string } }

/**
 * Applies the Job (replacing a finished one of the same name) and follows it to Complete or Failed
 * within the context's deadline. A pod that will never start (image not found, bad config) fails it
 * at once; a timeout or a cancellation deletes the Job (propagation Background) and says so.
 */
export async function runPreDeployJob(api: KubeApi, preDeploy: PreDeployJob, fieldManager: string, context: WaitContext): Promise<BeforeOutcome> {
  const { deadline, progress } = context
  const { job, container } = preDeploy
  const namespace = job.metadata.namespace ?? 'default'
  const name = job.metadata.name
  const outputs: Record<string, string> = { 'pre-deploy-task': name }
  const live = api.withSignal(deadline.signal)
  await replaceFinished(live, preDeploy, fieldManager, progress)
  const applied = await live.apply(job as KubernetesObject, { fieldManager, force: true, dryRun: false })
  const uid = applied.metadata?.uid
  progress.step(`created ${objectName(job)} in namespace ${namespace}; following it and its pod's log`)

  const stop = new AbortController()
  const signal = AbortSignal.any([stop.signal, deadline.signal])
  const watching = live.withSignal(signal)
  const changes = new Changes()
  const jobs = new CollectionWatch<JobObject>(watching, `/apis/batch/v1/namespaces/${namespace}/jobs`, { fieldSelector: `metadata.name=${name}` }, changes, signal)
  const pods = new CollectionWatch<Pod>(watching, `/api/v1/namespaces/${namespace}/pods`, { labelSelector: `job-name=${name}` }, changes, signal)
  void jobs.run()
  void pods.run()
  const log = new LogFollower(progress, name)
  const failing = new FailingSince()
  let followed: string | undefined
  let draining: Promise<void> | undefined
  let seen = false
  let status = 'waiting for the Job controller to create its pod'
  try {
    while (!deadline.signal.aborted) {
      const fatal = jobs.fatal ?? pods.fatal
      if (fatal) throw fatal
      if (jobs.trouble ?? pods.trouble) progress.event(`pre-deploy-trouble:${jobs.trouble ?? pods.trouble}`, `the API server is unreachable for now (${jobs.trouble ?? pods.trouble}); watching again as soon as it is back`)
      const current = [...jobs.objects.values()].find(j => !uid || j.metadata.uid === uid)
      const ours = [...pods.objects.values()].filter(p => !uid || p.metadata.labels?.['controller-uid'] === uid || p.metadata.labels?.['batch.kubernetes.io/controller-uid'] === uid)
      const pod = ours.sort((a, b) => String(b.metadata.creationTimestamp ?? '').localeCompare(String(a.metadata.creationTimestamp ?? '')))[0]
      const state = pod ? containerState(pod, container) : undefined
      if (pod && (state?.running || state?.terminated) && followed !== pod.metadata.name) {
        // A retry's pod (backoffLimit above 0 in a Job of the set): the earlier pod's stream is ended first.
        if (followed) await (draining ?? log.stop(0))
        draining = undefined
        followed = pod.metadata.name
        log.start(watching, namespace, pod.metadata.name, container)
      }
      if (pod) status = `pod ${pod.metadata.name}: ${pod.status?.phase ?? 'Pending'}${state?.waiting?.reason ? ` (${state.waiting.reason})` : ''}`
      progress.status(`pre-deploy ${objectName(job)}: ${status}`)

      seen ||= current !== undefined
      const exit = state?.terminated?.exitCode
      // Recorded first: the verdict on a vanished Job reads it (the exit code seen in this very pass counts).
      if (exit !== undefined) outputs['pre-deploy-exit-code'] = String(exit)
      // Gone before its verdict reached us (someone deleted it, or a ttlSecondsAfterFinished of 0): the
      // pod's last known exit code says how it ended (the pod may be gone too by now).
      const vanished = jobs.synced && seen && !current
      const verdict = vanished ? { state: outputs['pre-deploy-exit-code'] === '0' ? 'succeeded' : 'failed', reason: `the Job was deleted before it finished (by someone else, or its ttlSecondsAfterFinished)` } as const : jobs.synced && current ? jobVerdict(current.status) : undefined
      // A mesh sidecar (istio-proxy, linkerd-proxy, a native sidecar) outlives the command: the pod,
      // and so the Job, would never end. The command's container ended: its exit code is the verdict.
      const sidecars = pod && exit !== undefined && !verdict ? stillRunning(pod, container) : []
      const byContainer = sidecars.length ? ({ state: exit === 0 ? 'succeeded' : 'failed', reason: `container ${container} exited while ${sidecars.join(', ')} kept the pod running` } as const) : undefined
      // The container ended: its log stream is drained while the Job controller makes up its mind.
      if (state?.terminated && log.started) draining ??= log.stop()
      const decided = verdict ?? byContainer
      if (decided) {
        await (draining ?? log.stop())
        // Ours (the uid of our apply): deleting it stops the sidecars that would keep it running for ever.
        const deleted = byContainer ? `; ${await deleteJob(api, preDeploy, uid, progress)}` : ''
        if (decided.state === 'succeeded') {
          // The stream could not be followed (or gave nothing): the log is shown all the same.
          if (log.lines === 0 && pod) await printLog(live, namespace, pod.metadata.name, container, log)
          progress.step(`${objectName(job)} completed${exit !== undefined ? ` (exit code ${exit}${byContainer ? ` of container ${container}; ${byContainer.reason}${deleted}` : ''})` : ''}`)
          return { state: 'succeeded', outputs }
        }
        const tail = await logTail(live, namespace, pod, container, log)
        const code = exit !== undefined ? `exit code ${exit}` : 'no exit code'
        return { state: 'failed', reason: `${objectName(job)} failed (${code}; ${decided.reason}${deleted})${tail}`, outputs }
      }
      // A pod that will never start (image not found, a missing Secret) never ends the Job by itself.
      const doomed = pod ? diagnosePods([pod], failing, Date.now(), DEFAULT_DOOM_RULES).find(p => p.doomed && p.container === container) : undefined
      if (doomed) {
        await log.stop(0)
        await deleteJob(api, preDeploy, uid, progress)
        return { state: 'failed', reason: `${objectName(job)} could not run: ${describeProblem(doomed)} (this will not heal by itself); the Job was deleted`, outputs }
      }
      await changes.next(1000, deadline.signal)
    }
  } catch (error) {
    if (deadline.signal.aborted) throw error
    // Not knowing how it goes is no reason to let it go on unobserved.
    await log.stop(0)
    const deleted = await deleteJob(api, preDeploy, uid, progress)
    return { state: 'failed', reason: `could not follow ${objectName(job)}: ${errorMessage(error)}; ${deleted}`, outputs }
  } finally {
    stop.abort()
    // Whatever ended the wait, the log stream ends with it (a no-op when it was stopped already).
    if (deadline.signal.aborted) await log.stop(0)
  }
  // The deadline passed or the run was cancelled: the Job must not go on changing things unobserved.
  const deleted = await deleteJob(api, preDeploy, uid, progress)
  // A Job of the set has no pre-deploy-timeout of its own (that input goes with pre-deploy-command).
  const limit = preDeploy.origin === 'command' ? 'pre-deploy-timeout' : 'timeout'
  const cause = deadline.stoppedBy === 'cancelled' ? 'the run was cancelled' : `it did not finish within ${limit}`
  const tail = log.tail.length ? `; its last log lines:\n${log.tail.join('\n')}` : ''
  return { state: deadline.stoppedBy === 'cancelled' ? 'cancelled' : 'timed-out', reason: `${objectName(job)}: ${cause} (${status}); ${deleted}${tail}`, outputs }
}

/** The pod's other containers still running: regular ones (an injected istio-proxy) and native sidecars. */
export function stillRunning(pod: PodState, container: string): string[] {
  const regular = (pod.status?.containerStatuses ?? []).filter(c => c.name !== container && !c.state?.terminated)
  // An init container that runs beside the others is a native sidecar (restartPolicy: Always).
  const native = (pod.status?.initContainerStatuses ?? []).filter(c => c.state?.running)
  return [...regular, ...native].map(c => c.name)
}

function containerState(pod: Pod, container: string) {
  return pod.status?.containerStatuses?.find(c => c.name === container)?.state
}

/** The whole log of a pod that ended, printed line by line as the stream would have. */
async function printLog(api: KubeApi, namespace: string, pod: string, container: string, log: LogFollower): Promise<void> {
  try {
    log.add(await api.podLog(namespace, pod, container, false, 1000))
    log.flush()
  } catch (error) {
    log.progressEvent(`could not read the log of pod ${pod}: ${errorMessage(error)}`)
  }
}

/** The log's last lines for the verdict: from the stream, else read once the pod ended. */
async function logTail(api: KubeApi, namespace: string, pod: Pod | undefined, container: string, log: LogFollower): Promise<string> {
  let lines = log.tail
  if (lines.length === 0 && pod) {
    const read = await readLogTail(api, { namespace, pod: pod.metadata.name, container, previous: false, lines: TAIL_LINES })
    if ('error' in read) return `; its log could not be read: ${read.error}`
    lines = read.lines
  }
  return lines.length ? `; the last ${lines.length === 1 ? 'line' : `${lines.length} lines`} of its log:\n${lines.join('\n')}` : '; it logged nothing'
}

/**
 * Deletes the Job and its pods (propagation Background), with a connection of its own: the run's
 * signal may be the reason we are here. Only the Job this run created (the uid in the answer to our
 * apply), proved by a fresh read: one made anew under the same name is another deploy's. Says what
 * happened, for the reason.
 */
async function deleteJob(api: KubeApi, preDeploy: PreDeployJob, uid: string | undefined, progress: Progress): Promise<string> {
  const cleanup = new KubeApi(api.config, AbortSignal.timeout(CLEANUP_TIMEOUT_MS))
  const name = objectName(preDeploy.job)
  try {
    const deleted = await ifOurs(
      `delete ${name}`,
      async (): Promise<Proof<LivePrecondition>> => {
        const live = await cleanup.read<KubernetesObject>(preDeploy.job as KubernetesObject)
        if (!live) return { ours: false, found: `${name} is gone already` }
        if (!uid || live.metadata?.uid !== uid) return { ours: false, found: `${name} is another Job of that name (uid ${live.metadata?.uid}), made after ours`, owner: 'another deploy' }
        return { ours: true, precondition: { uid, resourceVersion: live.metadata?.resourceVersion ?? '' }, evidence: `${name} is the Job this run created (uid ${uid})` }
      },
      owned => cleanup.delete(owned, preDeploy.job as KubernetesObject)
    )
    if (!deleted) return 'the Job was already gone'
    progress.step(`deleted ${name} and its pod (propagation Background)`)
    return 'the Job was deleted'
  } catch (error) {
    if (isNotOurs(error)) return error.found.endsWith('is gone already') ? 'the Job was already gone' : `the Job was left alone: ${error.found}`
    const message = `could not delete ${name}: ${errorMessage(error)}; delete it yourself (kubectl delete job ${preDeploy.job.metadata.name} -n ${preDeploy.job.metadata.namespace})`
    progress.reason(message)
    return message
  }
}

/**
 * An annotated Job of an earlier deploy has the same name: a Job's template cannot change, so it is
 * replaced, but only when a fresh read proves it ours (finishedJobProof) and only that very Job (its
 * uid): another team's Job of the same name is left alone and the deploy stops, nothing changed.
 */
async function replaceFinished(api: KubeApi, preDeploy: PreDeployJob, fieldManager: string, progress: Progress): Promise<void> {
  if (preDeploy.origin !== 'manifest') return
  const name = objectName(preDeploy.job)
  const read = () => api.read<KubernetesObject & { status?: JobStatus }>(preDeploy.job as KubernetesObject)
  const live = await read()
  if (!live) return
  if (!jobVerdict(live.status)) throw new Error(`${name} is still running (another deploy's?): wait for it to finish, or delete it`)
  try {
    await ifOurs(
      `delete the finished ${name} to run it again`,
      async () => {
        // The read made for this call: the one above only told whether there is anything to replace.
        const now = await read()
        if (!now) return { ours: false, found: `${name} is gone already` }
        if (!jobVerdict(now.status)) return { ours: false, found: `${name} was made anew and is running (another deploy's?)` }
        return finishedJobProof(now, preDeploy, fieldManager)
      },
      owned => api.delete(owned, preDeploy.job as KubernetesObject)
    )
  } catch (error) {
    if (isNotOurs(error) && error.found.endsWith('is gone already')) return
    if (isNotOurs(error)) throw new Error(notOursToReplace(preDeploy.job, { ours: false, found: error.found, owner: error.owner }), { cause: error })
    throw error
  }
  let remaining = await read()
  for (let i = 0; i < 100 && remaining; i++) {
    await sleep(100, api.signal)
    remaining = await read()
  }
  // Still there (a finalizer holds it, or its deletion is slow): applying now would patch the dying Job.
  if (remaining) throw new Error(`${name} of an earlier deploy is still being deleted after 10s (a finalizer?): wait for it to go, or remove it yourself (kubectl delete job ${preDeploy.job.metadata.name} -n ${preDeploy.job.metadata.namespace})`)
  progress.step(`deleted the finished ${name} of an earlier deploy, to run it again`)
}

/**
 * The plan's `before` step for these Jobs (one after the other; the first that does not succeed ends
 * it), or undefined when there are none.
 */
export function preDeployStep(api: KubeApi, jobs: PreDeployJob[], fieldManager: string): BeforeStep | undefined {
  if (jobs.length === 0) return undefined
  return {
    description: jobs.map(describeJob).join('; then '),
    run: async context => {
      const outputs: Record<string, string> = {}
      const names: string[] = []
      for (const job of jobs) {
        const outcome = await runPreDeployJob(api, job, fieldManager, context)
        names.push(job.job.metadata.name)
        Object.assign(outputs, outcome.outputs, { 'pre-deploy-task': names.join(',') })
        if (outcome.state !== 'succeeded') return { ...outcome, outputs }
      }
      return { state: 'succeeded', outputs }
    }
  }
}

/** The Jobs as YAML documents, for the rendered file and the dry run. */
export function jobsText(jobs: PreDeployJob[]): string {
  return jobs.map(({ job }) => `# before the rollout (${PHASE_ANNOTATION}: ${PRE_DEPLOY_PHASE}): run to completion first\n${stringify(job, { lineWidth: 0 })}`).join('---\n')
}
