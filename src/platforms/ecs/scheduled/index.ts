// `update-scheduled-tasks`: the EventBridge rules and EventBridge Scheduler schedules whose ECS target
// runs this service's family in this cluster follow the service to the revision a successful, verified
// deploy (or `mode: rollback`) put in place. Each is found, then moved only after a read made right
// before its PutTargets / UpdateSchedule proves it still runs the revision this run replaced (ifOurs):
// one that someone moved elsewhere meanwhile, or pinned to another revision on purpose, is theirs.
import type { Target } from '@aws-sdk/client-eventbridge'
import type { UpdateScheduleCommandInput } from '@aws-sdk/client-scheduler'
import { errorMessage } from '../../../errors.js'
import { ifOurs, isNotOurs, type Owned, type Proof } from '../../../rollout/ownership.js'
import type { ObjectState } from '../../../rollout/platform.js'
import type { Progress } from '../../../rollout/progress.js'
import { shortArn } from '../assess.js'
import { ScheduledTasksApi, type Schedule, type ScheduledTaskRead } from './client.js'

export { ScheduledTasksApi } from './client.js'

/** The move of one deploy: the cluster, the revision it replaced (`from`) and the one it put in place (`to`). */
export interface ScheduledTasksMove {
  clusterArn: string
  from: string
  to: string
}

/** One found scheduled task: what it is, and how to read it again and move it. */
export interface Found {
  ref: string
  taskDefinition: string
  /** Reads it now: the task definition it runs and the cluster it targets, or undefined when it is gone. */
  read(): Promise<{ taskDefinition?: string; cluster?: string } | undefined>
  /** The move itself to `to`, of the target as just read. */
  move(owned: Owned<ScheduledTaskRead>, to: string): Promise<void>
}

/** A rule or schedule deleted since it was found (ResourceNotFoundException): nothing to move, not a failure. */
async function gone<T>(read: Promise<T>): Promise<T | undefined> {
  return read.catch((error: unknown) => {
    if (((error as Error).cause as { name?: string } | undefined)?.name === 'ResourceNotFoundException') return undefined
    throw error
  })
}

/** `web:7` -> `web`; a family-only ARN (no revision) stays the family. */
export function familyOf(taskDefinition: string): string {
  return shortArn(taskDefinition).replace(/:\d+$/, '')
}

/** Whether the task definition names a revision (`web:7`), not only a family (which runs the latest ACTIVE one). */
function hasRevision(taskDefinition: string): boolean {
  return /:\d+$/.test(shortArn(taskDefinition))
}

/**
 * The rules' ECS targets and the schedules that target `clusterArn` and run `family`, each with what
 * it runs now. Found is not yet moved: `moveScheduledTasks` reads each again right before its call.
 */
export async function findScheduledTasks(api: ScheduledTasksApi, clusterArn: string, family: string): Promise<Found[]> {
  return [...(await findRuleTargets(api, clusterArn, family)), ...(await findSchedules(api, clusterArn, family))]
}

/** The ECS targets of EventBridge rules that run `family` in `clusterArn`. */
async function findRuleTargets(api: ScheduledTasksApi, clusterArn: string, family: string): Promise<Found[]> {
  const found: Found[] = []
  for (const { rule, target } of await api.ruleTargets(clusterArn)) {
    const taskDefinition = target.EcsParameters?.TaskDefinitionArn
    if (!taskDefinition || familyOf(taskDefinition) !== family) continue
    const ref = `rule/${rule} (target ${target.Id})`
    let latest: Target | undefined
    found.push({
      ref,
      taskDefinition,
      read: async () => {
        latest = (await gone(api.targetsOf(rule)))?.find(t => t.target.Id === target.Id)?.target
        return latest && { taskDefinition: latest.EcsParameters?.TaskDefinitionArn, cluster: latest.Arn }
      },
      // Everything as just read, only the task definition changed: PutTargets replaces the target whole.
      move: (owned, to) => api.putTarget(owned, rule, { ...latest!, EcsParameters: { ...latest!.EcsParameters, TaskDefinitionArn: to } })
    })
  }
  return found
}

/** The EventBridge Scheduler schedules (every group) that run `family` in `clusterArn`. */
async function findSchedules(api: ScheduledTasksApi, clusterArn: string, family: string): Promise<Found[]> {
  const found: Found[] = []
  for (const schedule of await api.schedulesOf(clusterArn)) {
    const taskDefinition = schedule.Target?.EcsParameters?.TaskDefinitionArn
    if (!taskDefinition || familyOf(taskDefinition) !== family) continue
    const group = schedule.GroupName ?? 'default'
    let latest: Schedule | undefined
    found.push({
      ref: `schedule/${group}/${schedule.Name}`,
      taskDefinition,
      read: async () => {
        latest = await gone(api.schedule(group, schedule.Name!))
        return latest && { taskDefinition: latest.Target?.EcsParameters?.TaskDefinitionArn, cluster: latest.Target?.Arn }
      },
      move: (owned, to) => api.updateSchedule(owned, updateInput(latest!, to))
    })
  }
  return found
}

