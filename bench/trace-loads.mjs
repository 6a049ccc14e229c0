// Preloaded with --import: records every file of dist/ that the process loads, for the bench's
// "JS an ECS deploy loads" row. Writes the list to $TRACE_LOADS_FILE at exit.
import fs from 'node:fs'
import { registerHooks } from 'node:module'
import { fileURLToPath } from 'node:url'

const loaded = new Set()
registerHooks({
  load(url, context, nextLoad) {
    if (url.startsWith('file:')) loaded.add(fileURLToPath(url))
    return nextLoad(url, context)
  }
})
process.on('exit', () => fs.writeFileSync(process.env.TRACE_LOADS_FILE, [...loaded].join('\n')))
