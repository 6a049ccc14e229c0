import { randomUUID } from 'node:crypto' // built in: none of our code loads before the next line

// Node reads the source maps only of code loaded after this call, so it comes first and the action
// itself is loaded below by a dynamic import (ncc puts it in a chunk of its own, with its map): stack
// traces of real bugs then name src/ files instead of a column of minified dist/index.js.
process.setSourceMapsEnabled(true)

/** The last resort: one error line and exit code 1, never Node's crash handler printing the bundle. */
function crash(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error)
  const stack = error instanceof Error && error.stack ? error.stack : ''
  // Escaped as @actions/core escapes a command's data: the message stays one line of one command.
  const data = `deploy-service stopped on an unexpected error: ${message}`.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A')
  try {
    // The stack holds outside text (the message): printed between stop-commands, never run.
    const token = randomUUID()
    if (stack) process.stdout.write(`::stop-commands::${token}\n${stack}\n::${token}::\n`)
    process.stdout.write(`::error::${data}\n`)
  } finally {
    process.exitCode = 1
  }
}

// Node's own docs: a process is in an undefined state after an uncaught exception, so it ends here. A
// stray rejected promise is reported and fails the step, and the run goes on to write its report.
process.on('uncaughtException', error => {
  crash(error)
  process.exit(1)
})
process.on('unhandledRejection', crash)

try {
  const { run } = await import('./main.js')
  await run()
} catch (error) {
  crash(error)
} finally {
  // The report is written. A call that ignored its abort may still hold a socket open: it must not keep
  // the step running (unref'd, so a process with nothing left to do exits at once as usual).
  setTimeout(() => process.exit(), 2000).unref()
}
