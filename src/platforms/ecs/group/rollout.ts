// Several services deployed in one step, followed as one rollout: one poll loop looks at every member
// at once (so their reads go out together, see batched-reads.ts), one deadline, one verdict. On failure
// only the members this run changed and that failed are rolled back, each through its own ownership
// check; a member another deploy superseded is reported and left alone; members that succeeded stay.
import { errorMessage } from '../../../errors.js'
import type { ObjectState, Rollout, ServiceResult, WaitContext, WaitOutcome } from '../../../rollout/platform.js'
import { pollRollout, type Observation } from '../../../rollout/poll-loop.js'
import type { Progress } from '../../../rollout/progress.js'
import { isNotOurs, type NotOurs } from '../../../rollout/ownership.js'
import { isRetryable } from '../../../rollout/retry.js'
import { shortArn } from '../assess.js'
import type { EcsRollout } from '../rollout.js'

/** One service of the group: its rollout (absent when its UpdateService was refused) and its row. */
export interface Member {
  service: string
  rollout?: EcsRollout
  /** Set once it ended (or when it never started); the group waits for the others. */
  outcome?: WaitOutcome
  /** The row in the summary and the `services` output, updated in place through the rollback. */
  row: ObjectState & { service: ServiceResult }
}

export function memberRow(service: string, revision: string, previousRevision: string): Member['row'] {
  return { ref: `service/${service}`, state: 'in progress', service: { service, status: 'in-progress', revision, previousRevision, deploymentId: '', serviceDeploymentArn: '' } }
}

const FAILED = new Set(['failed', 'timed-out', 'cancelled'])

export class GroupRollout implements Rollout {
  readonly revision: string
  readonly label: string
  readonly previousRevision?: string
  readonly outputs: Record<string, string>
  /** keep-revisions, per family: the previous revisions of every member stay. */
  afterSuccess?: (progress: Progress) => Promise<void>

  private readonly members: Member[]

  constructor(members: Member[], options: { revision: string; label: string; previousRevision?: string }) {
    this.members = members
    this.revision = options.revision
    this.label = options.label
    this.previousRevision = options.previousRevision
    this.outputs = { 'task-definition-arn': options.revision }
    for (const m of members) this.note(m)
  }

  /**
   * The rows, one per service. The same array every time, updated in place by the rollback that may
   * follow: the engine reads it once after the wait, the report after the rollback.
   */
  private readonly rows: ObjectState[] = []
  objects(): ObjectState[] {
    if (this.rows.length === 0) this.rows.push(...this.members.map(m => m.row))
    return this.rows
  }

  async wait(context: WaitContext): Promise<WaitOutcome> {
    const stopped = await pollRollout(() => this.look(context), context)
    // The deadline or a cancellation ended the wait: every member still in flight ends with it.
    for (const m of this.members) {
      if (!m.outcome) {
        m.outcome = stopped
        this.note(m)
      }
    }
    return this.verdict()
  }

  /** One look at every member still in flight, all at once: their reads share calls. */
  private async look(context: WaitContext): Promise<Observation> {
    const open = this.members.filter(m => !m.outcome && m.rollout)
    const looks = await Promise.all(open.map(async m => {
      try {
        const observation = await m.rollout!.observe(context)
        if (observation.outcome) {
          m.outcome = observation.outcome
          this.note(m)
        }
        return { m, observation }
      } catch (error) {
        // Throttling and 5xx slow the group's loop down; anything else ends this member only.
        if (isRetryable(error) || context.deadline.signal.aborted) throw error
        m.outcome = { state: 'failed', reason: `could not follow the rollout of service ${m.service}: ${errorMessage(error)}` }
        this.note(m)
        return { m, observation: { changed: true, nearlyDone: false, status: m.outcome.reason } as Observation }
      }
    }))
    const going = looks.filter(l => !l.observation.outcome && !l.m.outcome)
    if (going.length === 0) return { outcome: this.verdict(), changed: true, nearlyDone: true, status: 'all services ended' }
    const hints = going.map(l => l.observation.waitMs)
    return {
      changed: looks.some(l => l.observation.changed),
      nearlyDone: going.some(l => l.observation.nearlyDone),
      status: going.map(l => `${l.m.service}: ${l.observation.status}`).join('; '),
      // The soonest any member may change: a member baking for minutes must not slow the others.
      ...(hints.every(h => h !== undefined) ? { waitMs: Math.min(...(hints as number[])) } : {})
    }
  }

  /** One verdict for the group: all healthy, or which did not succeed and why. */
  private verdict(): WaitOutcome {
    const outcomes = this.members.map(m => ({ m, o: m.outcome! }))
    if (outcomes.every(({ o }) => o.state === 'succeeded')) {
      const notes = outcomes.flatMap(({ m, o }) => (o.state === 'succeeded' && o.note ? [`${m.service}: ${o.note}`] : []))
      return notes.length > 0 ? { state: 'succeeded', note: notes.join('; ') } : { state: 'succeeded' }
    }
    const bad = outcomes.filter(({ o }) => o.state !== 'succeeded')
    const reason = `${bad.length} of ${outcomes.length} services did not succeed: ${bad.map(({ m, o }) => `${m.service} ${o.state}${'reason' in o ? ` (${o.reason})` : ''}`).join('; ')}`
    const states = new Set(bad.map(({ o }) => o.state))
    if (states.has('cancelled')) return { state: 'cancelled', reason }
    if (states.has('failed')) return { state: 'failed', reason }
    if (states.has('timed-out')) return { state: 'timed-out', reason }
    if (states.has('superseded')) return { state: 'superseded', reason }
    return { state: 'paused', reason }
  }

