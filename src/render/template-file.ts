import fs from 'node:fs/promises'
import { UserError } from '../errors.js'

/** Reads a template file, with an error that names the input and the fix. */
export async function readTemplateFile(file: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder, not a file' : code === 'EACCES' ? 'permission denied' : String(code)
    throw new UserError({ input: 'template', message: `cannot read '${file}': ${why} (paths are relative to the workspace; did actions/checkout run?)` })
  }
}
