import fs from 'node:fs'
import type { SourceLocation } from '../errors.js'
import { parseDocuments } from '../render/source.js'
import type { HealthCheckRule } from '../request.js'
import type { InputReader } from './reader.js'

const INPUT = 'health-checks'
const EXPRESSIONS = ['current', 'inProgress', 'failed'] as const

/**
 * `health-checks`: a YAML file of custom health rules per kind, in Flux's `healthCheckExprs` shape (a
 * list, or a Kustomization-like map holding `healthCheckExprs`, so a Flux user's block can be reused).
 * Only the shape is checked here; the expressions are compiled by the Kubernetes platform before
 * anything changes (the CEL library is loaded only there).
 */
export function healthChecksInput(read: InputReader): HealthCheckRule[] {
  const file = read.optional(INPUT)
  if (file === undefined) return []
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (error) {
    read.problems.add({ input: INPUT, message: `cannot read '${file}': ${(error as NodeJS.ErrnoException).code ?? String(error)}` })
    return []
  }
  const documents = read.problems.collect(() => parseDocuments(text, file)) ?? []
  const rules: HealthCheckRule[] = []
  for (const document of documents) {
    const value = document.value as { healthCheckExprs?: unknown } | unknown[] | null
    const inMap = value !== null && typeof value === 'object' && !Array.isArray(value) && 'healthCheckExprs' in value
    const list = inMap ? value.healthCheckExprs : value
    const base: string[] = inMap ? ['healthCheckExprs'] : []
    if (!Array.isArray(list)) {
      read.problems.add({ input: INPUT, location: document.locate([]), message: 'expected a list of {apiVersion, kind, current, inProgress, failed} (Flux\'s healthCheckExprs)' })
      continue
    }
    list.forEach((entry: Record<string, unknown> | null, index) => {
      const at = (field?: string): SourceLocation => document.locate(field ? [...base, index, field] : [...base, index])
      const rule = entry ?? {}
      const bad = ['apiVersion', 'kind', 'current'].filter(field => typeof rule[field] !== 'string' || rule[field] === '')
      const unknown = Object.keys(rule).filter(key => !['apiVersion', 'kind', ...EXPRESSIONS].includes(key))
      for (const field of bad) read.problems.add({ input: INPUT, location: at(field), message: `entry ${index + 1}: '${field}' is required (a string)` })
      for (const key of unknown) read.problems.add({ input: INPUT, location: at(key), message: `entry ${index + 1}: unknown field '${key}' (apiVersion, kind, current, inProgress, failed)` })
      if (bad.length || unknown.length) return
      const checked: HealthCheckRule = { apiVersion: String(rule.apiVersion), kind: String(rule.kind), expressions: {} }
      for (const name of EXPRESSIONS) {
        if (rule[name] === undefined) continue
        if (typeof rule[name] !== 'string') read.problems.add({ input: INPUT, location: at(name), message: `entry ${index + 1}: '${name}' must be a CEL expression (a string)` })
        else checked.expressions[name] = { text: rule[name], location: at(name) }
      }
      rules.push(checked)
    })
  }
  return rules
}
