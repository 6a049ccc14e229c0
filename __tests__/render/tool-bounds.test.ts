// helm and kustomize as the action runs them: within a bound, stopped with their children on the run's
// cancellation, and without the action's own inputs and runtime tokens in their environment. Fake tools
// (shell scripts put first on PATH) stand in for a tool that hangs on a remote base or prints its
// environment; the real ones (charts.test.ts) render.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from '@jest/globals'
import { alive } from '../../src/child-process.js'
import { UserError } from '../../src/errors.js'
import { parseInputs } from '../../src/inputs.js'
import { Cancelled, isCancellation } from '../../src/rollout/deadline.js'
import { loadKubernetesTemplate } from '../../src/render/kubernetes-template.js'
import { buildOverlay } from '../../src/render/overlay.js'
import { RENDER_TIMEOUT_MS } from '../../src/render/tools.js'

/** A folder with a fake `name` on PATH first: `version` answers at once, anything else runs `body`. */
function fakeTool(name: string, body: string): { env: NodeJS.ProcessEnv; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `fake-${name}-`))
  fs.writeFileSync(path.join(dir, name), `#!/bin/sh\nif [ "$1" = version ]; then echo v0.0.0-fake; exit 0; fi\n${body}\n`, { mode: 0o755 })
  return { dir, env: { ...process.env, PATH: `${dir}${path.delimiter}${process.env.PATH ?? ''}` } }
}

/** A fake that says what it is doing, then hangs with a child, as a git fetch of a remote base would. */
function hangingKustomize() {
  const fake = fakeTool('kustomize', 'echo "fetching https://git.example.invalid/base" >&2\nsleep 100000 &\necho "$$ $!" > "$FAKE_PIDS"\nwait')
  const pids = path.join(fake.dir, 'pids')
  const overlay = fs.mkdtempSync(path.join(os.tmpdir(), 'overlay-'))
  fs.writeFileSync(path.join(overlay, 'kustomization.yaml'), 'resources:\n  - https://git.example.invalid/base\n')
  return { env: { ...fake.env, FAKE_PIDS: pids }, pids, overlay }
}

async function pidsOf(file: string): Promise<number[]> {
  for (;;) {
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : ''
    if (/^\d+ \d+\n$/.test(text)) return text.trim().split(' ').map(Number)
    await sleep(50)
  }
}

/** Waits for the processes to be gone (a killed orphan is reaped by init a moment later). */
async function gone(pids: number[]): Promise<boolean> {
  for (let i = 0; i < 200 && pids.some(alive); i++) await sleep(50)
  return !pids.some(alive)
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection')
    },
    (error: unknown) => error
  )
}

describe('helm and kustomize bounds', () => {
  it('renders within five minutes by default', () => {
    expect(RENDER_TIMEOUT_MS).toBe(5 * 60_000)
  })

  it('stops a kustomize that hangs at its bound, with its children, and says what it was doing and why', async () => {
    const { env, pids, overlay } = hangingKustomize()
    const error = await rejection(buildOverlay(overlay, path.join(overlay, 'kustomization.yaml'), { env, timeoutMs: 1000 }))
    expect(error).toBeInstanceOf(UserError)
    const problem = (error as UserError).problems[0]
    expect(problem.input).toBe('template')
    expect(problem.message).toContain(`kustomize build ${overlay} (kustomize v0.0.0-fake) did not finish within 1s and was stopped`)
    expect(problem.message).toContain('a remote base or component')
    expect(problem.message).toContain('the last it printed:\nfetching https://git.example.invalid/base')
    expect(await gone(await pidsOf(pids))).toBe(true)
  })

  it("stops a kustomize that hangs on the run's cancellation, with its children, as a cancellation", async () => {
    const { env, pids, overlay } = hangingKustomize()
    const cancel = new AbortController()
    const building = rejection(buildOverlay(overlay, path.join(overlay, 'kustomization.yaml'), { env, signal: cancel.signal }))
    const running = await pidsOf(pids)
    cancel.abort(new Cancelled('SIGINT'))
    const error = await building
    expect(error).not.toBeInstanceOf(UserError)
    expect((error as Error).message).toBe(`kustomize build ${overlay} was stopped: the run was cancelled (SIGINT)`)
    // The report tells a cancellation from a bug by its cause.
    expect(isCancellation(error)).toBe(true)
    expect(await gone(running)).toBe(true)
  })
})

