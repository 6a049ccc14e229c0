// What the GitHub runner would do with a step's raw stdout, as its command parser reads it
// (actions/runner, ActionCommand.TryParseV2 / TryParse): the output is read line by line with .NET's
// ReadLine (a line ends at \n, \r or \r\n); a line is a command when, after .NET's TrimStart, it starts
// with `::name` (v2), or holds `##[name` anywhere (v1). `::stop-commands::TOKEN` stops all of them until
// a line `::TOKEN::`.

/**
 * .NET's char.IsWhiteSpace, which String.TrimStart strips: U+0009..U+000D, U+0085 and the Unicode space
 * separators (Zs) and line and paragraph separators (Zl, Zp). Not JavaScript's \s: that lacks U+0085 and
 * has U+FEFF, which .NET keeps.
 */
export const DOTNET_WHITESPACE = '\t\n\v\f\r\u0085\u0020\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000\u2028\u2029'
const LEADING_WHITESPACE = new RegExp(`^[${DOTNET_WHITESPACE}]+`)

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
  for (const line of stdout.split(/\r\n|\r|\n/)) {
    const trimmed = line.replace(LEADING_WHITESPACE, '')
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
