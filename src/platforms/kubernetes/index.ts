import type { KubernetesObject } from '@kubernetes/client-node'
import { stringify } from 'yaml'
import { UserError, errorMessage } from '../../errors.js'
import {
  WORKLOAD_KINDS,
  annotateChangeCause,
  isArgoRollout,
  manifestsText,
  objectName,
  renderManifests,
  setImages,
  type KubeObject
} from '../../render/manifests.js'
import { loadKubernetesTemplate } from '../../render/kubernetes-template.js'
import type { DeployRequest } from '../../request.js'
import type { ObjectState, Plan, Platform, Rendered, Rollout } from '../../rollout/platform.js'
import { AppliedSet, objectRef, type AppliedObject } from './readiness/applied-set.js'
import type { AppliedAnswer } from './progressive/index.js'
import { canariesTargeting, markUnchanged, readCanaryBaselines, refuseFlaggerGates, type CanaryBaseline } from './progressive/flagger-canary.js'
import { InterruptedRollout, notApplied, stoppedAt, type Interruption } from './apply/interrupted.js'
import { ApplySet } from './prune/applyset.js'
import type { LiveMember } from './prune/proof.js'
import { pruneAfterSuccess, pruneLater, prunePreview } from './prune/steps.js'
import { KubeApi, loadKubeConfig, namespaceOf } from './api/client.js'
import { ifOurs } from '../../rollout/ownership.js'
import { staleAsNotOurs, unchangedSincePlanned } from './workloads/ownership.js'
import { comparable, containersOf, dryRunStates, imageChanges, manifestDiff } from './apply/diff.js'
import { currentRevisionNumber, revisionsOf, undoPatch, undoTarget, type Workload } from './workloads/history.js'
import { KubernetesRollout } from './workloads/rollout.js'
import { madeBy, readWorkload, type TrackedWorkload } from './workloads/tracked.js'
import { isPreDeployJob, jobFromWorkload, jobsFromManifests, validateJobs, type PreDeployJob } from './pre-deploy/jobs.js'
import { jobsText, preDeployStep } from './pre-deploy/run.js'
import { redactSecret } from './apply/secrets.js'
import { unfollowable, validateManifests } from './apply/validate.js'
import { compileHealthChecks, type HealthChecks } from './readiness/health-checks.js'
import { argoImagePlan, continuePlan, readArgoRollout, rollbackPlan, type ArgoModeContext, type LiveRollout } from './progressive/argo-modes.js'

const SERVER_DRY_RUN = 'the API server accepted every object in a server-side dry run'

