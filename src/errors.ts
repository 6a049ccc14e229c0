/** Where in a user's file a problem stands, so it can be printed as file:line:col and annotated. */
export interface SourceLocation {
  file: string
  line: number
  column?: number
}

/** One problem in what the user gave us: an input, a template, a revision that does not exist. */
export interface Problem {
  message: string
  /** The action input the problem belongs to, e.g. `image-tag`. */
  input?: string
  location?: SourceLocation
}

export function formatLocation(location: SourceLocation): string {
  return location.column === undefined
    ? `${location.file}:${location.line}`
    : `${location.file}:${location.line}:${location.column}`
}

export function formatProblem(problem: Problem): string {
  const where = problem.location ? `${formatLocation(problem.location)}: ` : ''
  const input = problem.input && !problem.location ? `input '${problem.input}': ` : ''
  return `${where}${input}${problem.message}`
}

/**
 * A mistake the user can fix (bad input, bad template, unknown service). It is raised before anything
 * changes, carries every problem found at once, and is shown without a stack trace.
 */
export class UserError extends Error {
  readonly problems: Problem[]

  constructor(problems: Problem[] | Problem | string) {
    const list = typeof problems === 'string' ? [{ message: problems }] : Array.isArray(problems) ? problems : [problems]
    super(list.length === 1 ? formatProblem(list[0]) : `${list.length} problems:\n${list.map(p => `  - ${formatProblem(p)}`).join('\n')}`)
    this.name = 'UserError'
    this.problems = list
  }
}

/** Collects problems so that validation can report all of them together. */
export class ProblemList {
  readonly problems: Problem[] = []

  add(problem: Problem | string): void {
    this.problems.push(typeof problem === 'string' ? { message: problem } : problem)
  }

  /** Runs `fn`, turning a UserError it throws into problems here; other errors pass through. */
  collect<T>(fn: () => T): T | undefined {
    try {
      return fn()
    } catch (error) {
      if (error instanceof UserError) {
        this.problems.push(...error.problems)
        return undefined
      }
      throw error
    }
  }

  throwIfAny(): void {
    if (this.problems.length > 0) throw new UserError(this.problems)
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}
