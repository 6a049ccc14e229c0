// Flagger's Canary (flagger.app/v1beta1), by Flagger's own status contract (v1.36:
// pkg/apis/flagger/v1beta1/status.go, pkg/canary/status.go, pkg/controller/scheduler.go). A Canary has no
// Ready condition a generic rule could read: its phase is the verdict, and the verdict is about the spec
// named by status.lastAppliedSpec. Flagger writes there a hash of the target's pod template as *it*
// prints the Go struct (spew + FNV-32a), which cannot be recomputed here; so "Flagger picked up our spec"
// is read as: lastAppliedSpec moved away from the value it had right before our apply (while our
// template stays on the workload: the rollout itself reports another revision taking over).

import * as core from '@actions/core'
import { UserError, errorMessage } from '../../../errors.js'
import type { KubernetesObject } from '@kubernetes/client-node'
import type { KubeObject } from '../../../render/manifests.js'
import type { KubeApi } from '../api/client.js'
import { templateKey } from '../workloads/ownership.js'
import type { CanaryBaseline, LiveObject, Readiness } from '../readiness/types.js'

export type { CanaryBaseline } from '../readiness/types.js'

/** Phases of an analysis under way: Flagger passes through them for every new spec it analyses. */
const ANALYSING = new Set(['Progressing', 'Waiting', 'WaitingPromotion', 'Promoting', 'Finalising'])

/** Records that Flagger is analysing our spec (called on every observation, before canaryReadiness). */
export function noteAnalysis(object: LiveObject, baseline: CanaryBaseline | undefined): void {
  const status = (object.status ?? {}) as CanaryStatus
  if (baseline && status.lastAppliedSpec && status.lastAppliedSpec !== baseline.lastAppliedSpec && ANALYSING.has(status.phase ?? '')) baseline.analysed = true
}

interface CanaryStatus {
  phase?: string
  failedChecks?: number
  canaryWeight?: number
  iterations?: number
  lastAppliedSpec?: string
}

interface CanarySpec {
  targetRef?: { kind?: string; name?: string }
  suspend?: boolean
  analysis?: { threshold?: number; iterations?: number; maxWeight?: number; stepWeight?: number; webhooks?: Array<{ name?: string; type?: string; url?: string }> }
}

const ready = (message: string): Readiness => ({ state: 'ready', message })
const waiting = (message: string): Readiness => ({ state: 'waiting', message })
const failed = (message: string): Readiness => ({ state: 'failed', message })

function target(spec: CanarySpec): string {
  return `${(spec.targetRef?.kind ?? 'Deployment').toLowerCase()}/${spec.targetRef?.name ?? '?'}`
}

/** Where the analysis stands: Blue/Green counts iterations, a weighted canary its traffic weight. */
function analysis(status: CanaryStatus, spec: CanarySpec): string {
  const checks = `${status.failedChecks ?? 0} of ${spec.analysis?.threshold ?? '?'} failed checks allowed`
  const iterations = spec.analysis?.iterations
  if (iterations) return `iteration ${status.iterations ?? 0} of ${iterations}, ${checks}`
  return `canary weight ${status.canaryWeight ?? 0}%${spec.analysis?.maxWeight ? ` of ${spec.analysis.maxWeight}%` : ''}, ${checks}`
}

/**
 * Where a Canary stands for our spec. `baseline` undefined means the Canary was not read before the apply:
 * nothing can then tell our spec's verdict from an older one, so its phase is shown and never trusted.
 */
