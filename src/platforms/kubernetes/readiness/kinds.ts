// What "ready" means for each kind of object a set applies: one small pure viewer per kind, chosen
// from a table by group and kind, as kubectl's rollout status does for workloads. Workloads keep
// kubectl's rules (../workloads/status.ts); the rest follows kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status),
// the rules Helm 4's watcher and Flux use, where it is strict enough for a deploy step: a Job must
// complete (kstatus calls a started Job current), a LoadBalancer Service must have an address (kstatus
// only asks for a cluster IP), a failed Pod fails.

import { argoRollout } from '../progressive/argo-rollout.js'
import { canaryReadiness } from '../progressive/flagger-canary.js'
import { rolloutStatus, type WorkloadState } from '../workloads/status.js'

// The types the per-kind viewers share live beside them (readiness/types.ts), so a viewer in the room
// never imports this table back.
export type { LiveObject, Readiness, ReadinessOptions } from './types.js'
import type { Condition, LiveObject, Readiness, ReadinessOptions } from './types.js'

type Viewer = (object: LiveObject, options: ReadinessOptions) => Readiness

const ready = (message: string): Readiness => ({ state: 'ready', message })
const waiting = (message: string): Readiness => ({ state: 'waiting', message })
const failed = (message: string): Readiness => ({ state: 'failed', message })

function condition(object: LiveObject, type: string): Condition | undefined {
  return object.status?.conditions?.find(c => c.type === type)
}

/** `Reason: message`, or whichever of them is there. */
function said(c: Condition): string {
  return [c.reason, c.message].filter(Boolean).join(': ') || 'no reason given'
}

function workload(object: LiveObject): Readiness {
  const status = rolloutStatus(object as unknown as WorkloadState)
  if (status.error) return failed(status.error)
  return status.done ? ready(status.message) : waiting(status.message)
}

function job(object: LiveObject): Readiness {
  const status = (object.status ?? {}) as { succeeded?: number; active?: number; failed?: number }
  const spec = (object.spec ?? {}) as { completions?: number; parallelism?: number; suspend?: boolean }
  const complete = condition(object, 'Complete')
  if (complete?.status === 'True') return ready(`complete: ${status.succeeded ?? 0} succeeded`)
  const failure = condition(object, 'Failed')
  if (failure?.status === 'True') return failed(`failed: ${said(failure)}`)
  // A Job the set suspends is one its owner starts later (kstatus: current).
  if (spec.suspend === true && condition(object, 'Suspended')?.status === 'True') return ready('suspended (spec.suspend: true): not waited on')
  const completions = spec.completions ?? spec.parallelism ?? 1
  return waiting(`running: ${status.succeeded ?? 0} of ${completions} completions succeeded, ${status.active ?? 0} active, ${status.failed ?? 0} failed`)
}

function pod(object: LiveObject): Readiness {
  const status = (object.status ?? {}) as { phase?: string; reason?: string; message?: string; containerStatuses?: Array<{ name: string; state?: { waiting?: { reason?: string } } }> }
  if (status.phase === 'Succeeded') return ready('completed (phase Succeeded)')
  if (status.phase === 'Failed') return failed(`phase Failed${status.reason ? `: ${status.reason}` : ''}${status.message ? `: ${status.message}` : ''}`)
  if (condition(object, 'Ready')?.status === 'True') return ready('Ready')
  const stuck = status.containerStatuses?.find(c => c.state?.waiting?.reason)
  if (stuck) return waiting(`container ${stuck.name}: ${stuck.state!.waiting!.reason}`)
  return waiting(status.phase ? `phase ${status.phase}, not Ready yet` : 'not scheduled yet')
}

function persistentVolumeClaim(object: LiveObject): Readiness {
  const phase = object.status?.phase as string | undefined
  if (phase === 'Bound') return ready(`Bound to ${String(object.spec?.volumeName ?? 'a volume')}`)
  // Lost: its volume is gone; no controller brings it back.
  if (phase === 'Lost') return failed('phase Lost: the PersistentVolume it was bound to no longer exists')
  return waiting(`not bound yet (phase ${phase ?? 'unknown'})`)
}

function service(object: LiveObject, options: ReadinessOptions): Readiness {
  if (object.spec?.type !== 'LoadBalancer') return ready(`type ${String(object.spec?.type ?? 'ClusterIP')}`)
  const ingress = ((object.status?.loadBalancer as { ingress?: Array<{ ip?: string; hostname?: string }> } | undefined)?.ingress ?? []).map(i => i.ip ?? i.hostname).filter(Boolean)
  if (ingress.length) return ready(`load balancer at ${ingress.join(', ')}`)
  if (!options.waitForLoadBalancers) return ready('type LoadBalancer; its address is not waited for (wait-for-load-balancers: false)')
  return waiting('no ingress address yet (status.loadBalancer.ingress is empty: is there a load-balancer controller? wait-for-load-balancers: false skips this)')
}

