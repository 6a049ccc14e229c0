import fs from 'node:fs/promises'
import { UserError } from '../errors.js'

const KiB = 1024
const MiB = 1024 * KiB

/**
 * How large a template file may be, and why. A file far larger than the platform accepts is refused by
 * its size (one stat) before it is read or parsed: parsing a generated 55 MB file took 18 s only to end
 * in the platform's refusal.
 */
export interface SizeLimit {
  bytes: number
  /** What is limited, for the message: "a task-definition template". */
  what: string
  /** Why, from the platform's own limit. */
  why: string
  /** What to do instead. */
  fix: string
}

/**
 * ECS refuses a task definition over 64 KiB (the "Task definition size" quota of RegisterTaskDefinition).
 * Four times that leaves room for a YAML template's comments and indentation; a file beyond it can only
 * be refused.
 */
export const TASK_DEFINITION_LIMIT: SizeLimit = {
  bytes: 256 * KiB,
  what: 'a task-definition template',
  why: 'ECS registers a task definition of at most 64 KiB (the RegisterTaskDefinition size quota), so a file this large cannot become one',
  fix: "give the task-definition file itself as 'template' (check the step that generates it)"
}

/**
 * The Kubernetes API server takes a request body of at most 3 MiB, and etcd stores an object of at most
 * 1.5 MiB by default: one manifest file larger than 3 MiB holds an object the cluster refuses or far more
 * than one service's objects.
 */
export const MANIFEST_FILE_LIMIT: SizeLimit = {
  bytes: 3 * MiB,
  what: 'a manifest file',
  why: 'the Kubernetes API server takes at most 3 MiB in one request and etcd stores objects of at most 1.5 MiB',
  fix: "split it, and deploy large bundles (CRDs, vendored charts' output) separately from the service"
}

/** All manifest files of one `template` together: a service's objects, not a cluster's. */
export const MANIFESTS_TOTAL_LIMIT: SizeLimit = {
  bytes: 8 * MiB,
  what: "the manifest files of 'template' together",
  why: 'each object the cluster stores is at most 1.5 MiB, and one service deploys a few of them',
  fix: "name only the service's own manifests in 'template' (a narrower folder or glob), and deploy large bundles separately"
}

/** `55.0 MB (57671680 bytes)`-style sizes: the unit a person reads, and the exact count. */
export function formatSize(bytes: number): string {
  const rounded = bytes >= MiB ? `${(bytes / MiB).toFixed(1)} MiB` : bytes >= KiB ? `${(bytes / KiB).toFixed(1)} KiB` : `${bytes} bytes`
  return bytes >= KiB ? `${rounded} (${bytes} bytes)` : rounded
}

/**
 * The error for a file over `limit` (or files: `subject` then says which): names it, its size, the limit
 * and why; nothing was read.
 */
export function tooLarge(file: string, bytes: number, limit: SizeLimit, subject = `'${file}'`): UserError {
  const limitText = limit.bytes >= MiB ? `${limit.bytes / MiB} MiB` : `${limit.bytes / KiB} KiB`
  return new UserError({
    input: 'template',
    message: `${subject} is ${formatSize(bytes)}, more than the ${limitText} ${limit.what} may be: ${limit.why}. It was refused by its size, before it was read; ${limit.fix}`
  })
}

/** The size of a template file, with the read errors of readTemplateFile. */
export async function templateFileSize(file: string): Promise<number> {
  try {
    const stat = await fs.stat(file)
    if (stat.isDirectory()) throw Object.assign(new Error('EISDIR'), { code: 'EISDIR' })
    return stat.size
  } catch (error) {
    throw unreadable(file, error)
  }
}

/**
 * Reads a template file, with an error that names the input and the fix. A UTF-8 byte-order mark (some
 * Windows editors write one) is dropped: JSON forbids it and it is not part of the content. With a
 * `limit`, a larger file is refused by its size before it is read.
 */
export async function readTemplateFile(file: string, limit?: SizeLimit): Promise<string> {
  if (limit) {
    const size = await templateFileSize(file)
    if (size > limit.bytes) throw tooLarge(file, size, limit)
  }
  try {
    return withoutByteOrderMark(await fs.readFile(file, 'utf8'))
  } catch (error) {
    throw unreadable(file, error)
  }
}

/**
 * At most the first `bytes` of a template file (enough to tell what it is), however large the file. A
 * multi-byte character cut at the end decodes as U+FFFD, which is harmless for a look at its keys.
 */
export async function readTemplateHead(file: string, bytes: number): Promise<string> {
  let handle: fs.FileHandle | undefined
  try {
    handle = await fs.open(file, 'r')
    const buffer = Buffer.alloc(bytes)
    const { bytesRead } = await handle.read(buffer, 0, bytes, 0)
    return withoutByteOrderMark(buffer.subarray(0, bytesRead).toString('utf8'))
  } catch (error) {
    throw unreadable(file, error)
  } finally {
    await handle?.close()
  }
}

function unreadable(file: string, error: unknown): UserError {
  const code = (error as NodeJS.ErrnoException).code
  const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a folder, not a file' : code === 'EACCES' ? 'permission denied' : String(code)
  return new UserError({ input: 'template', message: `cannot read '${file}': ${why} (paths are relative to the workspace; did actions/checkout run?)` })
}

export function withoutByteOrderMark(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
}