export function canaryReadiness(object: LiveObject, baseline: CanaryBaseline | undefined): Readiness {
  const status = (object.status ?? {}) as CanaryStatus
  const spec = (object.spec ?? {}) as CanarySpec
  const phase = status.phase
  if (!baseline) return waiting(`phase ${phase ?? '(none yet)'}, but not read before our apply, so it may be about an older spec`)
  // Flagger sets Waiting (a closed confirm-rollout gate) before it writes the new spec's hash: whatever
  // spec it was, the gate now holds the target's current one, ours (the rollout itself reports a takeover).
  if (phase === 'Waiting') return verdict(status, spec, true)
  if (!status.lastAppliedSpec || status.lastAppliedSpec === baseline.lastAppliedSpec) {
    // Our apply left the target's pod template as it was (a re-run of the same commit): Flagger's hash
    // never moves, and what it says is about that very spec, ours. A suspended Canary looks at nothing.
    if (baseline.unchanged && status.lastAppliedSpec && !spec.suspend) return unchanged(verdict(status, spec, true), spec)
    const old = phase ? ` (its phase ${phase} is about the spec before ours)` : ''
    return waiting(`Flagger has not picked up our spec of ${target(spec)} yet${old}`)
  }
  return verdict(status, spec, baseline.analysed === true)
}

/** Flagger's verdict on an unchanged spec stands: said as such. */
function unchanged(state: Readiness, spec: CanarySpec): Readiness {
  if (state.state === 'waiting') return state
  return { ...state, message: `our apply left the pod template of ${target(spec)} unchanged, so Flagger's verdict on it stands: ${state.message}` }
}

/** The phase, as Flagger's word on our spec; `analysed`: Flagger was seen analysing our spec (a Failed is then ours). */
function verdict(status: CanaryStatus, spec: CanarySpec, analysed: boolean): Readiness {
  const phase = status.phase
  switch (phase) {
    case 'Initializing':
      return waiting(`first deploy: Flagger is initializing ${target(spec)}-primary from our spec (no analysis on a first deploy)`)
    case 'Initialized':
      return ready(`first deploy: Flagger initialized ${target(spec)}-primary from our spec (Initialized; no analysis on a first deploy)`)
    case 'Waiting':
    case 'WaitingPromotion':
      return waiting(gateMessage(phase, spec))
    case 'Progressing':
      return waiting(`Progressing: analysis of our spec, ${analysis(status, spec)}`)
    case 'Promoting':
      return waiting(`Promoting: Flagger copies our spec to ${target(spec)}-primary`)
    case 'Finalising':
      return waiting(`Finalising: traffic goes back to ${target(spec)}-primary, the canary scales down`)
    case 'Succeeded':
      return ready(`Succeeded: Flagger promoted our spec`)
    case 'Failed':
      // A Failed Canary gets the new spec's hash written before Flagger starts analysing it ("sync
      // lastAppliedSpec even if the canary is in a failed state", scheduler.go): that Failed is the old
      // spec's. Ours failed only after Flagger was seen analysing it.
      if (!analysed) return waiting(`Flagger has not started the analysis of our spec of ${target(spec)} yet (its phase Failed is about the spec before ours)`)
      // Flagger zeroes failedChecks when it fails a canary: the failed checks are named by its events.
      return failed(`${FAILED}: Flagger rolled our spec back (failed-checks threshold ${spec.analysis?.threshold ?? '?'}, or its progress deadline); ${target(spec)}-primary serves the previous spec`)
    case 'Terminating':
    case 'Terminated':
      return failed(`${phase}: the Canary is being deleted, so no verdict will come for our spec`)
    default:
      return waiting(`phase ${phase ?? '(none yet)'}`)
  }
}

/** How a failed verdict of Flagger's starts: Flagger has rolled back already (see flaggerRolledBack). */
const FAILED = 'Failed'

/** The gate webhooks of each waiting phase (Flagger's webhook types). */
const GATES: Record<string, string> = { Waiting: 'confirm-rollout', WaitingPromotion: 'confirm-promotion' }

/** Which gate holds the Canary and how it is opened: the webhook decides, never deploy-service. */
function gateMessage(phase: 'Waiting' | 'WaitingPromotion', spec: CanarySpec): string {
  const type = GATES[phase]
  const hooks = (spec.analysis?.webhooks ?? []).filter(w => w.type === type).map(w => `'${w.name ?? '?'}' (${w.url ?? '?'})`)
  const what = phase === 'Waiting' ? 'the analysis of our spec waits for approval' : 'the analysis of our spec passed; promotion waits for approval'
  return `${phase}: ${what} at Flagger's ${type} gate, webhook ${hooks.join(', ') || '(none named)'}; it opens when that webhook answers 200 (with Flagger's loadtester: POST /gate/open with the Canary's name and namespace)`
}