/**
 * UpdateSchedule replaces the whole schedule: every field GetSchedule gave is carried unchanged, only
 * the ECS target's task definition is new. A field left out would be reset (a DISABLED schedule
 * enabled, its time zone back to UTC, its end date dropped).
 */
export function updateInput(schedule: Schedule, taskDefinition: string): UpdateScheduleCommandInput {
  const target = schedule.Target!
  return {
    Name: schedule.Name,
    GroupName: schedule.GroupName,
    ScheduleExpression: schedule.ScheduleExpression,
    ScheduleExpressionTimezone: schedule.ScheduleExpressionTimezone,
    StartDate: schedule.StartDate,
    EndDate: schedule.EndDate,
    Description: schedule.Description,
    State: schedule.State,
    KmsKeyArn: schedule.KmsKeyArn,
    FlexibleTimeWindow: schedule.FlexibleTimeWindow,
    ActionAfterCompletion: schedule.ActionAfterCompletion,
    Target: { ...target, EcsParameters: { ...target.EcsParameters!, TaskDefinitionArn: taskDefinition } }
  } as UpdateScheduleCommandInput
}

/**
 * Moves every scheduled task found that still runs `from` to `to`, each after a fresh read (ifOurs).
 * Returns a row per scheduled task of the family, for the summary. Never throws for one scheduled
 * task: a failed call is a warning (the deploy it follows succeeded and stays succeeded).
 */
export async function moveScheduledTasks(api: ScheduledTasksApi, move: ScheduledTasksMove, progress: Progress, found?: Found[]): Promise<ObjectState[]> {
  const family = familyOf(move.to)
  // Rules and schedules are found apart: a role allowed one API and not the other still moves what it may.
  const search = async (what: string, find: () => Promise<Found[]>): Promise<Found[]> => find().catch((error: unknown) => {
    progress.reason(`update-scheduled-tasks: the ${what} of ${family} could not be found, so none was moved (the deploy itself succeeded; move them by hand): ${errorMessage(error)}`)
    return []
  })
  const tasks = found ?? [
    ...(await search('EventBridge rules', () => findRuleTargets(api, move.clusterArn, family))),
    ...(await search('EventBridge Scheduler schedules', () => findSchedules(api, move.clusterArn, family)))
  ]
  if (tasks.length === 0) {
    progress.step(`update-scheduled-tasks: no EventBridge rule or schedule runs ${family} in cluster ${shortArn(move.clusterArn)}`)
    return []
  }
  const rows: ObjectState[] = []
  for (const task of tasks) {
    const row = (state: string): void => {
      rows.push({ ref: task.ref, state })
    }
    if (!hasRevision(task.taskDefinition)) {
      row(`left alone: names the family ${family} without a revision, so it runs the latest ACTIVE revision already`)
      continue
    }
    const action = `move ${task.ref} from ${shortArn(move.from)} to ${shortArn(move.to)}`
    try {
      await ifOurs(action, () => proveRunsReplaced(task, move), owned => task.move(owned, move.to))
      progress.step(`scheduled task ${task.ref} moved from ${shortArn(move.from)} to ${shortArn(move.to)}`)
      row(`moved from ${shortArn(move.from)} to ${shortArn(move.to)}`)
    } catch (error) {
      if (isNotOurs(error)) {
        progress.step(`scheduled task ${task.ref} left alone: ${error.found}`)
        row(`left alone: ${error.found}`)
      } else {
        progress.reason(`scheduled task ${task.ref} was not moved to ${shortArn(move.to)} (the deploy itself succeeded; move it by hand): ${errorMessage(error)}`)
        row(`not moved: ${errorMessage(error)}`)
      }
    }
  }
  return rows
}

/** The fresh read before a move: it still targets this cluster and runs exactly the revision this run replaced. */
async function proveRunsReplaced(task: Found, move: ScheduledTasksMove): Promise<Proof<ScheduledTaskRead>> {
  const now = await task.read()
  if (!now) return { ours: false, found: `${task.ref} is gone` }
  if (now.cluster !== move.clusterArn) return { ours: false, found: `${task.ref} now targets ${now.cluster ?? 'nothing'}, not cluster ${shortArn(move.clusterArn)}` }
  const runs = now.taskDefinition ?? ''
  if (shortArn(runs) !== shortArn(move.from)) {
    const other = familyOf(runs) !== familyOf(move.from) ? 'another family' : 'another revision'
    return { ours: false, found: `${task.ref} runs ${shortArn(runs) || 'no task definition'} (${other}), not ${shortArn(move.from)} that this run replaced: someone else set it, so it is theirs` }
  }
  return { ours: true, precondition: { ref: task.ref, taskDefinition: runs }, evidence: `${task.ref} still runs ${shortArn(runs)}, the revision this run replaced` }
}
