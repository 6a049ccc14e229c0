// Pruning with an ApplySet, recorded as `kubectl apply --prune --applyset` records it (KEP-3659;
// kubectl's pkg/cmd/apply/applyset.go): a parent object (here a Secret named `<service>-applyset` in
// the deploy's namespace) carries the set's id label, the tooling annotation and the group-kinds its
// members may have; every member carries `applyset.kubernetes.io/part-of: <id>`. Before the apply the
// parent is widened to the old and new kinds together (an interrupted deploy leaks nothing); after a
// successful one, members the set no longer holds are deleted and the parent narrowed to the new
// kinds. Objects without our id (other sets, unlabelled objects) are never listed, so never touched.

import { createHash } from 'node:crypto'
import type { KubernetesObject } from '@kubernetes/client-node'
import { ProblemList, UserError, errorMessage } from '../../errors.js'
import type { KubeObject, Manifest } from '../../render/manifests.js'
import type { ObjectState } from '../../rollout/platform.js'
import type { Progress } from '../../rollout/progress.js'
import type { KubeApi } from './client.js'
import { groupKind } from './readiness.js'

export const PART_OF = 'applyset.kubernetes.io/part-of'
export const PARENT_ID = 'applyset.kubernetes.io/id'
export const TOOLING = 'applyset.kubernetes.io/tooling'
export const GROUP_KINDS = 'applyset.kubernetes.io/contains-group-kinds'
export const ADDITIONAL_NAMESPACES = 'applyset.kubernetes.io/additional-namespaces'
/** `<toolname>/<version>`: kubectl refuses to change a set whose tooling name is not its own, as we do. */
const TOOL_NAME = 'deploy-service'
const TOOL_VALUE = `${TOOL_NAME}/v1`

/**
 * Kinds never pruned, whatever the set says: deleting a CustomResourceDefinition deletes every custom
 * resource of its kind in the cluster, deleting a Namespace everything in it.
 */
const NEVER_PRUNED = new Set(['CustomResourceDefinition.apiextensions.k8s.io', 'Namespace'])

/** The ApplySet id of a parent, as kubectl computes it: base64url(sha256(<name>.<namespace>.<kind>.<group>)). */
export function applySetId(parent: { name: string; namespace: string; kind: string; group: string }): string {
  const hash = createHash('sha256').update([parent.name, parent.namespace, parent.kind, parent.group].join('.')).digest('base64url')
  return `applyset-${hash}-v1`
}

/** `Deployment.apps`, `ConfigMap` (core group): a group-kind as the annotation writes it (kubectl's format). */
export function groupKindOf(object: { apiVersion: string; kind: string }): string {
  return groupKind(object.apiVersion, object.kind)
}

interface Parent {
  metadata: { labels?: Record<string, string>; annotations?: Record<string, string> }
}

interface Member {
  apiVersion: string
  kind: string
  metadata: { name: string; namespace?: string; uid?: string; ownerReferences?: Array<{ controller?: boolean }> }
}

/** What pruning would delete, and what it leaves (with why). */
export interface PruneCandidates {
  members: Member[]
  /** Members of kinds never pruned, and kinds that can no longer be listed. */
  kept: string[]
}

export class ApplySet {
  readonly id: string
  readonly parentName: string
  private readonly api: KubeApi
  private readonly namespace: string
  private readonly fieldManager: string
  /** The kinds the live parent lists (its members from earlier deploys may be any of them). */
  private previousKinds: string[] = []
  /** Discovery of each API group, asked once (the dry run, the apply and the prune all need it). */
  private readonly groupVersions = new Map<string, Promise<string[]>>()

  constructor(api: KubeApi, service: string, namespace: string, fieldManager: string) {
    this.api = api
    this.namespace = namespace
    this.fieldManager = `${fieldManager}-applyset`
    this.parentName = `${service}-applyset`
    this.id = applySetId({ name: this.parentName, namespace, kind: 'Secret', group: '' })
  }

  /** `Secret/web-applyset`, for messages. */
  get parentRef(): string {
    return `Secret/${this.parentName}`
  }

  /**
   * Puts our part-of label on every object of the set (before the server dry run, so the diff shows
   * it). An object that already names another set is an error at its file: it would change sets.
   */
  label(manifests: Manifest[]): void {
    const problems = new ProblemList()
    for (const { object, source } of manifests) {
      const labels = (object.metadata.labels ??= {})
      const given = labels[PART_OF]
      if (given !== undefined && given !== this.id) {
        problems.add({ input: 'template', location: source.locate(['metadata', 'labels', PART_OF]), message: `sets label ${PART_OF}: ${given}; with prune the set labels its objects itself (${this.id}): remove the label` })
        continue
      }
      labels[PART_OF] = this.id
    }
    problems.throwIfAny()
  }

