// `npm run bundle`: ncc compiles src/ into dist/ (ESM, node24), platforms as separate chunks loaded on
// demand. ncc minifies only the entry file, so terser minifies the chunks (the Kubernetes client
// shrinks from ~19 MB to ~1.4 MB). Then checks that the entry never contains the Kubernetes client.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { minify } from 'terser'

const root = path.resolve(import.meta.dirname, '..')
const dist = path.join(root, 'dist')
fs.rmSync(dist, { recursive: true, force: true })
execFileSync(path.join(root, 'node_modules/.bin/ncc'), ['build', 'src/index.ts', '-o', 'dist', '--minify', '--license', 'licenses.txt', '--target', 'es2022', '--quiet'], {
  cwd: root,
  stdio: 'inherit'
})

for (const file of fs.readdirSync(dist).filter(f => /^\d+\.index\.js$/.test(f)).sort()) {
  const full = path.join(dist, file)
  const result = await minify(fs.readFileSync(full, 'utf8'), { module: true, compress: true, mangle: true })
  fs.writeFileSync(full, result.code)
}

const index = fs.readFileSync(path.join(dist, 'index.js'), 'utf8')
if (index.includes('@kubernetes/client-node') || index.includes('KubeConfig')) {
  console.error('dist/index.js contains the Kubernetes client: it must be loaded by dynamic import only')
  process.exit(1)
}
const sizes = fs
  .readdirSync(dist)
  .filter(f => f.endsWith('.js'))
  .map(f => `${f} ${(fs.statSync(path.join(dist, f)).size / 1024).toFixed(0)} KiB`)
console.log(`bundle: ${sizes.join(', ')}`)
