// The EventBridge and EventBridge Scheduler calls that move an ECS service's scheduled tasks to a new
// revision. Loaded only with `update-scheduled-tasks: true` (a dynamic import in ../rollout.ts), so a
// plain deploy never parses either SDK client.
import { EventBridgeClient, ListRuleNamesByTargetCommand, ListTargetsByRuleCommand, PutTargetsCommand, type EventBridgeClientConfig, type Target } from '@aws-sdk/client-eventbridge'
import { GetScheduleCommand, ListSchedulesCommand, SchedulerClient, UpdateScheduleCommand, type GetScheduleCommandOutput, type SchedulerClientConfig, type UpdateScheduleCommandInput } from '@aws-sdk/client-scheduler'
import { errorMessage } from '../../../errors.js'
import type { Owned } from '../../../rollout/ownership.js'
import { retry } from '../../../rollout/retry.js'
import { AWS_CLIENT_BOUNDS, ECS_RETRY } from '../client.js'

/** One ECS target of an EventBridge rule (default event bus), as ListTargetsByRule answered it. */
export interface RuleTarget {
  rule: string
  target: Target
}

/** One schedule, as GetSchedule answered it. */
export type Schedule = Omit<GetScheduleCommandOutput, '$metadata'>

/** What a PutTargets / UpdateSchedule carries: the target as read right before the call. */
export interface ScheduledTaskRead {
  /** `rule/nightly (target 1)`, `schedule/default/report`. */
  ref: string
  /** The task definition it ran when read. */
  taskDefinition: string
}

/**
 * The calls, each bounded like every AWS client of the action (connect, request; no SDK retry of its
 * own) and retried by the one policy (ECS_RETRY): throttling, 5xx and dropped connections. Both writes
 * are idempotent (the same whole target or schedule again), so a retry after an ambiguous failure
 * cannot do more than the first try meant to. Region, credentials and endpoints
 * (AWS_ENDPOINT_URL_EVENTBRIDGE, AWS_ENDPOINT_URL_SCHEDULER) come from the standard AWS chain unless given.
 */
export class ScheduledTasksApi {
  readonly events: EventBridgeClient
  readonly scheduler: SchedulerClient
  private readonly signal?: AbortSignal

  constructor(config: { events?: EventBridgeClientConfig; scheduler?: SchedulerClientConfig } = {}, signal?: AbortSignal) {
    this.events = new EventBridgeClient({ ...AWS_CLIENT_BOUNDS, ...config.events })
    this.scheduler = new SchedulerClient({ ...AWS_CLIENT_BOUNDS, ...config.scheduler })
    this.signal = signal
  }

  /**
   * The targets of the rules on the default event bus that point at `clusterArn`. ListRuleNamesByTarget
   * finds those rules directly (a schedule expression lives only on the default bus), so the calls grow
   * with the rules that target this cluster, not with every rule of the account.
   */
  async ruleTargets(clusterArn: string): Promise<RuleTarget[]> {
    const names: string[] = []
    let token: string | undefined
    do {
      const page = await this.call(`list the EventBridge rules that target cluster ${clusterArn}`, abortSignal =>
        this.events.send(new ListRuleNamesByTargetCommand({ TargetArn: clusterArn, NextToken: token }), { abortSignal }))
      names.push(...(page.RuleNames ?? []))
      token = page.NextToken
    } while (token)
    const found: RuleTarget[] = []
    for (const rule of names) found.push(...(await this.targetsOf(rule)).filter(t => t.target.Arn === clusterArn))
    return found
  }

  /** Every target of one rule (all pages): read again right before a PutTargets. */
  async targetsOf(rule: string): Promise<RuleTarget[]> {
    const targets: RuleTarget[] = []
    let token: string | undefined
    do {
      const page = await this.call(`list the targets of EventBridge rule ${rule}`, abortSignal =>
        this.events.send(new ListTargetsByRuleCommand({ Rule: rule, NextToken: token }), { abortSignal }))
      targets.push(...(page.Targets ?? []).map(target => ({ rule, target })))
      token = page.NextToken
    } while (token)
    return targets
  }

  /** PutTargets of the whole target as read, with its new task definition: only with the proof it still runs ours. */
  async putTarget(owned: Owned<ScheduledTaskRead>, rule: string, target: Target): Promise<void> {
    const answer = await this.call(`update ${owned.precondition.ref}`, abortSignal =>
      this.events.send(new PutTargetsCommand({ Rule: rule, Targets: [target] }), { abortSignal }))
    // PutTargets answers 200 with the entries it refused: that is a failure too.
    const failed = answer.FailedEntries?.[0]
    if ((answer.FailedEntryCount ?? 0) > 0 || failed) {
      throw new Error(`could not update ${owned.precondition.ref}: EventBridge refused it (${failed?.ErrorCode ?? 'error'}: ${failed?.ErrorMessage ?? 'no message'})`)
    }
  }

  /** Every schedule of every group whose target is `clusterArn` (ListSchedules gives the target's ARN only), each read whole. */
  async schedulesOf(clusterArn: string): Promise<Schedule[]> {
    const found: Schedule[] = []
    let token: string | undefined
    do {
      const page = await this.call('list the EventBridge Scheduler schedules', abortSignal =>
        this.scheduler.send(new ListSchedulesCommand({ NextToken: token }), { abortSignal }))
      for (const summary of page.Schedules ?? []) {
        if (summary.Target?.Arn !== clusterArn || !summary.Name) continue
        found.push(await this.schedule(summary.GroupName ?? 'default', summary.Name))
      }
      token = page.NextToken
    } while (token)
    return found
  }

  /** One schedule, whole: read again right before an UpdateSchedule. */
  async schedule(group: string, name: string): Promise<Schedule> {
    const { $metadata: _, ...schedule } = await this.call(`read schedule ${group}/${name}`, abortSignal =>
      this.scheduler.send(new GetScheduleCommand({ GroupName: group, Name: name }), { abortSignal }))
    return schedule
  }

  /** UpdateSchedule (it replaces the whole schedule): only with the proof it still runs ours. */
  async updateSchedule(owned: Owned<ScheduledTaskRead>, input: UpdateScheduleCommandInput): Promise<void> {
    await this.call(`update ${owned.precondition.ref}`, abortSignal => this.scheduler.send(new UpdateScheduleCommand(input), { abortSignal }))
  }

  private async call<T>(what: string, send: (abortSignal?: AbortSignal) => Promise<T>): Promise<T> {
    try {
      return await retry(() => send(this.signal), { ...ECS_RETRY, signal: this.signal })
    } catch (error) {
      throw new Error(`could not ${what}: ${errorMessage(error)}`, { cause: error })
    }
  }
}
