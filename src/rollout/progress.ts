import { randomUUID } from 'node:crypto'

export interface TimelineEntry {
  /** Milliseconds since the run started. */
  atMs: number
  message: string
}

export interface ProgressSink {
  info(message: string): void
  warning(message: string): void
  /** Folds the log lines that follow under a title (a phase of the run). */
  startGroup?(name: string): void
  endGroup?(): void
}

/**
 * The rollout as the user sees it: each new fact printed once with the time since the start, kept
 * for the job summary's timeline, and the reasons of a failure collected for the report.
 */
export class Progress {
  readonly timeline: TimelineEntry[] = []
  readonly reasons: string[] = []
  /** Set by the engine just before the first change: until then, a failure changed nothing. */
  changing = false
  private readonly seen = new Set<string>()
  private lastStatus = ''
  private inGroup = false
  private readonly startedAt: number
  private readonly sink: ProgressSink
  private readonly now: () => number

  constructor(sink: ProgressSink, startedAt = Date.now(), now: () => number = Date.now) {
    this.sink = sink
    this.startedAt = startedAt
    this.now = now
  }

  /** Starts a phase of the run (validate, apply, wait, roll back): a folded group in the log. */
  phase(name: string): void {
    this.endPhase()
    this.sink.startGroup?.(name)
    this.inGroup = true
  }

  endPhase(): void {
    if (this.inGroup) this.sink.endGroup?.()
    this.inGroup = false
  }

  /** A step of the run (applied, rolled back ...): printed and put on the timeline. */
  step(message: string): void {
    this.record(message)
    this.sink.info(`${this.stamp()} ${message}`)
  }

  /** A fact from the platform (a service event, a pod state) printed once per key. */
  event(key: string, message: string): boolean {
    if (this.seen.has(key)) return false
    this.seen.add(key)
    this.sink.info(`${this.stamp()} ${message}`)
    return true
  }

  /**
   * A reason the rollout is failing, printed as a warning once, kept for the report. The headline
   * (the platform's own verdict) goes first, before the details that led to it.
   */
  reason(message: string, options: { headline?: boolean } = {}): void {
    if (this.reasons.includes(message)) return
    if (options.headline) this.reasons.unshift(message)
    else this.reasons.push(message)
    this.record(message)
    this.sink.warning(message)
  }

  /** The last state line the platform gave, for a report made in a hurry (a cancelled run that hangs). */
  get lastStatusLine(): string {
    return this.lastStatus
  }

  /** The rollout's state line ("2/3 updated, 1 available"), printed only when it changes. */
  status(line: string): boolean {
    if (line === this.lastStatus) return false
    this.lastStatus = line
    this.sink.info(`${this.stamp()} ${line}`)
    return true
  }

  elapsedMs(): number {
    return this.now() - this.startedAt
  }

  private record(message: string): void {
    this.timeline.push({ atMs: this.elapsedMs(), message })
  }

  private stamp(): string {
    return `[+${(this.elapsedMs() / 1000).toFixed(1)}s]`
  }
}

/** What `workflowLog` needs of @actions/core (so tests can pass a recording double). */
export interface WorkflowCommands {
  info(message: string): void
  warning(message: string): void
  startGroup(name: string): void
  endGroup(): void
}

/**
 * What may stand before `::` at the start of a line the runner reads as a workflow command. The runner
 * (C#) reads a step's output line by line (ReadLine ends a line at \n, \r or \r\n) and trims each line
 * with String.TrimStart, which strips every char.IsWhiteSpace: C0 tab to carriage return, U+0085 (NEL),
 * U+00A0 and the Unicode space and line/paragraph separators. JavaScript's \s and line ends are not that
 * set (\s lacks U+0085), so the set here is wider than both on purpose: any whitespace, control (C0 and
 * C1) or format character (U+FEFF, zero-width ones) may come before `::`. Text wrapped for nothing is
 * only a few lines longer; text let through unwrapped could run a command.
 */
const INVISIBLE = '[\\p{White_Space}\\p{Cc}\\p{Cf}\\p{Z}]'
/**
 * A line the runner would read as a workflow command: `::` after nothing but invisible characters, at
 * the start of the text or after any character that could end a line (every control character, the
 * line and paragraph separators), or the old `##[name]` form anywhere in the line.
 */
const COMMAND_LIKE = new RegExp(`(?:^|[\\p{Cc}\\p{Zl}\\p{Zp}])${INVISIBLE}*::|##\\[`, 'u')

/**
 * The action's log as a ProgressSink that is safe for any text. Progress prints text from outside
 * (service events, pod messages, container logs, stop reasons, rendered templates); a line of it such
 * as `::add-mask::x` or `::set-output name=status::succeeded` must be shown, never run. Text that looks
 * like a command is printed between `::stop-commands::TOKEN` and `::TOKEN::` with a fresh random token,
 * which the runner documents as the way to print untrusted text verbatim. Warnings and group titles go
 * through core's command escaping (newlines become %0A), so they are one command line whatever they hold.
 */
export function workflowLog(commands: WorkflowCommands, token: () => string = randomUUID): ProgressSink {
  return {
    info(message) {
      if (!COMMAND_LIKE.test(message)) return commands.info(message)
      const stop = token()
      commands.info(`::stop-commands::${stop}`)
      commands.info(message)
      commands.info(`::${stop}::`)
    },
    warning: message => commands.warning(message),
    startGroup: name => commands.startGroup(name),
    endGroup: () => commands.endGroup()
  }
}
