// `npm run bundle`: ncc compiles src/ into dist/ (ESM, node24), with source maps, the action itself and
// the platforms as separate chunks loaded on demand. ncc minifies only the entry file, so terser
// minifies the chunks (the Kubernetes client shrinks from ~19 MB to ~1.4 MB), carrying each chunk's map
// through so that it still points into src/. The maps keep no copy of the sources (stack traces need
// only the positions; src/ is in the repository), which keeps them small. Then checks that the entry
// never contains the Kubernetes client and that the maps name src/ files.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { minify } from 'terser'

const root = path.resolve(import.meta.dirname, '..')
const dist = path.join(root, 'dist')
fs.rmSync(dist, { recursive: true, force: true })
execFileSync(
  path.join(root, 'node_modules/.bin/ncc'),
  ['build', 'src/index.ts', '-o', 'dist', '--minify', '--source-map', '--no-source-map-register', '--license', 'licenses.txt', '--target', 'es2022', '--quiet'],
  { cwd: root, stdio: 'inherit' }
)

const mapOf = file => path.join(dist, `${file}.map`)
for (const file of fs.readdirSync(dist).filter(f => /^\d+\.index\.js$/.test(f)).sort()) {
  const full = path.join(dist, file)
  const result = await minify(fs.readFileSync(full, 'utf8'), {
    module: true,
    compress: true,
    mangle: true,
    sourceMap: { content: fs.readFileSync(mapOf(file), 'utf8'), url: `${file}.map` }
  })
  fs.writeFileSync(full, result.code)
  fs.writeFileSync(mapOf(file), result.map)
}

const problems = []
for (const file of fs.readdirSync(dist).filter(f => f.endsWith('.js.map'))) {
  const map = JSON.parse(fs.readFileSync(path.join(dist, file), 'utf8'))
  delete map.sourcesContent
  fs.writeFileSync(path.join(dist, file), JSON.stringify(map))
}
const mapped = fs
  .readdirSync(dist)
  .filter(f => f.endsWith('.js.map'))
  .flatMap(f => JSON.parse(fs.readFileSync(path.join(dist, f), 'utf8')).sources)
for (const source of ['src/index.ts', 'src/main.ts', 'src/rollout/engine.ts', 'src/platforms/ecs/index.ts']) {
  if (!mapped.some(s => path.resolve(dist, s) === path.join(root, source))) problems.push(`no source map maps to ${source}`)
}

const index = fs.readFileSync(path.join(dist, 'index.js'), 'utf8')
if (index.includes('@kubernetes/client-node') || index.includes('KubeConfig')) {
  problems.push('dist/index.js contains the Kubernetes client: it must be loaded by dynamic import only')
}
// update-scheduled-tasks loads the EventBridge and Scheduler clients by dynamic import: neither may sit in
// the entry or in the chunk of the ECS platform (the one holding its previous-task-definition tag).
for (const file of fs.readdirSync(dist).filter(f => f.endsWith('.js'))) {
  const code = fs.readFileSync(path.join(dist, file), 'utf8')
  const core = file === 'index.js' || code.includes('deploy-service:previous-task-definition')
  if (core && (code.includes('ListRuleNamesByTarget') || code.includes('UpdateSchedule'))) {
    problems.push(`dist/${file} contains the EventBridge or Scheduler client: it must be loaded by dynamic import only (update-scheduled-tasks)`)
  }
}
if (problems.length > 0) {
  console.error(problems.join('\n'))
  process.exit(1)
}
const kib = file => `${(fs.statSync(path.join(dist, file)).size / 1024).toFixed(0)} KiB`
const files = fs.readdirSync(dist).filter(f => f.endsWith('.js'))
console.log(`bundle: ${files.map(f => `${f} ${kib(f)} (map ${kib(`${f}.map`)})`).join(', ')}`)