/** A Canary of ours held at a gate: the line `on-pause: exit` ends the step with; undefined when it is not. */
export function canaryGate(object: LiveObject, baseline: CanaryBaseline | undefined): string | undefined {
  const state = canaryReadiness(object, baseline)
  const phase = ((object.status ?? {}) as CanaryStatus).phase ?? ''
  return state.state === 'waiting' && GATES[phase] && state.message.startsWith(`${phase}:`) ? state.message : undefined
}

/** Flagger has rolled our spec back (its phase Failed for our spec): the target's `-primary` serves the previous one. */
export function flaggerRolledBack(object: LiveObject, state: Readiness, namespace: string | undefined): { kind: string; name: string; namespace: string } | undefined {
  const status = (object.status ?? {}) as CanaryStatus
  if (state.state !== 'failed' || status.phase !== 'Failed' || !namespace) return undefined
  const spec = (object.spec ?? {}) as CanarySpec
  return { kind: spec.targetRef?.kind ?? 'Deployment', name: `${spec.targetRef?.name ?? ''}-primary`, namespace }
}

/** The Canaries among `objects` that declare a gate webhook: `on-pause: continue`/`verify` cannot open them. */
export function gatedCanaries(objects: Array<{ apiVersion?: string; kind?: string; metadata?: { name?: string }; spec?: unknown }>): string[] {
  return objects
    .filter(o => o.kind === 'Canary' && o.apiVersion?.startsWith('flagger.app/'))
    .flatMap(o => ((o.spec as CanarySpec | undefined)?.analysis?.webhooks ?? []).filter(w => Object.values(GATES).includes(w.type ?? '')).map(w => `Canary/${o.metadata?.name ?? '?'} (${w.type} webhook '${w.name ?? '?'}')`))
}

/** Flagger's Warning events that name a failed check or the rollback, for the failure's reason. */
export function failedChecks(messages: string[]): string[] {
  return messages.filter(m => /^Halt .*(check|advancement)|^Rolling back|^Canary failed/i.test(m))
}

/**
 * The Warning events of the objects a wait follows, by uid, each with the last time it was said: a failed
 * Canary's reason quotes what Flagger said since our apply (the events of an older failure are still listed).
 */
export class CanaryEvents {
  private readonly warnings = new Map<string, Map<string, number>>()

  note(uid: string | undefined, message: string | undefined, at: string | undefined): void {
    if (!uid || !message) return
    const seen = this.warnings.get(uid) ?? new Map<string, number>()
    // A repeated event keeps its text and moves its lastTimestamp.
    seen.set(message, Math.max(seen.get(message) ?? 0, at ? Date.parse(at) : 0))
    this.warnings.set(uid, seen)
  }

  /** A failed Canary's verdict with the failed checks Flagger named since `baseline` was read. */
  explain(live: LiveObject, state: Readiness, baseline: CanaryBaseline | undefined): Readiness {
    if (state.state !== 'failed' || !live.metadata.uid) return state
    const since = baseline?.readAt ?? 0
    const checks = failedChecks([...(this.warnings.get(live.metadata.uid) ?? new Map<string, number>())].filter(([, at]) => at >= since).map(([message]) => message))
    return checks.length ? { state: 'failed', message: `${state.message}; Flagger said: ${checks.join('; ')}` } : state
  }
}

/**
 * Reads each Canary of the set right before the apply: what it says then is about an older spec (or none,
 * for a Canary this apply creates), which the wait must not count for ours. Its target's pod template is
 * read with it: an apply that leaves it as it was gives Flagger nothing new to analyse (see `unchanged`).
 */
