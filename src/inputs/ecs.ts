import { LIFECYCLE_STAGES, type EcsSettings, type Mode, type OnPause } from '../request.js'
import { FALSE, type InputReader } from './reader.js'

const ON_PAUSE: readonly OnPause[] = ['wait', 'exit', 'continue', 'verify']
const SERVICE_DEPLOYMENT_ARN = /^arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:service-deployment\/[A-Za-z0-9_-]{1,255}\/[A-Za-z0-9_-]{1,255}\/[A-Za-z0-9_-]+$/

/** `service-deployment-arn`: the ECS service deployment that `continue`, `rollback` or `follow` acts on. */
export function serviceDeploymentArnInput(read: InputReader, mode: Mode): string | undefined {
  const arn = read.optional('service-deployment-arn')
  if (arn !== undefined) {
    if (mode !== 'continue' && mode !== 'rollback' && mode !== 'follow') read.problems.add({ input: 'service-deployment-arn', message: "is only used with mode 'continue', 'rollback' or 'follow'" })
    else if (!SERVICE_DEPLOYMENT_ARN.test(arn)) {
      read.problems.add({ input: 'service-deployment-arn', message: `'${arn}' is not an ECS service-deployment ARN (arn:aws:ecs:REGION:ACCOUNT:service-deployment/CLUSTER/SERVICE/ID)` })
    }
  }
  return arn
}

/** The inputs only ECS reads. */
export function ecsInputs(read: InputReader, mode: Mode, serviceDeploymentArn: string | undefined): EcsSettings {
  return {
    cluster: read.input('cluster') || 'default',
    onPause: read.oneOf('on-pause', ON_PAUSE, 'wait') ?? 'wait',
    serviceDeploymentArn,
    handOffAt: handOffAt(read, mode),
    codedeployAppspec: read.optional('codedeploy-appspec'),
    desiredCount: read.integer('desired-count', 0),
    forceNewDeployment: read.boolean('force-new-deployment', false),
    keepRevisions: read.integer('keep-revisions', 1),
    updateScheduledTasks: read.boolean('update-scheduled-tasks', false)
  }
}

/**
 * `hand-off-at`: an ECS lifecycle stage at which a deploy stops waiting (status `in-progress`) and
 * leaves the verdict to a later job (`mode: follow`).
 */
function handOffAt(read: InputReader, mode: Mode): EcsSettings['handOffAt'] {
  const value = read.optional('hand-off-at')
  if (value === undefined) return undefined
  const stage = LIFECYCLE_STAGES.find(s => s === value.toUpperCase())
  if (!stage) {
    read.problems.add({ input: 'hand-off-at', message: `'${value}' is not an ECS lifecycle stage: use one of ${LIFECYCLE_STAGES.join(', ')} (BAKE_TIME hands off a long bake)` })
    return undefined
  }
  if (mode !== 'deploy' && mode !== 'continue') read.problems.add({ input: 'hand-off-at', message: `is used with mode 'deploy' or 'continue'; mode '${mode}' follows to the end` })
  if (FALSE.includes(read.input('wait'))) read.problems.add({ input: 'hand-off-at', message: "stops waiting at a stage; with wait: false nothing is waited for: drop one of them" })
  return stage
}
