import { describe, expect, it } from '@jest/globals'
import { execFile, execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { parse } from 'yaml'

// The repository's workflows and the examples users copy are audited with zizmor (scripts/zizmor.sh):
// template injection, excessive permissions, actions not pinned by SHA. These tests run the real auditor,
// offline, over the real files, and over planted bad workflows so that the check is seen to fail.
// The release workflow is checked for the order immutable releases need, and its notes step is run.

const run = promisify(execFile)
const root = path.resolve(import.meta.dirname, '..')
const script = path.join(root, 'scripts/zizmor.sh')
const unsafe = path.join(root, 'test/fixtures/workflow-audit/unsafe.yml')

interface Result {
  code: number
  stdout: string
  stderr: string
}

async function zizmor(args: string[], cwd = root): Promise<Result> {
  return run('bash', [path.join(cwd, 'scripts/zizmor.sh'), ...args], { cwd, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({ code: error.code ?? 1, stdout: error.stdout ?? '', stderr: error.stderr ?? '' })
  )
}

/** zizmor's JSON findings as "audit file:line". */
function findings(stdout: string): string[] {
  const list = JSON.parse(stdout) as Array<{
    ident: string
    locations: Array<{ symbolic: { key: { Local?: { given_path?: string; verbatim_path?: string } } }; concrete: { location: { start_point: { row: number } } } }>
  }>
  return list.map(finding => {
    const [where] = finding.locations
    const key = where.symbolic.key.Local
    return `${finding.ident} ${path.basename(key?.given_path ?? key?.verbatim_path ?? '?')}:${where.concrete.location.start_point.row + 1}`
  })
}

const workflowFiles = (folder: string): string[] =>
  fs
    .readdirSync(path.join(root, folder))
    .filter(name => /\.ya?ml$/.test(name))
    .sort()
    .map(name => `${folder}/${name}`)
const audited = [...workflowFiles('.github/workflows'), ...workflowFiles('examples')]

const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8')
const readmeExamples = (() => {
  const from = readme.indexOf('<!-- examples:start -->')
  const to = readme.indexOf('<!-- examples:end -->')
  return [...readme.slice(from, to).matchAll(/```ya?ml\n([\s\S]*?)```/g)].map(match => match[1])
})()

describe('scripts/zizmor.sh', () => {
  it('finds nothing in .github/workflows/ and examples/, and audits every file of both (its default set)', async () => {
    const result = await zizmor(['--format=json'])
    expect({ code: result.code, findings: findings(result.stdout) }).toEqual({ code: 0, findings: [] })
    // zizmor logs each file it audited; a file it skipped would pass unseen.
    for (const file of audited) expect([file, result.stderr.includes(`completed ${file}`)]).toEqual([file, true])
    expect(audited.some(file => file.startsWith('examples/'))).toBe(true)
  }, 300_000)

  it("finds nothing in the README's example workflows", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zizmor-readme-'))
    try {
      const files = readmeExamples.map((block, i) => {
        const file = path.join(dir, `readme-example-${i + 1}.yml`)
        fs.writeFileSync(file, block)
        return file
      })
      expect(files.length).toBeGreaterThan(0)
      const result = await zizmor(['--format=json', ...files])
      expect({ code: result.code, findings: findings(result.stdout) }).toEqual({ code: 0, findings: [] })
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 300_000)

  it('fails on a planted unsafe workflow: a pull request title in run:, an unpinned action, write-all, credentials kept', async () => {
    const result = await zizmor(['--format=json', unsafe])
    expect(result.code).not.toBe(0)
    const found = findings(result.stdout)
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^template-injection unsafe\.yml:/),
        expect.stringMatching(/^unpinned-uses unsafe\.yml:/),
        expect.stringMatching(/^excessive-permissions unsafe\.yml:/),
        expect.stringMatching(/^artipacked unsafe\.yml:/)
      ])
    )
  }, 300_000)

  it('fails, naming the file, when that workflow is planted in .github/workflows/ of a copy of the repository layout', async () => {
    // A copy of the script and its configuration in a folder of their own: the repository's files never change.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zizmor-default-'))
    try {
      for (const folder of ['scripts', 'examples', '.github/workflows']) fs.mkdirSync(path.join(dir, folder), { recursive: true })
      fs.copyFileSync(script, path.join(dir, 'scripts/zizmor.sh'))
      fs.copyFileSync(path.join(root, '.github/zizmor.yml'), path.join(dir, '.github/zizmor.yml'))
      fs.copyFileSync(path.join(root, 'examples/rollback.yml'), path.join(dir, 'examples/rollback.yml'))
      fs.copyFileSync(unsafe, path.join(dir, '.github/workflows/unsafe.yml'))
      const result = await zizmor([], dir)
      expect(result.code).not.toBe(0)
      expect(result.stdout).toContain('.github/workflows/unsafe.yml')
      expect(result.stdout).toContain('template-injection')
      expect(result.stdout).not.toContain('examples/rollback.yml')
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 300_000)
})

describe('pinned actions', () => {
  // `uses: owner/repo[/path]@<40 hex> # vX.Y.Z`: the SHA is what runs, the comment is for people and Dependabot.
  const pinned = /^\s*(?:- )?uses:\s+([\w.-]+\/[\w.-]+(?:\/[\w./-]+)?)@([0-9a-f]{40}) # (v\d+\.\d+\.\d+)\s*$/
  const files = [...audited, 'README.md']
  const uses = files.flatMap(file =>
    fs
      .readFileSync(path.join(root, file), 'utf8')
      .split('\n')
      .map((line, i) => ({ where: `${file}:${i + 1}`, line }))
      .filter(({ line }) => /^\s*(?:- )?uses:\s/.test(line))
  )

  it('every action outside this repository is pinned by a full commit SHA with its version in a comment', () => {
    expect(uses.length).toBeGreaterThan(20)
    // Our own action: `./` in this repository's workflows; `@v1` in what users copy (the quick start's
    // SHA-pinned form has a placeholder, since no SHA can be known before the release).
    const ours = ({ where, line }: { where: string; line: string }): boolean =>
      where.startsWith('.github/') ? /uses:\s+\.\/\s*$/.test(line) : /uses:\s+acme\/deploy-service@(?:v1\s*$|<full commit SHA)/.test(line)
    const bad = uses.filter(use => !pinned.test(use.line) && !ours(use))
    expect(bad).toEqual([])
  })

  it('one version per SHA, and one SHA per action and version, across every file', () => {
    const byKey = new Map<string, Set<string>>()
    for (const { line } of uses) {
      const match = pinned.exec(line)
      if (!match) continue
      const [, action, sha, version] = match
      const repo = action.split('/').slice(0, 2).join('/')
      for (const key of [`${repo}@${sha}`, `${repo} ${version}`]) byKey.set(key, (byKey.get(key) ?? new Set()).add(key.includes('@') ? version : sha))
    }
    expect([...byKey].filter(([, values]) => values.size > 1).map(([key, values]) => `${key}: ${[...values].join(', ')}`)).toEqual([])
  })

  it('the README quick start shows our action both at @v1 and pinned by SHA with its version', () => {
    const quickStart = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('\n## ', readme.indexOf('## Quick start') + 1))
    expect(quickStart).toMatch(/uses: acme\/deploy-service@v1\n/)
    expect(quickStart).toMatch(/uses: acme\/deploy-service@<full commit SHA[^>]*> # v1\.y\.z\n/)
  })
})

type Step = { name?: string; uses?: string; run?: string; with?: Record<string, unknown> }
const release = parse(fs.readFileSync(path.join(root, '.github/workflows/release.yml'), 'utf8')) as {
  jobs: Record<string, { permissions?: Record<string, string>; steps: Step[] }>
}
const releaseSteps = Object.values(release.jobs).flatMap(job => job.steps)
const stepIndex = (pattern: RegExp): number => releaseSteps.findIndex(step => pattern.test(step.run ?? ''))

describe('release.yml', () => {
  it('drafts the release with its assets, publishes it, checks it is immutable, then moves the major tag', () => {
    const draft = stepIndex(/gh release create "v\$VERSION" --draft --target "\$RELEASE_SHA"[\s\S]*\.tar\.gz[\s\S]*SHA256SUMS/)
    const publish = stepIndex(/gh release edit "v\$VERSION" --draft=false/)
    const immutable = stepIndex(/--jq \.immutable\)" != true/)
    const major = stepIndex(/git\/refs\/tags\/\$major/)
    expect([draft, publish, immutable, major].every(i => i >= 0)).toBe(true)
    expect(draft).toBeLessThan(publish)
    expect(publish).toBeLessThanOrEqual(immutable)
    expect(immutable).toBeLessThan(major)
    // Nothing is uploaded to the release once it is published.
    expect(releaseSteps.slice(publish).some(step => /gh release upload/.test(step.run ?? ''))).toBe(false)
  })

  it('writes no tag but the major one, with the job token and no git credentials in the checkout', () => {
    const text = releaseSteps.map(step => step.run ?? '').join('\n')
    expect(text).not.toMatch(/git push|git tag (?!-l )/)
    const refsWritten = [...text.matchAll(/gh api -X (?:PATCH|POST) "repos\/\$GH_REPO\/git\/refs(\/tags\/[^"]*)?"[^\n]*/g)].map(([line]) => line)
    expect(refsWritten.length).toBe(2)
    for (const line of refsWritten) expect(line).toMatch(/tags\/\$major"|ref="refs\/tags\/\$major"/)
    const checkout = releaseSteps.find(step => step.uses?.startsWith('actions/checkout@'))
    expect(checkout?.with?.['persist-credentials']).toBe(false)
    expect(Object.values(release.jobs)[0].permissions).toEqual({ contents: 'write', actions: 'read', attestations: 'read' })
  })

  it("its notes step writes the changelog section, the tag's full commit SHA and the SHA-pinned uses: line, and attaches what uses: runs", () => {
    const notesStep = releaseSteps.find(step => step.name === 'Release notes and assets')
    expect(notesStep?.run).toBeDefined()
    const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'release-notes-'))
    try {
      const sha = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim()
      fs.writeFileSync(path.join(temp, 'changes.md'), '### Fixed\n- a fix\n')
      execFileSync('bash', ['-euo', 'pipefail', '-c', notesStep!.run!], {
        cwd: root,
        env: { ...process.env, VERSION: '1.4.2', RELEASE_SHA: sha, GH_REPO: 'acme/deploy-service', RUNNER_TEMP: temp },
        stdio: 'pipe'
      })
      const notes = fs.readFileSync(path.join(temp, 'notes.md'), 'utf8')
      expect(notes).toContain('- a fix')
      expect(notes).toContain(`\`v1.4.2\` and \`v1\` point to commit \`${sha}\``)
      expect(notes).toContain(`- uses: acme/deploy-service@${sha} # v1.4.2`)
      expect(notes).toContain('gh release verify v1.4.2 -R acme/deploy-service')
      const assets = path.join(temp, 'assets')
      const listing = execFileSync('tar', ['-tzf', path.join(assets, 'deploy-service-v1.4.2.tar.gz')], { encoding: 'utf8' }).split('\n')
      expect(listing).toEqual(expect.arrayContaining(['deploy-service-v1.4.2/action.yml', 'deploy-service-v1.4.2/dist/index.js']))
      expect(execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: assets, encoding: 'utf8' })).toContain('deploy-service-v1.4.2.tar.gz: OK')
    } finally {
      fs.rmSync(temp, { recursive: true, force: true })
    }
  })
})
