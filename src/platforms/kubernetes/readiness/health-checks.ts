// Custom health rules per kind, as CEL expressions in Flux's healthCheckExprs shape, evaluated the
// way Flux's CEL status reader does (RFC-0009): an observedGeneration that differs from the
// generation is progress; then inProgress, failed and current, in that order, the first that is true
// decides; none true is progress. Evaluated with @marcbachmann/cel-js (zero dependencies, ESM,
// optional field access `status.?phase`, errors with positions), loaded only when a file is given.

import { ProblemList, formatLocation, type SourceLocation } from '../../../errors.js'
import type { HealthCheckRule } from '../../../request.js'
import { groupKind, type LiveObject, type Readiness } from './kinds.js'

type Compiled = (context: Record<string, unknown>) => unknown
interface Expression { name: 'inProgress' | 'failed' | 'current'; run: Compiled; where: string }

/** The object's top-level fields are the expressions' variables, as in Flux. */
const VARIABLES = ['apiVersion', 'kind', 'metadata', 'spec', 'status', 'data']
const VERDICT = { inProgress: 'waiting', failed: 'failed', current: 'ready' } as const

export class HealthChecks {
  private readonly byKind: Map<string, { apiVersion: string; expressions: Expression[] }>

  constructor(byKind: Map<string, { apiVersion: string; expressions: Expression[] }>) {
    this.byKind = byKind
  }

  /** The custom rule's verdict, or undefined when no rule names this kind (the kind's own rules judge it). */
  judge(object: LiveObject, apiVersion: string): Readiness | undefined {
    const rule = this.byKind.get(`${groupKind(apiVersion, object.kind)} ${apiVersion}`)
    if (!rule) return undefined
    const generation = object.metadata.generation
    const observed = object.status?.observedGeneration
    if (generation !== undefined && observed !== undefined && observed !== generation) {
      return { state: 'waiting', message: `its controller has not seen generation ${generation} yet (status.observedGeneration is ${observed})` }
    }
    // JSON's numbers are doubles to CEL; a round trip drops what JSON cannot carry (dates).
    const context = JSON.parse(JSON.stringify({ ...object, apiVersion })) as Record<string, unknown>
    for (const expression of rule.expressions) {
      let result: unknown
      try {
        result = expression.run(context)
      } catch (error) {
        // A field the controller has not written yet: Flux keeps waiting too; named if the deadline passes.
        return { state: 'waiting', message: `health check ${expression.name} (${expression.where}) could not be evaluated: ${firstLine(error)}` }
      }
      if (result === true) return { state: VERDICT[expression.name], message: `${expression.name} is true (rule: health-checks ${expression.where})` }
    }
    return { state: 'waiting', message: `neither inProgress, failed nor current is true (rule: health-checks ${rule.expressions[0]?.where ?? ''})` }
  }
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]
}

/** Compiles every expression, or throws every problem at once, each at its file:line (an input error). */
export async function compileHealthChecks(rules: HealthCheckRule[] | undefined): Promise<HealthChecks | undefined> {
  if (!rules?.length) return undefined
  const { Environment } = await import('@marcbachmann/cel-js')
  const env = new Environment({ enableOptionalTypes: true })
  for (const name of VARIABLES) env.registerVariable(name, 'dyn')
  const problems = new ProblemList()
  const byKind = new Map<string, { apiVersion: string; expressions: Expression[] }>()
  for (const rule of rules) {
    const key = `${groupKind(rule.apiVersion, rule.kind)} ${rule.apiVersion}`
    const expressions: Expression[] = []
    for (const name of ['inProgress', 'failed', 'current'] as const) {
      const source = rule.expressions[name]
      if (!source) continue
      try {
        const checked = env.check(source.text) as { valid?: boolean; error?: Error; type?: string }
        if (checked.valid === false) throw checked.error ?? new Error('invalid expression')
        if (checked.type && checked.type !== 'bool' && checked.type !== 'dyn') throw new Error(`it gives ${checked.type}, not bool`)
        expressions.push({ name, run: env.parse(source.text) as Compiled, where: formatLocation(source.location) })
      } catch (error) {
        problems.add({ input: 'health-checks', location: source.location as SourceLocation, message: `${rule.kind} ${name}: ${firstLine(error)}` })
      }
    }
    if (byKind.has(key)) problems.add({ input: 'health-checks', location: rule.expressions.current?.location, message: `${rule.kind} in ${rule.apiVersion} has a rule already` })
    byKind.set(key, { apiVersion: rule.apiVersion, expressions })
  }
  problems.throwIfAny()
  return new HealthChecks(byKind)
}
