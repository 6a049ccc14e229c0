import type { RunResult } from '../rollout/engine.js'

/** The step outputs, the same names on both platforms (see action.yml). */
export function outputsOf(result: RunResult): Record<string, string> {
  const join = (values: string[]): string => [...new Set(values.filter(Boolean))].join(',')
  return {
    status: result.status,
    revision: result.revision ?? '',
    'previous-revision': result.previousRevision ?? '',
    image: join(result.images.map(i => i.next)),
    'previous-image': join(result.images.map(i => i.previous)),
    'deployment-id': result.outputs['deployment-id'] ?? '',
    'task-definition-arn': result.outputs['task-definition-arn'] ?? '',
    'service-deployment-arn': result.outputs['service-deployment-arn'] ?? '',
    'hook-id': result.outputs['hook-id'] ?? '',
    'lifecycle-stage': result.outputs['lifecycle-stage'] ?? '',
    'codedeploy-deployment-id': result.outputs['codedeploy-deployment-id'] ?? '',
    'pre-deploy-task': result.outputs['pre-deploy-task'] ?? '',
    'pre-deploy-exit-code': result.outputs['pre-deploy-exit-code'] ?? '',
    'endpoint-url': result.outputs['endpoint-url'] ?? '',
    'rendered-path': result.renderedPath ?? '',
    // Several ECS services in one step: one entry per service (JSON), read after any rollback.
    services: servicesOutput(result),
    'duration-seconds': (result.progress.elapsedMs() / 1000).toFixed(1)
  }
}

function servicesOutput(result: RunResult): string {
  const rows = (result.objects ?? []).flatMap(object => (object.service ? [object.service] : []))
  return rows.length > 0 ? JSON.stringify(rows) : ''
}