describe('the environment helm and kustomize see', () => {
  const ACTION_ONLY = {
    INPUT_KUBECONFIG: 'apiVersion: v1\nusers: [{name: admin, user: {token: kube-secret}}]',
    'INPUT_GITHUB-TOKEN': 'ghs_secret',
    'input_lower-case': 'x',
    ACTIONS_RUNTIME_TOKEN: 'runtime-secret',
    ACTIONS_RUNTIME_URL: 'https://pipelines.example.invalid/',
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'oidc-secret',
    ACTIONS_ID_TOKEN_REQUEST_URL: 'https://oidc.example.invalid/',
    ACTIONS_CACHE_URL: 'https://cache.example.invalid/',
    ACTIONS_RESULTS_URL: 'https://results.example.invalid/'
  }

  /** Runs a template through loadKubernetesTemplate with a fake tool that writes the environment it got (from /proc, as execve gave it). */
  async function environmentOf(tool: 'helm' | 'kustomize', output: string): Promise<Record<string, string>> {
    const fake = fakeTool(tool, `tr '\\000' '\\n' < /proc/$$/environ > "$FAKE_ENV"\ncat <<'EOF'\n${output}\nEOF`)
    const envFile = path.join(fake.dir, 'env')
    const template = fs.mkdtempSync(path.join(os.tmpdir(), `${tool}-template-`))
    if (tool === 'helm') fs.writeFileSync(path.join(template, 'Chart.yaml'), 'apiVersion: v2\nname: web\nversion: 0.1.0\n')
    else fs.writeFileSync(path.join(template, 'kustomization.yaml'), 'resources: []\n')
    const request = parseInputs({ GITHUB_SHA: 'abc', INPUT_SERVICE: 'web', 'INPUT_IMAGE-TAG': '2.0', INPUT_PLATFORM: 'kubernetes', INPUT_TEMPLATE: template }, () => undefined)
    const { documents } = await loadKubernetesTemplate(request, 'shop', { ...fake.env, ...ACTION_ONLY, FAKE_ENV: envFile, DEPLOY_TEST_KEPT: 'kept' })
    expect(documents).toHaveLength(1)
    const entries = fs.readFileSync(envFile, 'utf8').split('\n').filter(Boolean)
    return Object.fromEntries(entries.map(line => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]))
  }

  const configMap = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n  namespace: shop'

  it.each([
    ['helm', `---\n# Source: web/templates/cm.yaml\n${configMap}`],
    ['kustomize', configMap]
  ] as const)('%s gets the job environment without the action inputs or runtime tokens', async (tool, output) => {
    const env = await environmentOf(tool, output)
    expect(env.DEPLOY_TEST_KEPT).toBe('kept')
    expect(env.PATH).toBeTruthy()
    expect(Object.keys(env).filter(name => /^(INPUT_|ACTIONS_(RUNTIME|ID_TOKEN|CACHE|RESULTS))/i.test(name))).toEqual([])
    expect(Object.values(env).join('\n')).not.toMatch(/secret/)
  })
})

describe('helm-set on the way to helm', () => {
  it('is a values file only the runner user can read, passed last, and removed after rendering', async () => {
    const script = [
      'for arg in "$@"; do [ "$previous" = -f ] && file="$arg"; previous="$arg"; done',
      'echo "$file" > "$FAKE_OUT.path"',
      'stat -c %a "$file" > "$FAKE_OUT.mode"',
      'stat -c %a "$(dirname "$file")" > "$FAKE_OUT.dirmode"',
      'cat "$file" > "$FAKE_OUT.values"',
      'echo "$*" > "$FAKE_OUT.args"',
      "printf -- '---\\n# Source: web/templates/cm.yaml\\napiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: web\\n'"
    ].join('\n')
    const fake = fakeTool('helm', script)
    const out = path.join(fake.dir, 'out')
    const chart = fs.mkdtempSync(path.join(os.tmpdir(), 'helm-template-'))
    fs.writeFileSync(path.join(chart, 'Chart.yaml'), 'apiVersion: v2\nname: web\nversion: 0.1.0\n')
    fs.writeFileSync(path.join(chart, 'values-prod.yaml'), 'replicaCount: 2\n')
    const inputs = { GITHUB_SHA: 'abc', INPUT_SERVICE: 'web', 'INPUT_IMAGE-TAG': '2.0', INPUT_PLATFORM: 'kubernetes', INPUT_TEMPLATE: chart }
    const request = parseInputs({ ...inputs, 'INPUT_HELM-VALUES': `${chart}/values-prod.yaml`, 'INPUT_HELM-SET': 'db.password=hun,ter22\nbranch=a,b=c' }, () => undefined)
    const { renderedBy } = await loadKubernetesTemplate(request, 'shop', { ...fake.env, FAKE_OUT: out })
    const file = fs.readFileSync(`${out}.path`, 'utf8').trim()
    expect(fs.readFileSync(`${out}.mode`, 'utf8').trim()).toBe('600')
    expect(fs.readFileSync(`${out}.dirmode`, 'utf8').trim()).toBe('700')
    expect(JSON.parse(fs.readFileSync(`${out}.values`, 'utf8'))).toEqual({ db: { password: 'hun,ter22' }, branch: 'a,b=c' })
    // After the values files, so it overrides them as --set did; never the values on the command line.
    const args = fs.readFileSync(`${out}.args`, 'utf8')
    expect(args.trim().endsWith(`-f ${chart}/values-prod.yaml -f ${file}`)).toBe(true)
    expect(args).not.toContain('hun')
    expect(fs.existsSync(file)).toBe(false)
    expect(renderedBy).toContain("-f '<helm-set: db.password, branch>'")
    expect(renderedBy).not.toContain('hun')
  })
})
