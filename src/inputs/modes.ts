import type { ProblemList } from '../errors.js'
import type { DeployRequest } from '../request.js'

/** The checks across inputs: what a mode never does, and the inputs that contradict each other. */
export function combinationProblems(request: DeployRequest, problems: ProblemList): void {
  const mode = request.mode
  if (request.dryRun && mode === 'render') {
    problems.add({ input: 'dry-run', message: "mode 'render' never touches the server; drop dry-run or use mode 'deploy'" })
  }
  // A deploy step shared by push and pull_request (`dry-run: ${{ github.event_name == 'pull_request' }}`)
  // keeps `pr-comment: true` on its deploys too, so there it is only a note; these modes never comment.
  if (request.github.prComment && (mode === 'render' || mode === 'rollback' || mode === 'continue' || mode === 'follow')) {
    problems.add({ input: 'pr-comment', message: `comments the plan of a dry run on a pull request; mode '${mode}' has no plan to comment: drop pr-comment or use mode 'deploy' with dry-run: true` })
  }
  if (request.ecs.updateScheduledTasks && !request.wait) {
    problems.add({ input: 'update-scheduled-tasks', message: "moves the scheduled tasks once the deploy is proven healthy; with 'wait: false' nothing proves it: drop one of them" })
  }
  if (request.ecs.onPause === 'verify' && !request.verify) {
    problems.add({ input: 'on-pause', message: "'verify' runs verify-url or verify-command at the pause: set one of them" })
  }
  // `mode: render` shows the pre-deploy Job (Kubernetes) with the rest; it runs nothing.
  if (mode === 'rollback' || mode === 'continue' || mode === 'follow') {
    if (request.preDeploy) problems.add({ input: 'pre-deploy-command', message: `runs before a deploy; mode '${mode}' never runs it` })
  }
  if (request.services.length > 1) severalServicesProblems(request, problems)
}

/** Several services are deployed together on ECS only, by `mode: deploy`, without a pre-deploy task. */
function severalServicesProblems(request: DeployRequest, problems: ProblemList): void {
  const names = request.services.map(name => `'${name}'`).join(', ')
  if (request.platform === 'kubernetes') {
    problems.add({ input: 'service', message: `names ${request.services.length} workloads (${names}); Kubernetes deploys one workload per step: name one, or use one step per workload (a matrix)` })
  }
  if (request.mode !== 'deploy') {
    problems.add({ input: 'service', message: `names ${request.services.length} services (${names}); mode '${request.mode}' acts on one service: name one service` })
  }
  if (request.preDeploy) {
    problems.add({ input: 'pre-deploy-command', message: `runs one task before one service changes; 'service' names ${request.services.length}: run it in a step of its own before this one, or name one service` })
  }
}