/** `cancel`, the run's cancellation, ends every request the platform makes, from prepare on. */
export function createKubernetesPlatform(request: DeployRequest, cancel?: AbortSignal): Platform {
  const { service } = request
  const { fieldManager, forceConflicts } = request.kubernetes
  // The kubeconfig is read once, when first needed: `mode: render` with a template needs none.
  let connection: Promise<{ api: KubeApi; namespace: string }> | undefined
  const connect = (): Promise<{ api: KubeApi; namespace: string }> => {
    connection ??= (async () => {
      const { eksCluster } = request.kubernetes
      // An EKS cluster by name: the AWS SDK and the token code are loaded only on this path.
      const config = eksCluster ? (await (await import('./api/eks.js')).loadEksConfig(eksCluster, cancel)).config : loadKubeConfig(request.kubernetes)
      // The run's cancellation ends every request, from the first read in prepare on.
      return { api: new KubeApi(config, cancel), namespace: namespaceOf(config, request.kubernetes) }
    })()
    // A failed connection (no credentials yet, cancelled) is tried again when asked again.
    connection.catch(() => (connection = undefined))
    return connection
  }

  // The health-checks file's CEL expressions, compiled once, before anything changes (input errors at file:line).
  let compiled: Promise<HealthChecks | undefined> | undefined
  const healthChecks = (): Promise<HealthChecks | undefined> => (compiled ??= compileHealthChecks(request.kubernetes.healthChecks))

  /** The objects a wait follows, each by its kind's rules (readiness/kinds.ts) or the health-checks file's. */
  async function appliedSet(objects: AppliedObject[], canaries?: Map<string, CanaryBaseline>): Promise<AppliedSet> {
    return new AppliedSet(objects, { waitForLoadBalancers: request.kubernetes.waitForLoadBalancers, onPause: request.ecs.onPause, fieldManager, canaries }, await healthChecks())
  }

  /** The new pods' logs are shown while the rollout is waited on (`follow-logs`). */
  function withLogs(rollout: KubernetesRollout): KubernetesRollout {
    rollout.liveLogs = { mode: request.kubernetes.followLogs ?? 'one', containers: request.containers }
    return rollout
  }

  /** `mode: continue` / `rollback` of an Argo Rollout: once changed, it is followed as a deploy of it would be. */
  function argoModes(api: KubeApi, namespace: string): ArgoModeContext {
    const follow: ArgoModeContext['follow'] = async (cancellable, changed) => {
      const rollout = withLogs(await KubernetesRollout.settle(cancellable, [], fieldManager))
      const set = await appliedSet([{ apiVersion: changed.apiVersion, kind: 'Rollout', name: service, namespace }])
      set.applied(new Map([[`Rollout/${service}`, changed]]))
      return rollout.follow(set, 1, `rollout/${service}`)
    }
    return { api, namespace, service, fieldManager, toRevision: request.toRevision ? Number(request.toRevision) : undefined, follow }
  }

  async function renderTemplate(namespace: string) {
    // Manifests, or what helm / kustomize rendered from a chart or kustomization (renderedBy says which).
    const { documents, renderedBy } = await loadKubernetesTemplate(request, namespace, process.env, cancel)
    return { ...renderManifests(documents, request, namespace), renderedBy }
  }

  /** The live workload named by `service`, whichever of the three kinds it is, or an Argo Rollout where the server serves them. */
  async function liveTarget(api: KubeApi, namespace: string): Promise<Workload & KubeObject> {
    for (const kind of WORKLOAD_KINDS) {
      const live = await api.read<Workload & KubeObject>({ apiVersion: 'apps/v1', kind, metadata: { name: service, namespace } })
      if (live) return { ...live, apiVersion: 'apps/v1', kind }
    }
    const rollout = await readArgoRollout(api, namespace, service)
    if (rollout) return rollout as unknown as Workload & KubeObject
    throw new UserError({ input: 'service', message: `namespace '${namespace}' has no Deployment, StatefulSet or DaemonSet named '${service}' (nor an Argo Rollout): check 'service' and 'namespace', or give a template that creates it` })
  }

  /** An image-only change of the live workload: a strategic-merge patch of the chosen containers. */
  function imagePatch(live: Workload & KubeObject) {
    const copy = structuredClone(live)
    const file = `live ${objectName(live)}`
    const images = setImages({ object: copy, source: { file, index: 0, value: copy, locate: () => ({ file, line: 1 }) } }, request)
    annotateChangeCause(copy, request, images)
    const spec = (copy.spec as { template: { spec: Record<string, Array<{ name: string; image?: string }>> } }).template.spec
    const changed = (field: string) => (spec[field] ?? []).filter(c => images.some(i => i.container === c.name)).map(c => ({ name: c.name, image: c.image }))
    const templateSpec: Record<string, unknown> = { containers: changed('containers') }
    if (changed('initContainers').length) templateSpec.initContainers = changed('initContainers')
    const patch = { metadata: { annotations: copy.metadata.annotations }, spec: { template: { spec: templateSpec } } }
    return { patch, images, object: copy, text: stringify(comparable(copy), { lineWidth: 0 }) }
  }

  /** The Job `pre-deploy-command` runs in, from the workload as this deploy renders it; none without the input. */
  function preDeployJobs(workload: KubeObject, images: Array<{ container: string }>, namespace: string): PreDeployJob[] {
    return request.preDeploy ? [jobFromWorkload(workload, request, images.map(i => i.container), namespace)] : []
  }

  /**
   * After an apply that failed part-way: the workloads it did change are rolled back or followed
   * (interrupted.ts); with none among them, nothing rolls out and the failure names what was applied.
   */
  async function interrupted(api: KubeApi, stop: Interruption, applied: KubeObject[], answers: Map<string, KubernetesObject>, tracked: TrackedWorkload[]): Promise<Rollout> {
    const workloads = tracked.filter(w => answers.has(`${w.kind}/${w.name}`))
    // Nothing applied at all: the failure is all there is to say (a user's mistake keeps its input and file).
    if (applied.length === 0) throw stop.error
    const after = workloads.length === 0 ? 'no workload was changed, so nothing rolls out' : `${workloads.map(w => `${w.kind}/${w.name}`).join(', ')} rolls out unwatched (wait: false), and was not rolled back`
    if (workloads.length === 0 || !request.wait) throw withApplied(stop, `; applied before it: ${stop.applied.join(', ')}${notApplied(stop)}; ${after}`)
    const rollout = withLogs(await KubernetesRollout.settle(api, workloads.map(w => madeBy(w, answers.get(`${w.kind}/${w.name}`), fieldManager)), fieldManager))
    // Only what was applied is waited for: the rest was never sent.
    rollout.follow(await appliedSet(applied.map(appliedObject)), applied.length)
    return new InterruptedRollout(rollout, stop, request.rollbackOnFailure)
  }

  return {
    name: 'kubernetes',

    async render(): Promise<Rendered> {
      if (request.template) {
        // No network: the namespace comes from the input (or the kubeconfig, read locally, if one is at hand).
        const namespace = request.kubernetes.namespace ?? safeNamespace(request)
        const rendered = await renderTemplate(namespace)
        const objects = rendered.manifests.map(m => m.object)
        // The pre-deploy Job made from the command is shown with the set (an annotated one is in it already).
        const made = preDeployJobs(rendered.target.object, rendered.images, namespace).map(j => j.job)
        // A render reads nothing live, so it cannot know what ran before: no previous images.
        return { ...manifestTexts([...made, ...objects], rendered.renderedBy), fileName: `${service}-manifests.yaml`, images: rendered.images.map(i => ({ ...i, previous: '' })) }
      }
      const { api, namespace } = await connect()
      const { text, images, object } = imagePatch(await liveTarget(api, namespace))
      const withJobs = withJobsText(text, preDeployJobs(object, images, namespace))
      return { text: withJobs, redactedText: withJobs, fileName: `${service}-manifests.yaml`, images }
    },

    async prepareDeploy(): Promise<Plan> {
      await healthChecks()
      // Template problems first: they need no network and are the likeliest mistakes.
      const rendered = request.template ? await renderTemplate(request.kubernetes.namespace ?? safeNamespace(request)) : undefined
      const { api, namespace } = await connect()
      if (rendered) {
        // A Job of the set annotated as pre-deploy runs first, on its own: it is not applied with the rest.
        const setJobs = jobsFromManifests(rendered.manifests, request)
        for (const { job } of setJobs) job.metadata.namespace = namespace
        const manifests = rendered.manifests.filter(m => !isPreDeployJob(m.object))
        // prune: every object carries the set's label, and the set's parent must be ours (ApplySet).
        const { prune, adopt = [], pruneVolumeClaims = [] } = request.kubernetes
        const applySet = prune ? new ApplySet(api, service, namespace, fieldManager, { runUrl: request.github.runUrl, policy: { volumeClaims: pruneVolumeClaims } }) : undefined
        applySet?.label(manifests)
        await applySet?.readParent()
        const validated = await validateManifests(api, manifests, rendered.target, namespace, { fieldManager, force: forceConflicts, wait: request.wait })
        const jobs = [...setJobs, ...preDeployJobs(rendered.target.object, rendered.images, namespace)]
        await validateJobs(api, jobs, fieldManager)
        // An object another ApplySet holds is not silently moved into ours (unless adopt says so).
        const adopted = applySet ? await applySet.refuseHeld(manifests, object => validated.pairs.find(p => p.kind === object.kind && p.name === object.metadata.name)?.live as LiveMember | undefined, adopt) : []
        // None when the target is an Argo Rollout: its controller numbers and judges its revisions.
        const target = validated.workloads[0] as TrackedWorkload | undefined
        const objects = manifests.map(m => m.object)
        // previous-image is what the live workload ran, not what the template said; none on a first deploy.
        const live = validated.pairs.find(p => p.kind === rendered.target.object.kind && p.name === rendered.target.object.metadata.name)?.live
        const liveImages = new Map(containersOf(live).map(c => [c.name, c.image ?? '']))
        const images = rendered.images.map(i => ({ ...i, previous: liveImages.get(i.container) ?? '' }))
        const notes = [...validated.notes, ...adopted].map(n => `\n  ${n}`).join('')
        const wouldPrune: ObjectState[] = []
        // Every object of the set is waited for by its kind's rules (readiness/kinds.ts), and listed in the summary.
        // What the template's objects need read first, so a kubeconfig that may not is stopped at their files.
        if (request.wait) await (await appliedSet(objects.map(appliedObject))).checkReadable(api, manifests)
        // A Canary outside the set that targets our workload decides as much as one in it (progressive/flagger-canary.ts).
        const outside = request.wait ? await canariesTargeting(api, namespace, rendered.target.object, objects) : []
        refuseFlaggerGates(request, [...objects, ...outside])
        const canaries = new Map<string, CanaryBaseline>()
        const set = await appliedSet([...objects, ...outside].map(appliedObject), canaries)
        return {
          ...manifestTexts([...jobs.map(j => j.job), ...objects], rendered.renderedBy),
          fileName: `${service}-manifests.yaml`,
          images,
          previousRevision: target?.previousRevision !== undefined ? String(target.previousRevision) : undefined,
          description: `Kubernetes ${objectName(rendered.target.object)} in namespace ${namespace}: revision ${target?.previousRevision ?? '(new)'} -> next, ${objects.length + jobs.length} object(s)${rendered.renderedBy ? ` rendered by ${rendered.renderedBy},` : ''} checked by a server dry run; ${imagesLine(images)}${notes}`,
          dryRun: async () => withJobsText([manifestDiff(validated.pairs), applySet ? await prunePreview(applySet, objects, rows => wouldPrune.push(...rows), { wait: request.wait }) : ''].filter(Boolean).join('\n'), jobs),
          dryRunObjects: () => [...dryRunStates(validated.pairs), ...wouldPrune],
          checkedBy: SERVER_DRY_RUN,
          before: preDeployStep(api, jobs, fieldManager),
          apply: async (progress, signal) => {
            const cancellable = api.withSignal(signal)
            for (const note of [...validated.notes, ...adopted]) progress.step(note)
            // Read again after the pre-deploy step: another set may have taken an object of ours meanwhile.
            if (jobs.length) await applySet?.refuseHeldNow(manifests, adopt)
            // The parent lists the old and new kinds before anything is applied: an interrupted deploy leaks nothing.
            await applySet?.beforeApply(objects)
            // What runs right before our apply, read now: a deploy that landed during a long pre-deploy
            // step is what a rollback goes back to, never the revision read before it.
            const workloads = await Promise.all(validated.workloads.map(async w => ({ ...w, previousRevision: await revisionNow(cancellable, w) })))
            // What each Flagger Canary says before our apply is about an older spec (progressive/flagger-canary.ts).
            await readCanaryBaselines(cancellable, [...objects, ...outside] as KubernetesObject[], canaries)
            const answers = new Map<string, KubernetesObject>()
            const applied: KubeObject[] = []
            for (const object of objects) {
              const force = forceConflicts || validated.forced.has(object)
              try {
                answers.set(`${object.kind}/${object.metadata.name}`, await cancellable.apply(object as KubernetesObject, { fieldManager, force, dryRun: false }))
              } catch (error) {
                if (signal.aborted) throw error
                const stop = { applied: applied.map(refOf), failed: refOf(object), notApplied: objects.slice(applied.length + 1).map(refOf), total: objects.length, error }
                return interrupted(cancellable, stop, applied, answers, workloads)
              }
              applied.push(object)
              const reclaimed = !validated.forced.has(object) ? '' : object.kind === 'Rollout' ? "; took over the template fields Argo Rollouts' controller had written back unchanged" : '; took back the fields our own earlier patch (a rollback) had written'
              progress.step(`applied ${objectName(object)} (server-side apply, field manager ${fieldManager}${reclaimed})`)
            }
            const made = workloads.map(w => madeBy(w, answers.get(`${w.kind}/${w.name}`), fieldManager))
            const rollout = withLogs(await KubernetesRollout.settle(cancellable, made, fieldManager))
            set.applied(answers as Map<string, AppliedAnswer>)
            rollout.follow(set, objects.length + outside.length, objectName(rendered.target.object))
            // With wait: false nothing is known of the new set's health: pruning waits for a deploy that waits.
            if (applySet) rollout.afterSuccess = request.wait ? pruneAfterSuccess(applySet, objects, rows => set.recordPruned(rows)) : pruneLater(applySet, objects)
            return rollout
          }
        }
      }

      const live = await liveTarget(api, namespace)
      if (isArgoRollout(live)) {
        // Its controller runs the canary: the change is a patch of its pod template, followed as a deploy is.
        const changed = imagePatch(live)
        const jobs = preDeployJobs(changed.object, changed.images, namespace)
        await validateJobs(api, jobs, fieldManager)
        const plan = await argoImagePlan(argoModes(api, namespace), live as unknown as LiveRollout, { ...changed, text: withJobsText(changed.text, jobs) })
        return { ...plan, before: preDeployStep(api, jobs, fieldManager) }
      }
      if (request.wait) {
        const refused = unfollowable(live)
        if (refused.length) throw new UserError(refused)
      }
      const { patch, images, text, object } = imagePatch(live)
      const previous = currentRevisionNumber(live, await revisionsOf(api, live))
      const after = await api.dryRunPatch(live as KubernetesObject, patch, 'application/strategic-merge-patch+json', { fieldManager })
      const jobs = preDeployJobs(object, images, namespace)
      await validateJobs(api, jobs, fieldManager)
      const tracked = [{ kind: live.kind, name: service, namespace, previousRevision: previous }]
      const outside = request.wait ? await canariesTargeting(api, namespace, live, []) : []
      refuseFlaggerGates(request, outside)
      return {
        text: withJobsText(text, jobs),
        redactedText: withJobsText(text, jobs),
        fileName: `${service}-manifests.yaml`,
        images,
        previousRevision: previous !== undefined ? String(previous) : undefined,
        description: `Kubernetes ${objectName(live)} in namespace ${namespace} (no template: image-only change of the live workload): revision ${previous ?? '?'} -> next; ${imagesLine(images)}${request.kubernetes.prune ? '\n  prune: nothing is pruned without a template (an image-only change applies no set)' : ''}`,
        dryRun: async () => withJobsText(manifestDiff([{ kind: live.kind, name: service, live, after }]), jobs),
        checkedBy: SERVER_DRY_RUN,
        before: preDeployStep(api, jobs, fieldManager),
        apply: async (progress, signal) => {
          const cancellable = api.withSignal(signal)
          // Read again after the pre-deploy step, as with a template: what runs right before our change.
          const before = await Promise.all(tracked.map(async w => ({ ...w, previousRevision: await revisionNow(cancellable, w) })))
          const canaries = new Map<string, CanaryBaseline>()
          await readCanaryBaselines(cancellable, outside as KubernetesObject[], canaries)
          const answer = await cancellable.changeImages(live as KubernetesObject, patch, { fieldManager })
          markUnchanged(canaries, new Map([[`${live.kind}/${service}`, answer as { spec?: { template?: unknown } }]]))
          progress.step(`patched the image of ${objectName(live)} (field manager ${fieldManager})`)
          const rollout = withLogs(await KubernetesRollout.settle(cancellable, before.map(w => madeBy(w, answer, fieldManager)), fieldManager))
          // A Canary targeting the workload decides: it is followed with it (progressive/flagger-canary.ts).
          const followed = [{ apiVersion: 'apps/v1', kind: live.kind, name: service, namespace }, ...outside.map(appliedObject)]
          return outside.length ? rollout.follow(await appliedSet(followed, canaries), followed.length) : rollout
        }
      }
    },

    async prepareContinue(): Promise<Plan> {
      const { api, namespace } = await connect()
      return continuePlan(argoModes(api, namespace))
    },

    async prepareRollback(): Promise<Plan> {
      const { api, namespace } = await connect()
      if (request.toRevision !== undefined && !/^\d+$/.test(request.toRevision)) {
        throw new UserError({ input: 'to-revision', message: `'${request.toRevision}' is not a Kubernetes revision: use a number from kubectl rollout history` })
      }
      const argo = await readArgoRollout(api, namespace, service)
      if (argo) return rollbackPlan(argoModes(api, namespace), argo)
      const live = await liveTarget(api, namespace)
      if (request.wait) {
        const refused = unfollowable(live)
        if (refused.length) throw new UserError(refused)
      }
      const revisions = await revisionsOf(api, live)
      const current = currentRevisionNumber(live, revisions)
      const target = undoTarget(live, revisions, request.toRevision ? Number(request.toRevision) : undefined)
      const patch = undoPatch(live, target)
      const name = objectName(live)
      const after = patch ? await api.dryRunPatch(live as KubernetesObject, patch.patch, patch.contentType, { fieldManager }) : live
      const text = stringify(target.content, { lineWidth: 0 })
      return {
        text,
        redactedText: text,
        fileName: `${service}-revision-${target.number}.yaml`,
        images: imageChanges(live, after),
        previousRevision: current !== undefined ? String(current) : undefined,
        description: `Kubernetes ${name} in namespace ${namespace}: roll back revision ${current ?? '?'} -> revision ${target.number}${target.changeCause ? ` (${target.changeCause})` : ''}`,
        dryRun: async () => manifestDiff([{ kind: live.kind, name: service, live, after }]),
        checkedBy: SERVER_DRY_RUN,
        apply: async (progress, signal) => {
          const cancellable = api.withSignal(signal)
          // The revision was chosen from the workload as read when the rollback was planned: only that
          // workload, unchanged since (uid and resourceVersion), is rolled back.
          const answer = patch
            ? await ifOurs(`roll back ${name}`, () => unchangedSincePlanned(cancellable, live), owned => cancellable.patch(owned, live as KubernetesObject, patch.patch, patch.contentType, { fieldManager })).catch(staleAsNotOurs(`roll back ${name}`))
            : undefined
          const restoring = madeBy({ kind: live.kind, name: service, namespace, previousRevision: current, restored: target.number }, answer, fieldManager)
          const rollout = withLogs(await KubernetesRollout.settle(cancellable, [restoring], fieldManager))
          // `rollout undo` gives the old template a new revision number: say both.
          const now = rollout.workloads[0].revision
          const renumbered = now !== undefined && now !== target.number ? `, now revision ${now}` : ''
          progress.step(patch ? `${name}: rolled back to revision ${target.number}${renumbered}` : `${name}: skipped rollback (the current template already matches revision ${target.number})`)
          return rollout
        }
      }
    }
  }
}

