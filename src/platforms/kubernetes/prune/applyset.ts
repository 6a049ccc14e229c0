// Pruning with an ApplySet, recorded as `kubectl apply --prune --applyset` records it (KEP-3659;
// kubectl's pkg/cmd/apply/applyset.go): a parent object (here a Secret named `<service>-applyset` in
// the deploy's namespace) carries the set's id label, the tooling annotation and the group-kinds its
// members may have; every member carries `applyset.kubernetes.io/part-of: <id>`. Before the apply the
// parent is widened to the old and new kinds together (an interrupted deploy leaks nothing); after a
// successful one, members the set no longer holds are deleted and the parent narrowed to the new
// kinds. Objects without our id (other sets, unlabelled objects) are never listed, so never touched;
// one that carries our id is deleted only when a read at that moment proves it ours (proof.ts)
// and the parent still carries this run's token (a newer deploy of the set prunes for itself).

import { createHash, randomUUID } from 'node:crypto'
import type { KubernetesObject } from '@kubernetes/client-node'
import { ProblemList, UserError, errorMessage } from '../../../errors.js'
import type { KubeObject, Manifest } from '../../../render/manifests.js'
import { ifOurs, isNotOurs, type Proof } from '../../../rollout/ownership.js'
import type { ObjectState } from '../../../rollout/platform.js'
import type { KubeApi, ObjectPrecondition } from '../api/client.js'
import { PART_OF, heldElsewhere, heldProblem, keptBecause, memberProof, type Adopt, type LiveMember, type PrunePolicy } from './proof.js'
import { groupKind } from '../readiness/kinds.js'

export { PART_OF }
export const PARENT_ID = 'applyset.kubernetes.io/id'
export const TOOLING = 'applyset.kubernetes.io/tooling'
export const GROUP_KINDS = 'applyset.kubernetes.io/contains-group-kinds'
export const ADDITIONAL_NAMESPACES = 'applyset.kubernetes.io/additional-namespaces'
/** `<toolname>/<version>`: kubectl refuses to change a set whose tooling name is not its own, as we do. */
const TOOL_NAME = 'deploy-service'
const TOOL_VALUE = `${TOOL_NAME}/v1`
/** On the parent: the token of the run that last applied the set. Only that run prunes (an older one that finishes later does not). */
export const RUN_TOKEN = 'deploy-service/run-token'
/** On the parent: the workflow run that wrote the token, to name it when another run finds it there. */
export const RUN_URL = 'deploy-service/run'

/** The server's answer when a delete's uid or resourceVersion precondition no longer holds. */
const PRECONDITION_FAILED = /the (ResourceVersion|UID) in the precondition .* does not match|Precondition failed/

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
  metadata: { labels?: Record<string, string>; annotations?: Record<string, string>; resourceVersion?: string }
}

type Member = LiveMember & { apiVersion: string; kind: string }

/** What pruning would delete, and what it leaves (with why). */
export interface PruneCandidates {
  members: Member[]
  /** `Kind/name: why`: members kept on purpose (a kind never pruned, an annotation, a claim not named) and kinds that can no longer be listed. */
  kept: string[]
  /** `Kind/name: what was found`: objects with our id that this set did not apply (a label copied onto them). */
  foreign: string[]
  /**
   * Kinds of members kept by an annotation or an unnamed claim: the parent keeps listing them, so a
   * later deploy sees them again (the annotation removed, the claim named in prune-volume-claims).
   */
  keptKinds: Set<string>
}

/** What a prune did: rows for the object table, what it kept and left alone, what failed, and why it did nothing at all. */
export interface PruneResult {
  rows: ObjectState[]
  kept: string[]
  foreign: string[]
  problems: string[]
  /** Set when the parent no longer carries this run's token: a newer deploy of the set prunes, not this one. */
  superseded?: string
}

export interface ApplySetOptions {
  /** This run's workflow run URL, written beside its token on the parent. */
  runUrl?: string
  policy?: PrunePolicy
}

