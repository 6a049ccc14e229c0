// The AnalysisRuns (argoproj.io/v1alpha1) an Argo Rollout of ours starts at its analysis steps (and in
// the background): read by the name the Rollout's status gives (status.canary.currentStepAnalysisRunStatus,
// currentBackgroundAnalysisRunStatus), to say while waiting how each metric is measuring and, when the
// analysis failed, which metric failed, on what condition and with which values. A kubeconfig that may not
// read AnalysisRuns costs only these details: said once, and the wait goes on by the Rollout's own status.

import { UserError } from '../../../errors.js'
import type { Progress } from '../../../rollout/progress.js'
import type { KubeApi } from '../api/client.js'
import type { LiveObject, Readiness } from '../readiness/types.js'
import { canarySteps, currentStep, podCounts, rolloutFields, stepText } from './argo-rollout.js'

const ANALYSIS_API = 'argoproj.io/v1alpha1'
/** How many of a failed metric's last measurements the failure names. */
const LAST_MEASUREMENTS = 3

/** A run the Rollout's status names (RolloutAnalysisRunStatus, or currentExperiment's status). */
export interface RunStatus {
  name: string
  status?: string
  message?: string
}

interface Measurement {
  phase?: string
  value?: string
  message?: string
}

interface MetricResult {
  name: string
  phase?: string
  message?: string
  count?: number
  successful?: number
  failed?: number
  inconclusive?: number
  error?: number
  measurements?: Measurement[]
}

interface Metric {
  name: string
  successCondition?: string
  failureCondition?: string
  failureLimit?: number | string
  count?: number | string
}

export interface AnalysisRun {
  metadata: { name: string; uid?: string }
  spec?: { metrics?: Metric[] }
  status?: { phase?: string; message?: string; metricResults?: MetricResult[] }
}

/** Phases of an AnalysisRun (and of a metric) that mean it failed. */
export function analysisFailed(phase: string | undefined): boolean {
  return phase === 'Failed' || phase === 'Error'
}

/** The runs the Rollout's status names now: the step's analysis, the background one. */
export function namedRuns(live: LiveObject): RunStatus[] {
  const canary = (live.status as { canary?: { currentStepAnalysisRunStatus?: RunStatus; currentBackgroundAnalysisRunStatus?: RunStatus } } | undefined)?.canary
  return [canary?.currentStepAnalysisRunStatus, canary?.currentBackgroundAnalysisRunStatus].filter((r): r is RunStatus => !!r?.name)
}

/** Reads AnalysisRuns for one wait; stops asking (after saying why once) when the kubeconfig may not. */
export class AnalysisReader {
  private refused = false

  /** The AnalysisRun (or Experiment) by name, or undefined (gone, or not readable). */
  async read(api: KubeApi, namespace: string | undefined, name: string, progress: Progress, kind = 'AnalysisRun'): Promise<AnalysisRun | undefined> {
    if (this.refused) return undefined
    try {
      return await api.read<AnalysisRun & { apiVersion: string; kind: string }>({ apiVersion: ANALYSIS_API, kind, metadata: { name, namespace } })
    } catch (error) {
      // Forbidden (or the kind unknown to this server): the Rollout's status still decides the wait.
      if (!(error instanceof UserError)) throw error
      this.refused = true
      progress.event('analysisruns-unreadable', `cannot read AnalysisRuns (${error.message}); the wait goes on by the Rollouts' status alone, without their metrics`)
      return undefined
    }
  }
}

function metricCounts(result: MetricResult): string {
  const extra = [result.inconclusive ? `${result.inconclusive} inconclusive` : '', result.error ? `${result.error} errored` : ''].filter(Boolean)
  return `${result.count ?? 0} measured, ${result.successful ?? 0} successful, ${result.failed ?? 0} failed${extra.length ? `, ${extra.join(', ')}` : ''}`
}

/** One line: the run, its phase, and each metric's progress (count, successful, failed). */
export function analysisLine(run: AnalysisRun, said?: RunStatus): string {
  const phase = run.status?.phase ?? said?.status ?? 'Pending'
  const results = run.status?.metricResults ?? []
  const metrics = results.length ? results.map(r => `metric "${r.name}" ${r.phase ?? 'Running'} (${metricCounts(r)})`).join('; ') : 'no measurement yet'
  return `analysis run ${run.metadata.name}: ${phase}: ${metrics}`
}

function condition(metric: Metric | undefined): string {
  if (!metric) return ''
  const parts = [metric.successCondition ? `successCondition \`${metric.successCondition}\`` : '', metric.failureCondition ? `failureCondition \`${metric.failureCondition}\`` : '']
  const limit = metric.failureLimit !== undefined ? `, failureLimit ${metric.failureLimit}` : ''
  return parts.some(Boolean) ? `; ${parts.filter(Boolean).join(', ')}${limit}` : limit ? `;${limit.slice(1)}` : ''
}

function lastValues(result: MetricResult): string {
  const last = (result.measurements ?? []).slice(-LAST_MEASUREMENTS)
  if (!last.length) return ''
  const shown = last.map(m => `${m.phase ?? '?'}${m.value !== undefined ? ` value ${m.value}` : ''}${m.message ? ` (${m.message})` : ''}`)
  return `; last measurements: ${shown.join(', ')}`
}

/**
 * The failed (or errored) metrics of a run: phase, message, the condition, the last values measured.
 * The run's own message is left out when `said` (the Rollout's message) already carries it.
 */
