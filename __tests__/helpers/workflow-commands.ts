// What the GitHub runner would do with a step's raw stdout, as its command parser reads it: a line is
// a command when, after leading whitespace, it starts with `::name` (v2), or holds `##[name` anywhere
// (v1). `::stop-commands::TOKEN` stops all of them until a line `::TOKEN::`.

export interface RunnerCommand {
  name: string
  /** The command's data, unescaped as the runner does (%0A -> newline ...). */
  data: string
  line: string
}

/** The commands the runner would run from `stdout`, in order (stop-commands and its resume included). */
export function commandsRun(stdout: string): RunnerCommand[] {
  const run: RunnerCommand[] = []
  let stopToken: string | undefined
  for (const line of stdout.split(/\r?\n/)) {
    const trimmed = line.trimStart()
    if (stopToken !== undefined) {
      if (trimmed === `::${stopToken}::`) {
        run.push({ name: 'resume-commands', data: stopToken, line })
        stopToken = undefined
      }
      continue
    }
    const v2 = /^::([A-Za-z-]+)(?: [^:]*)?::(.*)$/.exec(trimmed)
    const v1 = /##\[([A-Za-z-]+)[^\]]*\](.*)$/.exec(line)
    const match = v2 ?? v1
    if (!match) continue
    const data = match[2].replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%')
    run.push({ name: match[1].toLowerCase(), data, line })
    if (match[1].toLowerCase() === 'stop-commands') stopToken = data
  }
  return run
}

/** Runs `fn` with process.stdout captured (as @actions/core writes to it): what a runner would read. */
export async function captureStdout(fn: () => unknown): Promise<string> {
  const write = process.stdout.write.bind(process.stdout)
  let captured = ''
  process.stdout.write = ((chunk: string | Uint8Array): boolean => {
    captured += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')
    return true
  }) as typeof process.stdout.write
  try {
    await fn()
  } finally {
    process.stdout.write = write
  }
  return captured
}
