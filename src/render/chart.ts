import fs from 'node:fs/promises'
import path from 'node:path'
import { ProblemList, type SourceLocation } from '../errors.js'
import { helmSetValues, withHelmSetFile } from './helm-set.js'
import { parseRenderedOutput } from './rendered-output.js'
import type { SourceDocument } from './source.js'
import { HELM, commandLine, findTool, runTool, type ToolOptions } from './tools.js'
import type { DeployRequest } from '../request.js'

export interface RenderedTemplate {
  documents: SourceDocument[]
  /** The command that rendered them and the tool's version, for the log and the rendered set's header. */
  renderedBy: string
}

type ChartRequest = Pick<DeployRequest, 'service'> & { kubernetes: Pick<DeployRequest['kubernetes'], 'helmValues' | 'helmSet'> }

/**
 * `helm template` of a chart folder, as `helm install` would render it: the service is the release
 * name, CRDs of crds/ are included (the set is applied whole), the chart's test hooks are not (they are
 * for `helm test`). Documents are named after the chart file that `# Source:` says made them.
 */
export async function renderChart(dir: string, request: ChartRequest, namespace: string, options: ToolOptions = {}): Promise<RenderedTemplate> {
  await checkValuesFiles(request.kubernetes.helmValues)
  const helm = await findTool(HELM, dir, options)
  const values = helmSetValues(request.kubernetes.helmSet)
  const { output, shown } = await withHelmSetFile(
    values,
    async setFile => {
      const { args, shown } = helmArgs(dir, request, namespace, setFile)
      return { output: await runTool(helm, args, shown, stderr => explainHelmError(stderr, dir), options), shown }
    },
    options.env
  )
  const command = commandLine('helm', shown)
  const documents = parseRenderedOutput(output, command, (_document, firstLine, lines) => {
    const source = /^# Source: (\S.*)$/.exec(lines[firstLine - 1] ?? '')
    return source ? { file: chartFile(source[1].trim(), dir), firstLine: firstLine + 1 } : undefined
  })
  return { documents, renderedBy: `${command} (helm ${helm.version})` }
}

/**
 * The arguments, and the same as shown to anyone reading the log. The `helm-set` values come in a file
 * of their own (`setFile`, see helm-set.ts), last so that they override the `helm-values` files; the log
 * shows which keys it sets, never their values (they may be secrets) or its temporary path.
 */
export function helmArgs(dir: string, request: ChartRequest, namespace: string, setFile?: string): { args: string[]; shown: string[] } {
  const common = ['template', request.service, dir, '--namespace', namespace, '--include-crds', '--skip-tests']
  const values = request.kubernetes.helmValues.flatMap(file => ['-f', file])
  const keys = Object.keys(request.kubernetes.helmSet)
  return {
    args: [...common, ...values, ...(setFile ? ['-f', setFile] : [])],
    shown: [...common, ...values, ...(setFile ? ['-f', `<helm-set: ${keys.join(', ')}>`] : [])]
  }
}

async function checkValuesFiles(files: string[]): Promise<void> {
  const problems = new ProblemList()
  for (const file of files) {
    const stat = await fs.stat(file).catch(() => undefined)
    if (!stat?.isFile()) {
      problems.add({ input: 'helm-values', message: `cannot read '${file}': ${stat ? 'it is a folder, not a file' : 'no such file'} (paths are relative to the workspace)` })
    }
  }
  problems.throwIfAny()
}

/**
 * `web/templates/deployment.yaml` (helm names files by chart name, not folder) as a path from the
 * workspace: `charts/web/templates/deployment.yaml`. Subcharts keep their place under charts/.
 */
export function chartFile(helmPath: string, dir: string): string {
  const [, ...rest] = helmPath.split('/')
  return rest.length ? path.join(dir, ...rest) : path.join(dir, helmPath)
}

/** Where a helm error points, from the forms helm's template engine and its YAML check print. */
export function explainHelmError(stderr: string, dir: string): { location?: SourceLocation; hint?: string } {
  // template: web/templates/deployment.yaml:12:20: executing "..." at <.Values.x>: ...
  const executing = /template: ([^\s:]+):(\d+):(\d+):/.exec(stderr)
  if (executing) return { location: { file: chartFile(executing[1], dir), line: Number(executing[2]), column: Number(executing[3]) } }
  // execution error at (web/templates/configmap.yaml:8:20): <the chart's `required` or `fail` message>
  // parse error at (web/templates/deployment.yaml:5): unexpected "}" in operand
  const at = /(?:execution|parse) error at \(([^():]+):(\d+)(?::(\d+))?\)/.exec(stderr)
  if (at) return { location: { file: chartFile(at[1], dir), line: Number(at[2]), column: at[3] ? Number(at[3]) : undefined } }
  // YAML parse error on web/templates/x.yaml: error converting YAML to JSON: yaml: line 4: ...
  // The line counts in what the template rendered, as for every document of a chart.
  const yaml = /YAML parse error on ([^\s:]+):(?:.*?\bline (\d+))?/.exec(stderr)
  if (yaml) return { location: { file: chartFile(yaml[1], dir), line: Number(yaml[2] ?? 1) }, hint: 'the line counts in what the template rendered: see it with helm template --debug' }
  if (/found in Chart\.yaml, but missing in charts\/ directory/.test(stderr)) {
    return { location: { file: path.join(dir, 'Chart.yaml'), line: 1 }, hint: `run \`helm dependency build ${dir}\` in a step before this one, or commit the charts/ folder` }
  }
  if (/values don't meet the specifications of the schema/.test(stderr)) {
    return {
      location: { file: path.join(dir, 'values.schema.json'), line: 1 },
      hint: "check 'helm-values' and 'helm-set' against the chart's values.schema.json; 'helm-set' values are strings: numbers, booleans and lists go in a 'helm-values' file"
    }
  }
  return {}
}
