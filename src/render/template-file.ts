import fs from 'node:fs/promises'
import { UserError } from '../errors.js'

/**
 * Reads a template file, with an error that names the input and the fix. A UTF-8 byte-order mark (some
 * Windows editors write one) is dropped: JSON forbids it and it is not part of the content.
 */
export async function readTemplateFile(file: string): Promise<string> {
  try {
    return withoutByteOrderMark(await fs.readFile(file, 'utf8'))
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder, not a file' : code === 'EACCES' ? 'permission denied' : String(code)
    throw new UserError({ input: 'template', message: `cannot read '${file}': ${why} (paths are relative to the workspace; did actions/checkout run?)` })
  }
}

export function withoutByteOrderMark(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
}
