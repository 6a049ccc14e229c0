// The prune steps of a deploy with an ApplySet (applyset.ts): after a healthy new set, later (wait:
// false), and the dry run's preview.
import type { KubeObject } from '../../../render/manifests.js'
import type { ObjectState } from '../../../rollout/platform.js'
import type { Progress } from '../../../rollout/progress.js'
import type { ApplySet } from './applyset.js'

/**
 * The housekeeping step that prunes after a deploy whose new set is healthy. Each deletion is logged
 * and put in the object table (`record`); problems throw once all were tried, so the engine reports
 * them as warnings (the deploy itself succeeded, and what is left over is named). When a newer deploy
 * of the set applied after this one, nothing is pruned, and the log says so.
 */
export function pruneAfterSuccess(applySet: ApplySet, objects: KubeObject[], record: (rows: ObjectState[]) => void): (progress: Progress) => Promise<void> {
  return async progress => {
    const { rows, kept, foreign, problems, superseded } = await applySet.prune(objects)
    record(rows)
    for (const line of kept) progress.step(`prune: kept ${line}`)
    for (const line of foreign) progress.step(`prune: left alone ${line}`)
    const pruned = rows.filter(r => r.state === 'pruned').map(r => r.ref)
    if (pruned.length) progress.step(`pruned (no longer in the set, ApplySet ${applySet.parentRef}): ${pruned.join(', ')}`)
    if (superseded) progress.step(`prune: ${pruned.length ? 'stopped' : 'nothing pruned'} by this run: ${superseded}`)
    else if (!pruned.length) progress.step(`prune: nothing to delete (ApplySet ${applySet.parentRef})`)
    if (problems.length) throw new Error(`pruning left objects behind: ${problems.join('; ')}`)
  }
}

/**
 * With wait: false nothing is known of the new set's health, and what it dropped (an old hashed
 * ConfigMap) may still be used by the running pods and by a rollback: pruning waits for the next
 * deploy of the set that waits and succeeds (the parent keeps listing the old kinds meanwhile).
 * Says what that deploy would prune.
 */
export function pruneLater(applySet: ApplySet, objects: KubeObject[]): (progress: Progress) => Promise<void> {
  return async progress => {
    const { members } = await applySet.candidates(objects)
    const names = members.map(m => `${m.kind}/${m.metadata.name}`)
    progress.step(
      `prune: not now (wait: false: the new set's health is unknown, and what it dropped may still be used by running pods or a rollback); the next successful deploy that waits prunes ${names.length ? names.join(', ') : 'what the set no longer holds'} (ApplySet ${applySet.parentRef})`
    )
  }
}

/**
 * The dry run's lines: what a successful deploy would prune (with wait: false, the next one that
 * waits); `record` gets the object table's rows.
 */
export async function prunePreview(applySet: ApplySet, objects: KubeObject[], record: (rows: ObjectState[]) => void = () => {}, options: { wait?: boolean } = {}): Promise<string> {
  const { members, kept, foreign } = await applySet.candidates(objects)
  const later = options.wait === false
  const would = later ? 'would be pruned by the next successful deploy that waits (wait: false prunes nothing)' : 'would be pruned'
  record([
    ...members.map(m => ({ ref: `${m.kind}/${m.metadata.name}`, state: would })),
    ...kept.map(line => ({ ref: line.slice(0, line.indexOf(':')), state: `would not be pruned: ${line.slice(line.indexOf(':') + 2)}` }))
  ])
  const lines = members.map(m => `- ${m.kind}/${m.metadata.name} (${would}: no longer in the set; ApplySet ${applySet.parentRef})`)
  for (const line of kept) lines.push(`  ${line} (would not be pruned)`)
  for (const line of foreign) lines.push(`  ${line} (not this set's: left alone)`)
  return lines.length ? lines.join('\n') : `prune: nothing would be deleted (ApplySet ${applySet.parentRef})`
}
