import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { ProblemList } from '../errors.js'

/** One step of a `helm-set` key: a map key, or an index into a list (`hosts[0]`). */
type Step = string | number

/** The largest list index a key may name: helm's own limit for `--set`, so a key cannot make a huge list. */
const MAX_INDEX = 65536

/**
 * The values of `helm-set` as the tree helm merges over the chart's values, every value a string, as it
 * was written. A value from a workflow is data: `--set` would read `a,b=c` as two keys (a branch name
 * could turn on `securityContext.privileged`), `true`, `null` and `3` as other types, and `{x,y}` as a
 * list. Only the key has a syntax, the one `--set` keys have: `.` between map keys (`\.` for a dot in
 * one), `[n]` for a list index. Typed and structured values belong in `helm-values` files.
 */
export function helmSetValues(helmSet: Record<string, string>): Record<string, unknown> {
  const problems = new ProblemList()
  // Maps without a prototype: a key such as `__proto__.x` is a key like any other, never Object's prototype.
  const root: Record<string, unknown> = Object.create(null) as Record<string, unknown>
  // Which key made each place, to name both keys of a conflict.
  const setBy = new Map<string, string>()
  for (const [key, value] of Object.entries(helmSet)) {
    const steps = keySteps(key)
    if (typeof steps === 'string') {
      problems.add({ input: 'helm-set', message: `'${key}' ${steps}` })
      continue
    }
    const conflict = place(root, steps, value, setBy, key)
    if (conflict) problems.add({ input: 'helm-set', message: `'${key}' and '${conflict}' set the same value, one as a value and one as a map or list: keep one` })
  }
  problems.throwIfAny()
  return root
}

/** The steps of a key, or what is wrong with it (for the message). */
function keySteps(key: string): Step[] | string {
  const steps: Step[] = []
  let name = ''
  let named = false
  for (let at = 0; at < key.length; at++) {
    const char = key[at]
    if (char === '\\') {
      if (at + 1 === key.length) return 'ends with \\: write \\. for a dot inside a key'
      name += key[++at]
      named = true
    } else if (char === '.') {
      if (!named) return 'has an empty part: write keys as a.b.c (\\. for a dot inside a key)'
      steps.push(name)
      name = ''
      named = false
    } else if (char === '[') {
      if (!named && (steps.length === 0 || typeof steps.at(-1) === 'string')) return 'has a list index [n] without a name before it: write list[0]'
      if (named) steps.push(name)
      name = ''
      named = false
      const close = key.indexOf(']', at)
      const index = key.slice(at + 1, close)
      if (close < 0 || !/^\d+$/.test(index)) return 'has a list index that is not [n] with a number n'
      if (Number(index) > MAX_INDEX) return `has a list index over ${MAX_INDEX}`
      steps.push(Number(index))
      at = close
      const next = key[at + 1]
      if (next !== undefined && next !== '.' && next !== '[') return `has '${next}' right after [${index}]: write list[0].key or list[0][1]`
      if (next === '.') {
        at++
        if (at + 1 === key.length) return 'has an empty part: write keys as a.b.c (\\. for a dot inside a key)'
      }
    } else {
      name += char
      named = true
    }
  }
  if (named) steps.push(name)
  else if (steps.length === 0 || typeof steps.at(-1) === 'string') return 'has an empty part: write keys as a.b.c (\\. for a dot inside a key)'
  return steps
}

/**
 * Puts `value` at `steps` under `root`. `setBy` records which key made each place (by its path), so a
 * key that needs a place another key made differently (a value where a map is, a map where a list is)
 * returns that other key.
 */
function place(root: Record<string, unknown>, steps: Step[], value: string, setBy: Map<string, string>, key: string): string | undefined {
  let node: Record<string | number, unknown> = root
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]
    const at = JSON.stringify(steps.slice(0, i + 1))
    // A list index past the end: the places before it are null, as helm's --set makes them.
    if (Array.isArray(node)) while (node.length < (step as number)) node.push(null)
    const existing = node[step]
    const last = i === steps.length - 1
    const wanted = last ? 'value' : typeof steps[i + 1] === 'number' ? 'list' : 'map'
    if (existing !== undefined && existing !== null) {
      const found = typeof existing === 'string' ? 'value' : Array.isArray(existing) ? 'list' : 'map'
      if (found !== wanted || last) return setBy.get(at)
      node = existing as Record<string | number, unknown>
      continue
    }
    setBy.set(at, key)
    if (last) node[step] = value
    else node = node[step] = (wanted === 'list' ? [] : Object.create(null)) as Record<string | number, unknown>
  }
  return undefined
}

/**
 * Runs `fn` with the `helm-set` values in a file for `helm template -f`, readable by the runner's user
 * only (0600, in a fresh 0700 folder) since a value may be a secret, and removed afterwards. Passed after
 * the `helm-values` files, it overrides them as `--set` would. Without values, `fn` gets no file.
 */
export async function withHelmSetFile<T>(values: Record<string, unknown>, fn: (file: string | undefined) => Promise<T>, env: NodeJS.ProcessEnv = process.env): Promise<T> {
  if (Object.keys(values).length === 0) return fn(undefined)
  // RUNNER_TEMP is emptied after every job on GitHub's runners.
  const dir = await fs.mkdtemp(path.join(env.RUNNER_TEMP || os.tmpdir(), 'deploy-service-helm-set-'))
  try {
    const file = path.join(dir, 'helm-set.json')
    // JSON is YAML: every value a quoted string, whatever it holds.
    await fs.writeFile(file, `${JSON.stringify(values, null, 2)}\n`, { mode: 0o600, flag: 'wx' })
    return await fn(file)
  } finally {
    await fs.rm(dir, { recursive: true, force: true })
  }
}