function customResourceDefinition(object: LiveObject): Readiness {
  const names = condition(object, 'NamesAccepted')
  if (names?.status === 'False') return failed(`names not accepted: ${said(names)}`)
  const established = condition(object, 'Established')
  if (established?.status === 'True') return ready('Established')
  if (established?.status === 'False' && established.reason !== 'Installing') return failed(`not established: ${said(established)}`)
  return waiting('not Established yet')
}

/**
 * kstatus's generic rules, for custom resources and any kind without a viewer: the controller must have
 * seen our generation; Reconciling=True is progress, Stalled=True a failure; then a Ready condition
 * decides; an object with none of these is ready (nothing says otherwise). Ready=False is progress,
 * as in kstatus: it cannot tell a resource that is getting there (a certificate being issued) from
 * one that never will; its reason is shown, and named in the failure if the deadline passes.
 */
function generic(object: LiveObject): Readiness {
  const generation = object.metadata.generation
  const observed = object.status?.observedGeneration
  if (generation !== undefined && observed !== undefined && observed !== generation) {
    return waiting(`its controller has not seen generation ${generation} yet (status.observedGeneration is ${observed})`)
  }
  const reconciling = condition(object, 'Reconciling')
  if (reconciling?.status === 'True') return waiting(`Reconciling: ${said(reconciling)}`)
  const stalled = condition(object, 'Stalled')
  if (stalled?.status === 'True') return failed(`Stalled: ${said(stalled)}`)
  const readyCondition = condition(object, 'Ready')
  if (readyCondition?.status === 'True') return ready('Ready')
  if (readyCondition) return waiting(`Ready=${readyCondition.status}: ${said(readyCondition)}`)
  return ready('no Ready, Stalled or Reconciling condition to wait for')
}

const atOnce: Viewer = () => ready('ready once applied')

/**
 * Kinds that are ready as soon as the server stored them: they have no status to wait for, or none
 * that says the deploy worked (an HPA's status follows load; a PDB's is computed later).
 */
const READY_AT_ONCE = [
  'ConfigMap',
  'Secret',
  'ServiceAccount',
  'Endpoints',
  'LimitRange',
  'ResourceQuota',
  'PodTemplate',
  'HorizontalPodAutoscaler.autoscaling',
  'PodDisruptionBudget.policy',
  'CronJob.batch',
  'Role.rbac.authorization.k8s.io',
  'RoleBinding.rbac.authorization.k8s.io',
  'ClusterRole.rbac.authorization.k8s.io',
  'ClusterRoleBinding.rbac.authorization.k8s.io',
  'NetworkPolicy.networking.k8s.io',
  'IngressClass.networking.k8s.io',
  'PriorityClass.scheduling.k8s.io',
  'StorageClass.storage.k8s.io',
  'EndpointSlice.discovery.k8s.io',
  'ValidatingWebhookConfiguration.admissionregistration.k8s.io',
  'MutatingWebhookConfiguration.admissionregistration.k8s.io'
]

const VIEWERS: Record<string, Viewer> = {
  'Deployment.apps': workload,
  'StatefulSet.apps': workload,
  'DaemonSet.apps': workload,
  'Job.batch': job,
  Pod: pod,
  PersistentVolumeClaim: persistentVolumeClaim,
  Service: service,
  'CustomResourceDefinition.apiextensions.k8s.io': customResourceDefinition,
  'Rollout.argoproj.io': argoRollout,
  'Canary.flagger.app': (object, options) => canaryReadiness(object, options.canaries?.get(object.metadata.name)),
  ...Object.fromEntries(READY_AT_ONCE.map(key => [key, atOnce]))
}

/**
 * `Deployment.apps`, `Service` (the core group has no name), `Widget.example.com`: kubectl's format,
 * the one the ApplySet annotation must use, and the only one used here.
 */
export function groupKind(apiVersion: string, kind: string): string {
  const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : ''
  return group ? `${kind}.${group}` : kind
}

/** Whether the kind has rules of its own (else kstatus's generic ones judge it: custom resources). */
export function hasViewer(apiVersion: string, kind: string): boolean {
  return VIEWERS[groupKind(apiVersion, kind)] !== undefined
}

/** Whether an object of this kind is ready once stored, so it needs no watch. */
export function readyAtOnce(apiVersion: string, kind: string): boolean {
  return VIEWERS[groupKind(apiVersion, kind)] === atOnce
}

/** Whether `object` is ready, still on its way, or failed, by the rules of its kind. */
export function readiness(object: LiveObject, apiVersion: string, options: ReadinessOptions): Readiness {
  const key = groupKind(apiVersion, object.kind)
  const viewer = VIEWERS[key]
  if (viewer === atOnce) return atOnce(object, options)
  if (object.metadata.deletionTimestamp) return waiting('being deleted')
  // kstatus's generic conditions win over the kind's rules when a controller sets them, but never
  // over the workloads' kubectl rules (those are the ones users know from `kubectl rollout status`).
  if (viewer && viewer !== workload) {
    const stalled = condition(object, 'Stalled')
    if (stalled?.status === 'True') return failed(`Stalled: ${said(stalled)}`)
  }
  return (viewer ?? generic)(object, options)
}