  /** Copies what is known of a member into its row. */
  private note(m: Member): void {
    const r = m.row.service
    if (m.rollout) {
      r.deploymentId = m.rollout.outputs['deployment-id'] ?? ''
      r.serviceDeploymentArn = m.rollout.outputs['service-deployment-arn'] ?? ''
    }
    if (!m.outcome) return
    r.status = m.outcome.state
    if ('reason' in m.outcome) r.reason = m.outcome.reason
    m.row.state = m.outcome.state === 'succeeded' ? 'succeeded' : `${m.outcome.state}: ${'reason' in m.outcome ? m.outcome.reason : ''}`
  }

  /**
   * Rolls back the members that failed (ECS's own rollback where it already started one; else each
   * member's undo, which proves the service still ours right before the call). Superseded members and
   * those that succeeded are left as they are.
   */
  async undo(context: WaitContext): Promise<Rollout> {
    const restores: { m: Member; restore: Rollout; by: 'platform' | 'action' }[] = []
    const refused: NotOurs[] = []
    const errors: string[] = []
    for (const m of this.members) {
      const o = m.outcome
      if (!o || !FAILED.has(o.state) || !m.rollout) continue
      if ('platformRollback' in o && o.platformRollback) {
        restores.push({ m, restore: o.platformRollback, by: 'platform' })
        continue
      }
      try {
        restores.push({ m, restore: await m.rollout.undo(context), by: 'action' })
      } catch (error) {
        if (isNotOurs(error)) {
          refused.push(error)
          m.row.service.status = error.superseded ? 'superseded' : m.row.service.status
          m.row.state = `${o.state}; not rolled back: ${error.found}${error.owner ? ` (${error.owner})` : ''}`
        } else {
          errors.push(`${m.service}: ${errorMessage(error)}`)
          m.row.state = `${o.state}; could not roll back: ${errorMessage(error)}`
          m.row.service.status = 'rollback-failed'
        }
        if (context.deadline.signal.aborted) throw error
      }
    }
    if (restores.length === 0) {
      if (refused.length > 0) throw refused[0]
      throw new Error(errors.length > 0 ? errors.join('; ') : 'no service of the group was changed by this run, so there is nothing to roll back')
    }
    for (const { m, restore, by } of restores) {
      m.row.state = `${m.outcome!.state}; rolling back to ${shortArn(restore.revision)}${by === 'platform' ? ' (by ECS)' : ''}`
    }
    return new GroupRestore(restores)
  }
}

/** The rollbacks of a group's failed members, waited for together; each member's row says how it ended. */
class GroupRestore implements Rollout {
  readonly revision: string
  readonly label: string
  readonly outputs: Record<string, string> = {}

  private readonly restores: { m: Member; restore: Rollout; by: 'platform' | 'action' }[]

  constructor(restores: { m: Member; restore: Rollout; by: 'platform' | 'action' }[]) {
    this.restores = restores
    this.revision = [...new Set(restores.map(r => r.restore.revision))].join(',')
    this.label = restores.map(r => `${r.m.service} to ${r.restore.label ?? shortArn(r.restore.revision)}`).join(', ')
  }

  async wait(context: WaitContext): Promise<WaitOutcome> {
    const outcomes = await Promise.all(this.restores.map(async ({ m, restore }) => {
      const outcome = await restore.wait(context).catch((error: unknown): WaitOutcome => ({ state: 'failed', reason: errorMessage(error) }))
      const healthy = outcome.state === 'succeeded'
      m.row.service.status = healthy ? 'rolled-back' : outcome.state === 'superseded' ? 'superseded' : 'rollback-failed'
      m.row.state = healthy
        ? `${m.outcome!.state} (${m.row.service.reason ?? ''}); rolled back to ${shortArn(restore.revision)}, healthy`
        : `${m.outcome!.state}; the rollback to ${shortArn(restore.revision)} ended ${outcome.state}${'reason' in outcome ? `: ${outcome.reason}` : ''}`
      return { m, outcome }
    }))
    const bad = outcomes.filter(o => o.outcome.state !== 'succeeded')
    if (bad.length === 0) return { state: 'succeeded' }
    const reason = bad.map(({ m, outcome }) => `${m.service}: ${outcome.state}${'reason' in outcome ? ` (${outcome.reason})` : ''}`).join('; ')
    const first = bad[0]!.outcome.state
    return first === 'succeeded' || first === 'paused' ? { state: 'failed', reason } : { state: first, reason }
  }

  undo(): Promise<Rollout> {
    return Promise.reject(new Error('a rollback is not rolled back in turn'))
  }
}
