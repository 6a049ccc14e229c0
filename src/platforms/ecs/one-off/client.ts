// The one-off task calls (RunTask, StopTask), made through EcsApi's one retry policy and explained errors.
import { RunTaskCommand, StopTaskCommand, type RunTaskCommandInput, type RunTaskCommandOutput, type Task } from '@aws-sdk/client-ecs'
import type { Owned } from '../../../rollout/ownership.js'
import type { EcsApi } from '../client.js'

export class OneOffTaskApi {
  readonly ecs: EcsApi

  constructor(ecs: EcsApi) {
    this.ecs = ecs
  }

  /**
   * Starts a one-off task. `clientToken` (unique to this run of it) makes the retry of an ambiguous
   * failure return the task the first try started instead of starting a second one.
   */
  async run(input: Omit<RunTaskCommandInput, 'cluster'> & { clientToken: string }, signal?: AbortSignal): Promise<RunTaskCommandOutput> {
    return this.ecs.send(`run a task of '${input.taskDefinition}'`, abortSignal =>
      this.ecs.client.send(new RunTaskCommand({ cluster: this.ecs.cluster, ...input }), { abortSignal })
    , signal, { input: 'pre-deploy-command' })
  }

  /**
   * Stops the task that `owned` proved ours at this moment (ifOurs in stop.ts): the target is the
   * proof's own. Used after a timeout, a cancellation or a task that can no longer be followed, so on
   * purpose NOT ended by the run's cancellation: only by `signal`, which the caller bounds (a task left
   * running would go on alone).
   */
  async stop(owned: Owned<{ taskArn: string }>, reason: string, signal: AbortSignal): Promise<Task | undefined> {
    const task = owned.precondition.taskArn
    const output = await this.ecs.send(`stop task '${task}'`, abortSignal =>
      this.ecs.client.send(new StopTaskCommand({ cluster: this.ecs.cluster, task, reason }), { abortSignal })
    , signal, { outlivesCancel: true })
    return output.task
  }
}
