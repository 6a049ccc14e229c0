// After `ncc build`: the Kubernetes client must live only in chunks an ECS deploy never loads.
import fs from 'node:fs'
import path from 'node:path'

const dist = path.resolve(import.meta.dirname, '..', 'dist')
const index = fs.readFileSync(path.join(dist, 'index.js'), 'utf8')
if (index.includes('@kubernetes/client-node') || index.includes('KubeConfig')) {
  console.error('dist/index.js contains the Kubernetes client: it must be loaded by dynamic import only')
  process.exit(1)
}
const sizes = fs.readdirSync(dist).filter(f => f.endsWith('.js')).map(f => `${f} ${(fs.statSync(path.join(dist, f)).size / 1024).toFixed(0)} KiB`)
console.log(`bundle ok: ${sizes.join(', ')}`)