  /**
   * Reads the live parent: none yet (a first deploy with prune), or one of ours. A Secret of that name
   * that is not our ApplySet's parent stops the deploy before anything changes.
   */
  async readParent(): Promise<void> {
    const parent = await this.api.read<KubernetesObject & Parent>({ apiVersion: 'v1', kind: 'Secret', metadata: { name: this.parentName, namespace: this.namespace } })
    if (!parent) return
    const where = `${this.parentRef} in namespace ${this.namespace}`
    const tooling = parent.metadata.annotations?.[TOOLING]
    if (tooling === undefined) {
      throw new UserError({ input: 'prune', message: `${where} exists but is not an ApplySet parent (no ${TOOLING} annotation); deploy-service keeps its prune records there: rename that Secret, or set prune: false` })
    }
    const tool = tooling.includes('/') ? tooling.slice(0, tooling.lastIndexOf('/')) : tooling
    if (tool !== TOOL_NAME) throw new UserError({ input: 'prune', message: `${where} is the parent of an ApplySet managed by ${tool}, not deploy-service: never changed here; set prune: false or rename the service` })
    if (parent.metadata.labels?.[PARENT_ID] !== this.id) {
      throw new UserError({ input: 'prune', message: `${where} has ${PARENT_ID}: ${parent.metadata.labels?.[PARENT_ID] ?? '(none)'}, not ${this.id}: it was not written by deploy-service for this namespace; delete it or set prune: false` })
    }
    const kinds = parent.metadata.annotations?.[GROUP_KINDS] ?? ''
    this.previousKinds = kinds.split(',').filter(Boolean)
  }

  /** Writes the parent (server-side apply under its own field manager) listing `kinds`. */
  private async writeParent(kinds: string[]): Promise<void> {
    const parent = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: this.parentName,
        namespace: this.namespace,
        labels: { [PARENT_ID]: this.id },
        annotations: { [TOOLING]: TOOL_VALUE, [GROUP_KINDS]: [...new Set(kinds)].sort().join(','), [ADDITIONAL_NAMESPACES]: '' }
      }
    }
    try {
      await this.api.apply(parent, { fieldManager: this.fieldManager, force: false, dryRun: false })
    } catch (error) {
      // Only our own fields are in it: take them back as kubectl does (its parent update forces on conflict).
      if ((error as { code?: number }).code !== 409 && !/conflict/i.test(errorMessage(error))) throw error
      await this.api.apply(parent, { fieldManager: this.fieldManager, force: true, dryRun: false })
    }
  }

  /** Before applying: the parent lists the old and new kinds together, so nothing can leak. */
  async beforeApply(objects: KubeObject[]): Promise<void> {
    await this.writeParent([...this.previousKinds, ...objects.map(groupKindOf)])
  }

  /** Members of the set, live, that `objects` (the set now) no longer holds. */
  async candidates(objects: KubeObject[]): Promise<PruneCandidates> {
    const keep = new Set(objects.map(o => `${groupKindOf(o)}/${o.metadata.namespace ?? ''}/${o.metadata.name}`))
    const members: Member[] = []
    const kept: string[] = []
    const kinds = [...new Set([...this.previousKinds, ...objects.map(groupKindOf)])].sort()
    for (const groupKind of kinds) {
      const [kind, ...rest] = groupKind.split('.')
      const found = await this.collectionOf(kind, rest.join('.'), objects.filter(o => groupKindOf(o) === groupKind))
      if (!found) {
        kept.push(`${groupKind}: the server no longer serves this kind, so its members cannot be listed`)
        continue
      }
      const { apiVersion, collection } = found
      const listed = await this.api.list<Member>(collection.path, { labelSelector: `${PART_OF}=${this.id}` })
      for (const item of listed.items) {
        const member = { ...item, apiVersion, kind }
        if (keep.has(`${groupKind}/${collection.namespaced ? this.namespace : ''}/${item.metadata.name}`)) continue
        // An operator may copy the set's labels onto a child it controls: the controller owns it, not us.
        if (item.metadata.ownerReferences?.some(reference => reference.controller === true)) continue
        if (NEVER_PRUNED.has(groupKind)) kept.push(`${kind}/${item.metadata.name}: a ${kind} is never pruned (deleting it deletes what it holds); delete it yourself if it should go`)
        else members.push(member)
      }
    }
    return { members, kept }
  }

  /**
   * After a successful deploy: deletes the members the set no longer holds, then narrows the parent
   * to the kinds of the set. A member that could not be deleted keeps the parent wide, so the next
   * deploy tries again. What is kept on purpose (a CRD, a Namespace, a kind the server no longer
   * serves, whose objects went with it) is said once, then left out of the set. Returns each member's
   * row for the object table, what was kept, and the deletions that failed.
   */
  async prune(objects: KubeObject[]): Promise<{ rows: ObjectState[]; kept: string[]; problems: string[] }> {
    const { members, kept } = await this.candidates(objects)
    const rows: ObjectState[] = []
    const problems: string[] = []
    for (const member of members) {
      const ref = `${member.kind}/${member.metadata.name}`
      try {
        await this.api.delete(member as KubernetesObject, { uid: member.metadata.uid })
        rows.push({ ref, state: 'pruned' })
      } catch (error) {
        rows.push({ ref, state: `not pruned: ${errorMessage(error)}` })
        problems.push(`could not prune ${ref}: ${errorMessage(error)}`)
      }
    }
    for (const line of kept) rows.push({ ref: line.slice(0, line.indexOf(':')), state: `not pruned: ${line.slice(line.indexOf(':') + 2)}` })
    if (problems.length === 0) await this.writeParent(objects.map(groupKindOf))
    return { rows, kept, problems }
  }

  /**
   * Where a kind's members are listed: at the apiVersion the set itself uses for it (no discovery
   * needed), else at the first version of its group that serves the kind, the preferred one first (a
   * kind of an earlier set may be served only in a version that is not the group's preferred one).
   */
  private async collectionOf(kind: string, group: string, inSet: KubeObject[]): Promise<{ apiVersion: string; collection: { path: string; namespaced: boolean } } | undefined> {
    for (const apiVersion of new Set(inSet.map(o => o.apiVersion))) {
      const collection = await this.api.collectionPath(apiVersion, kind, this.namespace)
      if (collection) return { apiVersion, collection }
    }
    for (const apiVersion of await this.versionsOf(group)) {
      const collection = await this.api.collectionPath(apiVersion, kind, this.namespace)
      if (collection) return { apiVersion, collection }
    }
    return undefined
  }

  /** The versions an API group is served in, preferred first (`v1` for the core group), asked once per group. */
  private versionsOf(group: string): Promise<string[]> {
    if (group === '') return Promise.resolve(['v1'])
    let versions = this.groupVersions.get(group)
    if (!versions) {
      versions = this.api.get<{ preferredVersion?: { groupVersion?: string }; versions?: Array<{ groupVersion?: string }> }>(`/apis/${group}`).then(answer => {
        const listed = [answer?.preferredVersion?.groupVersion, ...(answer?.versions ?? []).map(v => v.groupVersion)]
        return [...new Set(listed.filter((v): v is string => Boolean(v)))]
      })
      this.groupVersions.set(group, versions)
      // A failed discovery (server away) is asked again next time.
      versions.catch(() => this.groupVersions.delete(group))
    }
    return versions
  }
}