export async function readCanaryBaselines(api: KubeApi, objects: KubernetesObject[], into: Map<string, CanaryBaseline>): Promise<void> {
  for (const object of objects.filter(o => o.kind === 'Canary' && o.apiVersion?.startsWith('flagger.app/'))) {
    const live = await api.read<KubernetesObject & { status?: CanaryStatus; spec?: CanarySpec }>(object)
    const ref = live?.spec?.targetRef
    const workload = ref?.name ? await api.read<KubernetesObject & { spec?: { template?: unknown } }>({ apiVersion: 'apps/v1', kind: ref.kind ?? 'Deployment', metadata: { name: ref.name, namespace: object.metadata?.namespace ?? live?.metadata?.namespace } }) : undefined
    into.set(object.metadata?.name ?? '', {
      lastAppliedSpec: live?.status?.lastAppliedSpec ?? '',
      phase: live?.status?.phase,
      readAt: Math.floor(Date.now() / 1000) * 1000,
      target: ref?.name && workload?.spec?.template ? { ref: `${ref.kind ?? 'Deployment'}/${ref.name}`, template: templateKey(workload.spec.template) } : undefined
    })
  }
}

/**
 * After our apply: a Canary whose target's pod template the apply left as it was (a re-run of the same
 * commit, by our apply's answer against the template read right before it) is marked `unchanged`.
 */
export function markUnchanged(baselines: Map<string, CanaryBaseline> | undefined, answers: Map<string, { spec?: { template?: unknown } }>): void {
  for (const baseline of baselines?.values() ?? []) {
    const answer = baseline.target ? answers.get(baseline.target.ref) : undefined
    if (answer?.spec?.template && templateKey(answer.spec.template) === baseline.target?.template) baseline.unchanged = true
  }
}

const CANARY_API = 'flagger.app/v1beta1'

/**
 * Canaries of the namespace that target our workload but are not in the set (applied by another
 * pipeline): Flagger decides our rollout through them as much as through one of ours. None where the
 * server does not serve Canaries.
 */
export async function canariesTargeting(api: KubeApi, namespace: string, workload: { kind: string; metadata: { name: string } }, inSet: Array<{ kind: string; metadata: { name: string } }>): Promise<KubeObject[]> {
  const collection = await api.collectionPath(CANARY_API, 'Canary', namespace)
  if (!collection) return []
  let items: Array<{ metadata: { name: string }; spec?: CanarySpec }>
  try {
    items = (await api.list<{ metadata: { name: string }; spec?: CanarySpec }>(collection.path)).items
  } catch (error) {
    if (api.signal?.aborted) throw error
    // Flagger is installed, but this kubeconfig may not list its Canaries (most services use none): a deploy
    // is not refused for it; a Canary outside the template that targets the workload is then not followed.
    core.warning(`Flagger Canaries in namespace ${namespace} could not be listed (${errorMessage(error)}): a Canary outside the template that targets ${workload.kind}/${workload.metadata.name} is not followed; grant list on canaries.flagger.app to follow it`)
    return []
  }
  const ours = (c: { spec?: CanarySpec }) => (c.spec?.targetRef?.kind ?? 'Deployment') === workload.kind && c.spec?.targetRef?.name === workload.metadata.name
  const listed = new Set(inSet.filter(o => o.kind === 'Canary').map(o => o.metadata.name))
  return items.filter(c => ours(c) && !listed.has(c.metadata.name)).map(c => ({ apiVersion: CANARY_API, kind: 'Canary', metadata: { name: c.metadata.name, namespace }, spec: c.spec as Record<string, unknown> | undefined }))
}

/**
 * Flagger's gates (confirm-rollout, confirm-promotion) open only when their webhooks say so: `on-pause`
 * continue or verify cannot be honoured, so the deploy is refused before anything changes.
 */
export function refuseFlaggerGates(request: { wait: boolean; ecs: { onPause?: string } }, objects: KubeObject[]): void {
  const { onPause } = request.ecs
  const gated = request.wait && (onPause === 'continue' || onPause === 'verify') ? gatedCanaries(objects) : []
  if (gated.length) {
    throw new UserError({ input: 'on-pause', message: `'${onPause}' cannot be honoured: ${gated.join(', ')} holds the rollout at Flagger's gate, which only its webhook opens (deploy-service cannot); use on-pause: wait (to wait for the gate to open) or exit (to end the step paused at the gate)` })
  }
}