export function analysisFailure(run: AnalysisRun, said = ''): string {
  const failed = (run.status?.metricResults ?? []).filter(r => analysisFailed(r.phase))
  const metrics = failed.map(r => {
    const spec = run.spec?.metrics?.find(m => m.name === r.name)
    return `metric "${r.name}" ${r.phase}${r.message ? `: ${r.message}` : ''} (${metricCounts(r)}${condition(spec)}${lastValues(r)})`
  })
  const message = run.status?.message && !said.includes(run.status.message) ? `: ${run.status.message}` : ''
  return `analysis run ${run.metadata.name} ${run.status?.phase ?? 'failed'}${message}${metrics.length ? `; ${metrics.join('; ')}` : ''}`
}

/** A Rollout of ours as the wait follows it. */
export interface FollowedRollout {
  ref: string
  name: string
  namespace?: string
}

/**
 * Argo's revision of the Rollout (the annotation its controller writes, with the new ReplicaSet, before
 * it judges the rollout) is 1: the first revision, for which Argo runs no steps (its initialDeploy).
 */
function firstRevision(live: LiveObject): boolean {
  return (live.metadata as { annotations?: Record<string, string> }).annotations?.['rollout.argoproj.io/revision'] === '1'
}

/**
 * What the wait says about the Argo Rollouts of ours, beyond their verdict: a line per canary step and per
 * change in an analysis run's measurements, and for a failure the step it failed at (Argo resets the step
 * index to 0 when it aborts, so the last one seen is kept) and the failed AnalysisRun's metrics.
 */
export class ArgoFollower {
  private readonly reader = new AnalysisReader()
  /** The last step index seen before an abort, per Rollout. */
  private readonly lastStep = new Map<string, number>()
  /** Every analysis run a Rollout's status named while we followed it. */
  private readonly runs = new Map<string, Set<string>>()
  /** A failure's details, read once. */
  private readonly explained = new Map<string, string>()

  async follow(api: KubeApi, rollout: FollowedRollout, live: LiveObject, state: Readiness, progress: Progress): Promise<Readiness> {
    const status = rolloutFields(live)
    const runs = this.runs.get(rollout.ref) ?? new Set<string>()
    this.runs.set(rollout.ref, runs)
    for (const run of namedRuns(live)) runs.add(run.name)
    if (state.state === 'failed') return { state: 'failed', message: `${state.message}${await this.failure(api, rollout, live, state.message, progress)}` }
    if (state.state === 'ready') {
      if (!firstRevision(live)) return state
      return { state: 'ready', message: `${state.message}: the first revision of this Rollout (Argo runs no canary steps on a first deploy)` }
    }
    if (status.abort !== true && status.currentStepIndex !== undefined) this.lastStep.set(rollout.ref, status.currentStepIndex)
    const step = currentStep(live)
    if (step) progress.event(`argo-step:${rollout.ref}:${status.currentPodHash}:${step.index}`, `${rollout.ref}: step ${step.index}/${step.count}: ${step.text} (${podCounts(status)})`)
    for (const said of namedRuns(live)) {
      const run = await this.reader.read(api, rollout.namespace, said.name, progress)
      const line = run ? analysisLine(run, said) : `analysis run ${said.name}: ${said.status ?? 'Pending'}${said.message ? `: ${said.message}` : ''}`
      progress.event(`argo-analysis:${line}`, `${rollout.ref}: ${line}`)
    }
    await this.experiment(api, rollout, live, progress)
    return state
  }

  /** The Experiment a step runs, in one line: its phase and message. */
  private async experiment(api: KubeApi, rollout: FollowedRollout, live: LiveObject, progress: Progress): Promise<void> {
    const name = (live.status as { canary?: { currentExperiment?: string } } | undefined)?.canary?.currentExperiment
    if (!name) return
    const experiment = (await this.reader.read(api, rollout.namespace, name, progress, 'Experiment')) as { status?: { phase?: string; message?: string } } | undefined
    const line = `experiment ${name}: ${experiment?.status?.phase ?? 'Pending'}${experiment?.status?.message ? `: ${experiment.status.message}` : ''}`
    progress.event(`argo-experiment:${line}`, `${rollout.ref}: ${line}`)
  }

  /** Where it failed and why, as Argo's objects say: the step, the failed analysis, Argo's own rollback. */
  private async failure(api: KubeApi, rollout: FollowedRollout, live: LiveObject, said: string, progress: Progress): Promise<string> {
    const known = this.explained.get(rollout.ref)
    if (known !== undefined) return known
    const status = rolloutFields(live)
    const steps = canarySteps(live.spec)
    const index = this.lastStep.get(rollout.ref) ?? (status.abort === true ? undefined : status.currentStepIndex)
    const parts: string[] = []
    if (index !== undefined && index < steps.length) parts.push(`failed at step ${index + 1}/${steps.length}: ${stepText(steps[index])}`)
    for (const name of new Set([...(this.runs.get(rollout.ref) ?? []), ...namedRuns(live).map(r => r.name)])) {
      const run = await this.reader.read(api, rollout.namespace, name, progress)
      if (run && analysisFailed(run.status?.phase)) parts.push(analysisFailure(run, said))
    }
    if (status.abort === true) parts.push(`Argo aborted the update: its own rollback, the stable ReplicaSet${status.stableRS ? ` (pod hash ${status.stableRS})` : ''} serves again`)
    const text = parts.length ? `; ${parts.join('; ')}` : ''
    this.explained.set(rollout.ref, text)
    return text
  }
}