/**
 * The housekeeping step that prunes after a successful deploy: once the new set is healthy, or, with
 * wait: false, right after the apply (as `kubectl apply --prune` does; nothing was waited for, so
 * nothing is known of its health). Each deletion is logged and put in the object table (`record`);
 * problems throw once all were tried, so the engine reports them as warnings (the deploy itself
 * succeeded, and what is left over is named).
 */
export function pruneAfterSuccess(applySet: ApplySet, objects: KubeObject[], record: (rows: ObjectState[]) => void): (progress: Progress) => Promise<void> {
  return async progress => {
    const { rows, kept, problems } = await applySet.prune(objects)
    record(rows)
    for (const line of kept) progress.step(`prune: kept ${line}`)
    const pruned = rows.filter(r => r.state === 'pruned').map(r => r.ref)
    progress.step(pruned.length ? `pruned (no longer in the set, ApplySet ${applySet.parentRef}): ${pruned.join(', ')}` : `prune: nothing to delete (ApplySet ${applySet.parentRef})`)
    if (problems.length) throw new Error(`pruning left objects behind: ${problems.join('; ')}`)
  }
}

/** The dry run's lines: what a successful deploy would prune; `record` gets the object table's rows. */
export async function prunePreview(applySet: ApplySet, objects: KubeObject[], record: (rows: ObjectState[]) => void = () => {}): Promise<string> {
  const { members, kept } = await applySet.candidates(objects)
  record([
    ...members.map(m => ({ ref: `${m.kind}/${m.metadata.name}`, state: 'would be pruned' })),
    ...kept.map(line => ({ ref: line.slice(0, line.indexOf(':')), state: `would not be pruned: ${line.slice(line.indexOf(':') + 2)}` }))
  ])
  const lines = members.map(m => `- ${m.kind}/${m.metadata.name} (would be pruned: no longer in the set; ApplySet ${applySet.parentRef})`)
  for (const line of kept) lines.push(`  ${line} (would not be pruned)`)
  return lines.length ? lines.join('\n') : `prune: nothing would be deleted (ApplySet ${applySet.parentRef})`
}
