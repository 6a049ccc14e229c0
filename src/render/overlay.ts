import fs from 'node:fs/promises'
import path from 'node:path'
import { parse } from 'yaml'
import type { SourceLocation } from '../errors.js'
import type { RenderedTemplate } from './chart.js'
import { parseRenderedOutput } from './rendered-output.js'
import { KUSTOMIZE, commandLine, findTool, runTool, type ToolOptions } from './tools.js'

const ORIGIN = 'config.kubernetes.io/origin'

/**
 * `kustomize build` of a kustomization folder. Each document is placed in the build's output, unless
 * the kustomization asks kustomize to record where objects came from (`buildMetadata:
 * [originAnnotations]`): then at the file named there.
 */
export async function buildOverlay(dir: string, kustomization: string, options: ToolOptions = {}): Promise<RenderedTemplate> {
  const kustomize = await findTool(KUSTOMIZE, dir, options)
  const args = ['build', dir]
  const output = await runTool(kustomize, args, args, stderr => explainKustomizeError(stderr, kustomization), options)
  const command = commandLine('kustomize', args)
  const documents = parseRenderedOutput(output, command, (document, firstLine) => {
    const file = originFile(document.value, dir)
    return file ? { file, firstLine } : undefined
  })
  return { documents, renderedBy: `${command} (kustomize ${kustomize.version})` }
}

/**
 * The local file an origin annotation names: the resource's file, or for a generated object the
 * kustomization that configured the generator. Remote origins (with a repo) stay in the output.
 */
function originFile(object: unknown, dir: string): string | undefined {
  const text = (object as { metadata?: { annotations?: Record<string, unknown> } } | null)?.metadata?.annotations?.[ORIGIN]
  if (typeof text !== 'string') return undefined
  try {
    const origin = parse(text) as { path?: unknown; configuredIn?: unknown; repo?: unknown } | null
    const file = origin?.path ?? origin?.configuredIn
    return typeof file === 'string' && origin?.repo === undefined ? path.join(dir, file) : undefined
  } catch {
    return undefined
  }
}

/**
 * The entry of the kustomization that kustomize's error names (a resource, patch or component that is
 * missing or broken), else the kustomization file itself: kustomize's errors name paths, not lines.
 */
export async function explainKustomizeError(stderr: string, kustomization: string): Promise<{ location?: SourceLocation }> {
  const text = await fs.readFile(kustomization, 'utf8').catch(() => '')
  const lines = text.split('\n')
  for (let index = 0; index < lines.length; index++) {
    const entry = /^\s*(?:-\s+(?:path:\s*)?|path:\s*)(['"]?)([^'"#\s]{2,})\1\s*(?:#.*)?$/.exec(lines[index])
    if (entry && mentions(stderr, entry[2])) return { location: { file: kustomization, line: index + 1 } }
  }
  return { location: { file: kustomization, line: 1 } }
}

/** The error names the entry as a whole path or path segment, not as part of a longer name. */
function mentions(stderr: string, entry: string): boolean {
  const escaped = entry.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  return new RegExp(`(^|['"\\s/])${escaped}(['"\\s:]|$)`, 'm').test(stderr)
}