export class ApplySet {
  readonly id: string
  readonly parentName: string
  private readonly api: KubeApi
  private readonly namespace: string
  /** The parent's own field manager. */
  private readonly fieldManager: string
  /** The members' field manager (the deploy's): its Apply entry owning the part-of label proves a member ours. */
  private readonly memberManager: string
  /** This run's token, written on the parent before the apply and checked before every prune deletion. */
  private readonly token = randomUUID()
  private readonly runUrl?: string
  private readonly policy: PrunePolicy
  /** The kinds the live parent lists (its members from earlier deploys may be any of them). */
  private previousKinds: string[] = []
  /** Discovery of each API group, asked once (the dry run, the apply and the prune all need it). */
  private readonly groupVersions = new Map<string, Promise<string[]>>()

  constructor(api: KubeApi, service: string, namespace: string, fieldManager: string, options: ApplySetOptions = {}) {
    this.api = api
    this.namespace = namespace
    this.fieldManager = `${fieldManager}-applyset`
    this.memberManager = fieldManager
    this.runUrl = options.runUrl
    this.policy = options.policy ?? { volumeClaims: [] }
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

  /**
   * Refuses, before anything changes, objects of the new set that another ApplySet holds (its id on
   * their part-of label), each named at its file with the other set's parent; `adopt` lets named
   * ones (or all) move into this set. Returns a line for each adopted one.
   */
  async refuseHeld(manifests: Manifest[], liveOf: (object: KubeObject) => LiveMember | undefined, adopt: Adopt): Promise<string[]> {
    const problems = new ProblemList()
    const adopted: string[] = []
    for (const held of heldElsewhere(manifests, liveOf, this.id, adopt)) {
      const parent = await this.parentOf(held.otherId)
      if (held.adopted) adopted.push(`adopting ${held.ref} (adopt) from ${parent ? `the ApplySet whose parent is ${parent}` : `ApplySet ${held.otherId}`}: it moves into this set, and that set will no longer prune it`)
      else problems.add(heldProblem(held, parent))
    }
    problems.throwIfAny()
    return adopted
  }

  /**
   * `refuseHeld` again, from reads made now: right before the apply, after the pre-deploy step (which
   * may take minutes, time for another set to take an object).
   */
  async refuseHeldNow(manifests: Manifest[], adopt: Adopt): Promise<void> {
    const live = new Map<KubeObject, LiveMember | undefined>()
    for (const { object } of manifests) live.set(object, await this.api.read<KubernetesObject & LiveMember>(object as KubernetesObject))
    await this.refuseHeld(manifests, object => live.get(object), adopt)
  }

  /** `Secret/web-applyset in namespace prod`: the parent of the set `id`, where a Secret of this kubeconfig's reach is one. */
  private async parentOf(id: string): Promise<string | undefined> {
    try {
      const found = await this.api.list<{ metadata: { name: string; namespace?: string } }>('/api/v1/secrets', { labelSelector: `${PARENT_ID}=${id}` })
      const parent = found.items[0]
      return parent ? `Secret/${parent.metadata.name} in namespace ${parent.metadata.namespace}` : undefined
    } catch {
      // Listing Secrets of every namespace may be forbidden: the id alone names the set then.
      return undefined
    }
  }

  /**
   * Writes the parent (server-side apply under its own field manager) listing `kinds`, with this run's
   * token. With `resourceVersion` the write happens only if the parent is still the one read then
   * (the server answers 409 otherwise, and nothing is written).
   */
  private async writeParent(kinds: string[], resourceVersion?: string): Promise<void> {
    const annotations: Record<string, string> = { [TOOLING]: TOOL_VALUE, [GROUP_KINDS]: [...new Set(kinds)].sort().join(','), [ADDITIONAL_NAMESPACES]: '', [RUN_TOKEN]: this.token }
    if (this.runUrl) annotations[RUN_URL] = this.runUrl
    const parent = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: this.parentName, namespace: this.namespace, labels: { [PARENT_ID]: this.id }, annotations, ...(resourceVersion ? { resourceVersion } : {}) }
    }
    try {
      await this.api.apply(parent, { fieldManager: this.fieldManager, force: false, dryRun: false })
    } catch (error) {
      if (resourceVersion) throw error
      // Only our own fields are in it: take them back as kubectl does (its parent update forces on conflict).
      if ((error as { code?: number }).code !== 409 && !/conflict/i.test(errorMessage(error))) throw error
      await this.api.apply(parent, { fieldManager: this.fieldManager, force: true, dryRun: false })
    }
  }

  /**
   * Before applying: the parent lists the old and new kinds together, so nothing can leak, and carries
   * this run's token: from now on an older run of the set that is still waiting prunes nothing.
   */
  async beforeApply(objects: KubeObject[]): Promise<void> {
    await this.writeParent([...this.previousKinds, ...objects.map(groupKindOf)])
  }

  /**
   * The parent, read now, still carries this run's token. Otherwise a newer deploy of the set applied
   * since (or the parent is gone): what it holds is its to prune, and this run prunes nothing.
   */
  private async parentProof(): Promise<Proof<string>> {
    const parent = await this.api.read<KubernetesObject & Parent>({ apiVersion: 'v1', kind: 'Secret', metadata: { name: this.parentName, namespace: this.namespace } })
    if (!parent) return { ours: false, found: `the ApplySet parent ${this.parentRef} is gone`, superseded: true }
    const annotations = parent.metadata.annotations ?? {}
    const token = annotations[RUN_TOKEN]
    if (token !== this.token || parent.metadata.labels?.[PARENT_ID] !== this.id) {
      const run = annotations[RUN_URL] && annotations[RUN_URL] !== this.runUrl ? ` by ${annotations[RUN_URL]}` : ''
      return {
        ours: false,
        found: `the ApplySet parent ${this.parentRef} now carries the run token of a deploy that applied the set after this one (${RUN_TOKEN}: ${token ?? '(none)'}${run})`,
        owner: 'that deploy prunes what its set no longer holds',
        superseded: true
      }
    }
    return { ours: true, precondition: parent.metadata.resourceVersion ?? '', evidence: `${this.parentRef} carries this run's token` }
  }

  /**
   * Members of the set, live, that `objects` (the set now) no longer holds and that this set applied
   * (proof.ts): objects that only carry a copy of our label are named in `foreign`, a
   * controller's children are left out silently, members kept on purpose are named in `kept`.
   */
  async candidates(objects: KubeObject[]): Promise<PruneCandidates> {
    const keep = new Set(objects.map(o => `${groupKindOf(o)}/${o.metadata.namespace ?? ''}/${o.metadata.name}`))
    const members: Member[] = []
    const kept: string[] = []
    const foreign: string[] = []
    const keptKinds = new Set<string>()
    const kinds = [...new Set([...this.previousKinds, ...objects.map(groupKindOf)])].sort()
    for (const groupKind of kinds) {
      const [kind, ...rest] = groupKind.split('.')
      const found = await this.collectionOf(kind, rest.join('.'), objects.filter(o => groupKindOf(o) === groupKind))
      if (!found) {
        kept.push(`${groupKind}: the server no longer serves this kind, so its members cannot be listed`)
        continue
      }
      const { apiVersion, collection } = found
      const listed = await this.api.list<LiveMember>(collection.path, { labelSelector: `${PART_OF}=${this.id}` })
      for (const item of listed.items) {
        const member: Member = { ...item, apiVersion, kind }
        const ref = `${kind}/${item.metadata.name}`
        if (keep.has(`${groupKind}/${collection.namespaced ? this.namespace : ''}/${item.metadata.name}`)) continue
        const proof = memberProof(item, ref, this.id, this.memberManager)
        if (!proof.ours) {
          // An operator may copy the set's labels onto a child it controls: the controller owns it, not us.
          if (!proof.controlled && !proof.gone) foreign.push(`${ref}: ${proof.found}${proof.owner ? ` (${proof.owner})` : ''}`)
          continue
        }
        if (NEVER_PRUNED.has(groupKind)) {
          kept.push(`${ref}: a ${kind} is never pruned (deleting it deletes what it holds); delete it yourself if it should go`)
          continue
        }
        const why = keptBecause(item, kind, this.policy)
        if (why) {
          kept.push(`${ref}: ${why}`)
          keptKinds.add(groupKind)
        } else members.push(member)
      }
    }
    return { members, kept, foreign, keptKinds }
  }

  /**
   * After a successful deploy: deletes the members the set no longer holds, then narrows the parent
   * to the kinds of the set. Nothing at all when the parent no longer carries this run's token (a
   * newer deploy of the set applied meanwhile). Each deletion is made through `ifOurs`: the parent
   * and the member are read again right before it, and the delete carries the member's uid and
   * resourceVersion as read. A member that could not be deleted keeps the parent wide, so the next
   * deploy tries again. What is kept on purpose is said: a CRD, a Namespace or a kind the server no
   * longer serves is then left out of the set; the kind of an annotated object or a claim not named
   * stays listed, so a later deploy looks at it again.
   */
  async prune(objects: KubeObject[]): Promise<PruneResult> {
    const before = await this.parentProof()
    if (!before.ours) return { rows: [], kept: [], foreign: [], problems: [], superseded: `${before.found}; ${before.owner}` }
    const { members, kept, foreign, keptKinds } = await this.candidates(objects)
    const rows: ObjectState[] = []
    const problems: string[] = []
    for (const member of members) {
      const ref = `${member.kind}/${member.metadata.name}`
      let superseded: string | undefined
      let gone = false
      const prove = async (): Promise<Proof<ObjectPrecondition>> => {
        const parent = await this.parentProof()
        if (!parent.ours) {
          superseded = `${parent.found}; ${parent.owner}`
          return parent
        }
        const live = await this.api.read<KubernetesObject & LiveMember>(member as KubernetesObject)
        const proof = memberProof(live, ref, this.id, this.memberManager)
        gone = proof.gone === true
        const why = proof.ours ? keptBecause(live!, member.kind, this.policy) : undefined
        if (why) keptKinds.add(groupKindOf(member))
        return why ? { ours: false, found: why } : proof
      }
      try {
        await ifOurs(`prune ${ref}`, prove, owned => this.api.delete(owned, member as KubernetesObject))
        rows.push({ ref, state: 'pruned' })
      } catch (error) {
        if (superseded) return { rows, kept, foreign, problems, superseded }
        if (gone) continue
        if (isNotOurs(error)) {
          kept.push(`${ref}: ${error.found}${error.owner ? ` (${error.owner})` : ''}`)
          continue
        }
        if (PRECONDITION_FAILED.test(errorMessage(error))) {
          // Written by someone between our read and the delete: not deleted; the next deploy looks again.
          kept.push(`${ref}: changed after the read that proved it ours (the server refused the delete on its uid and resourceVersion); the next deploy looks at it again`)
          keptKinds.add(groupKindOf(member))
          continue
        }
        rows.push({ ref, state: `not pruned: ${errorMessage(error)}` })
        problems.push(`could not prune ${ref}: ${errorMessage(error)}`)
      }
    }
    for (const line of kept) rows.push({ ref: line.slice(0, line.indexOf(':')), state: `not pruned: ${line.slice(line.indexOf(':') + 2)}` })
    if (problems.length === 0) {
      const narrowing = await this.narrow([...objects.map(groupKindOf), ...keptKinds])
      if (narrowing) return { rows, kept, foreign, problems, superseded: narrowing }
    }
    return { rows, kept, foreign, problems }
  }

  /**
   * Narrows the parent to `kinds` (the set's, and those of members kept on purpose), only while it still carries this run's token and is the
   * parent just read (resourceVersion): a newer deploy that widened it meanwhile keeps its kinds.
   * Returns why it did not, if it did not.
   */
  private async narrow(kinds: string[]): Promise<string | undefined> {
    const parent = await this.parentProof()
    if (!parent.ours) return `${parent.found}; its list of kinds was left as that deploy wrote it`
    try {
      await this.writeParent(kinds, parent.precondition)
      return undefined
    } catch (error) {
      // 409 with the resourceVersion we sent: the parent was written since our read.
      if (!/the object has been modified|precondition/i.test(errorMessage(error))) throw error
      return `the ApplySet parent ${this.parentRef} changed while this run pruned (another deploy of the set?); its list of kinds was left as it is`
    }
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
