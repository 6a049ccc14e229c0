import { objectDiff } from '../../../render/diff.js'
import { objectName } from '../../../render/manifests.js'
import { redactSecret } from './secrets.js'

// What the server writes itself: not part of what a user changes.
const SERVER_METADATA = ['managedFields', 'resourceVersion', 'uid', 'generation', 'creationTimestamp', 'selfLink']

/**
 * An object as a person compares it: no status, no server bookkeeping (the last-applied annotation and
 * managedFields may carry a Secret's values), and a Secret's values masked.
 */
export function comparable(object: unknown): unknown {
  if (!object || typeof object !== 'object') return object
  const copy = redactSecret(structuredClone(object)) as { status?: unknown; metadata?: Record<string, unknown> & { annotations?: Record<string, string> } }
  delete copy.status
  for (const key of SERVER_METADATA) delete copy.metadata?.[key]
  if (copy.metadata?.annotations) {
    delete copy.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']
    if (Object.keys(copy.metadata.annotations).length === 0) delete copy.metadata.annotations
  }
  return copy
}

export interface DiffPair {
  kind: string
  name: string
  live?: unknown
  /** The server's dry-run answer: the object as it would be stored. */
  after: unknown
}

/** What applying would do to each object: for the dry run's object table. */
export function dryRunStates(pairs: DiffPair[]): Array<{ ref: string; state: string }> {
  return pairs.map(pair => {
    const ref = `${pair.kind}/${pair.name}`
    if (!pair.live) return { ref, state: 'would be created' }
    return { ref, state: objectDiff(comparable(pair.live), comparable(pair.after), 'live', 'after') ? 'would change' : 'unchanged' }
  })
}

/** The diff of every object, live against the server's dry-run result; a line for unchanged ones. */
export function manifestDiff(pairs: DiffPair[]): string {
  const parts: string[] = []
  const unchanged: string[] = []
  for (const pair of pairs) {
    const name = objectName({ kind: pair.kind, metadata: { name: pair.name } })
    if (!pair.live) {
      parts.push(objectDiff({}, comparable(pair.after), `${name} (does not exist)`, `${name} (would be created)`))
      continue
    }
    const diff = objectDiff(comparable(pair.live), comparable(pair.after), `${name} (live)`, `${name} (after apply)`)
    if (diff) parts.push(diff)
    else unchanged.push(name)
  }
  const summary = unchanged.length ? `no change: ${unchanged.join(', ')}` : ''
  if (parts.length === 0) return `no change: the server's dry run equals the live objects (${unchanged.join(', ')})`
  return [...parts, summary].filter(Boolean).join('\n')
}

/** Every container of a workload's pod template, init containers first. */
export function containersOf(object: unknown): Array<{ name: string; image?: string }> {
  const spec = (object as { spec?: { template?: { spec?: { containers?: Array<{ name: string; image?: string }>; initContainers?: Array<{ name: string; image?: string }> } } } })?.spec?.template?.spec
  return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]
}

/** The containers whose image differs between two forms of a workload (a rollback's dry run). */
export function imageChanges(before: unknown, after: unknown) {
  const old = new Map(containersOf(before).map(c => [c.name, c.image ?? '']))
  return containersOf(after)
    .filter(c => old.get(c.name) !== c.image)
    .map(c => ({ container: c.name, previous: old.get(c.name) ?? '', next: c.image ?? '' }))
}