function appliedObject(o: KubeObject): AppliedObject {
  return { apiVersion: o.apiVersion, kind: o.kind, name: o.metadata.name, namespace: o.metadata.namespace, serviceType: (o.spec as { type?: string } | undefined)?.type, annotations: o.metadata.annotations }
}

/** `Deployment/web`, as the object table names it. */
function refOf(o: KubeObject): string {
  return objectRef({ kind: o.kind, name: o.metadata.name })
}

/** Text with the pre-deploy Jobs before it, for the rendered file and the dry run. */
function withJobsText(text: string, jobs: PreDeployJob[]): string {
  return jobs.length ? `${jobsText(jobs)}---\n${text}` : text
}

function imagesLine(images: Array<{ container: string; previous: string; next: string }>): string {
  return images.map(i => `${i.container}: ${i.previous || '(none yet)'} -> ${i.next}`).join('; ')
}

/**
 * The set as text for the rendered file, and with every Secret value masked for everything else; a set
 * that helm or kustomize rendered says so (command and version) in a comment first.
 */
function manifestTexts(objects: KubeObject[], renderedBy?: string): { text: string; redactedText: string } {
  const header = renderedBy ? `# rendered by ${renderedBy}\n` : ''
  return { text: header + manifestsText(objects), redactedText: header + manifestsText(objects.map(redactSecret)) }
}

/** The apply's own error, its input and file kept, saying what was applied before it failed. */
function withApplied(stop: Interruption, said: string): Error {
  const { error } = stop
  if (error instanceof UserError) return new UserError(error.problems.map(p => ({ ...p, message: `${p.message}${said}` })))
  return new Error(`${stoppedAt(stop)}: ${errorMessage(error)}${said}`, { cause: error })
}

/** The revision a workload runs now (undefined when it does not exist yet). */
async function revisionNow(api: KubeApi, workload: TrackedWorkload): Promise<number | undefined> {
  const live = await readWorkload(api, workload)
  return live ? currentRevisionNumber(live, await revisionsOf(api, live)) : undefined
}

function safeNamespace(request: DeployRequest): string {
  // EKS: no local kubeconfig to read, so the input or `default`.
  if (request.kubernetes.eksCluster) return 'default'
  try {
    return namespaceOf(loadKubeConfig(request.kubernetes), request.kubernetes)
  } catch {
    return 'default'
  }
}
