import type { KubernetesObject } from '@kubernetes/client-node'
import { ProblemList, UserError } from '../../errors.js'
import { isWorkload, objectName, type Manifest } from '../../render/manifests.js'
import type { KubeApi } from './client.js'
import { explainApiError } from './errors.js'
import { currentRevisionNumber, revisionsOf, type Workload } from './history.js'
import type { DiffPair } from './diff.js'
import type { TrackedWorkload } from './rollout.js'

export interface Validated {
  /** Each object as the server's dry run would store it, with the live one, for the diff. */
  pairs: DiffPair[]
  /** The workloads of the set, the target first, with the revision each runs now. */
  workloads: TrackedWorkload[]
}

/**
 * Checks the whole set against the server before anything changes: every kind is known, and a
 * server-side dry run of every object passes (schema, admission, namespace, conflicts). All
 * problems are reported together, each at its file:line; nothing is applied.
 */
export async function validateManifests(api: KubeApi, manifests: Manifest[], target: Manifest, namespace: string, options: { fieldManager: string; force: boolean }): Promise<Validated> {
  const problems = new ProblemList()
  const known: Manifest[] = []
  for (const manifest of manifests) {
    const { object, source } = manifest
    const resource = await api.resource(object.apiVersion, object.kind)
    if (!resource) {
      problems.add({ input: 'template', location: source.locate(['kind']), message: `the server knows no kind ${object.kind} in ${object.apiVersion}: check apiVersion and kind, or install its CustomResourceDefinition first` })
      continue
    }
    if (resource.namespaced) object.metadata.namespace = namespace
    known.push(manifest)
  }
  problems.throwIfAny()

  const pairs: DiffPair[] = []
  for (const { object, source } of known) {
    try {
      const after = await api.apply(object as KubernetesObject, { ...options, dryRun: true })
      pairs.push({ kind: object.kind, name: object.metadata.name, after, live: await api.read(object as KubernetesObject) })
    } catch (error) {
      const explained = explainApiError(error, `apply ${objectName(object)} (server dry run)`, source.locate([]))
      if (!(explained instanceof UserError)) throw explained
      // Keep the location of the document for errors that name no file (forbidden, conflicts ...).
      problems.add({ ...explained.problems[0], location: explained.problems[0].location ?? source.locate([]) })
    }
  }
  problems.throwIfAny()

  const workloads: TrackedWorkload[] = []
  for (const { object } of [target, ...known.filter(m => m !== target && isWorkload(m.object))]) {
    const live = pairs.find(p => p.kind === object.kind && p.name === object.metadata.name)?.live as Workload | undefined
    const previousRevision = live ? currentRevisionNumber(live, await revisionsOf(api, live)) : undefined
    workloads.push({ kind: object.kind, name: object.metadata.name, namespace, previousRevision })
  }
  return { pairs, workloads }
}
