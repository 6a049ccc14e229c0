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
    'rendered-path': result.renderedPath ?? '',
    'duration-seconds': (result.progress.elapsedMs() / 1000).toFixed(1)
  }
}
