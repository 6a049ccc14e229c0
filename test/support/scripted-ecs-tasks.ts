// One-off tasks for the scripted ECS endpoint (RunTask, a task followed to STOPPED, its exit code and
// stop reason), kept beside scripted-ecs.ts so that file stays about rollouts. Same rules: the ECS API
// reference for shapes, status names and error wording; Node builtins and erasable TypeScript only.
import type { EcsState, Obj } from './scripted-ecs.ts'

/** Operations merged into the endpoint's table; `state` is the endpoint's shared, lazily advanced state. */
export function taskOperations(state: EcsState): Record<string, (input: Obj) => Obj> {
  void state
  return {}
}
