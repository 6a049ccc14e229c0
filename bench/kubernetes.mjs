// Kubernetes benchmark on the local cluster (test/cluster), run with Node 24 (`npx node bench/kubernetes.mjs`):
//   1. time from the rollout becoming complete to the action returning, against `kubectl rollout status`
//      on the same rollout (median of 5; target <= 0.3 s)
//   2. time to notice an unpullable image (target <= 30 s; the progress deadline others wait for is 600 s)
//   3. API requests made while waiting (watch) against a 1 s poller of the same three things
//   4. the pre-deploy Job: Complete -> verdict, and its log printed live (before its pod ended)
//   5. API requests while waiting for a 20-object set (one watch per kind and namespace), against one
//      list + watch per object
//   6. time from the last object of that set becoming ready (a slow Job completing) to the action
//      returning (median of 3; target <= 0.3 s)
// Prints one row per measure. Uses the cluster at KUBECONFIG / TEST_KUBECONFIG, else starts one and stops it.
import { execFile, spawn } from 'node:child_process'
import fs from 'node:fs'
import { register } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'

// The sources are TypeScript imported as `.js` (NodeNext); Node 24 strips the types, this maps the names.
register(
  'data:text/javascript,' +
    encodeURIComponent(`export async function resolve(specifier, context, next) {
  try { return await next(specifier, context) } catch (error) {
    if (error.code === 'ERR_MODULE_NOT_FOUND' && specifier.endsWith('.js') && specifier.startsWith('.')) return next(specifier.slice(0, -3) + '.ts', context)
    throw error
  }
}`)
)

const run = promisify(execFile)
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..')
const src = file => import(path.join(root, 'src', file))
const { parseInputs } = await src('inputs.ts')
const { createKubernetesPlatform } = await src('platforms/kubernetes/index.ts')
const { rolloutStatus } = await src('platforms/kubernetes/workloads/status.ts')
const { runDeployment } = await src('rollout/engine.ts')
const { Progress } = await src('rollout/progress.ts')
const { KubeConfig, Watch } = await import('@kubernetes/client-node')
const { startCountingProxy } = await import('./counting-proxy.mjs')

let started = false
let kubeconfig = process.env.TEST_KUBECONFIG || process.env.KUBECONFIG
if (!kubeconfig) {
  const { stdout } = await run('bash', [path.join(root, 'test/cluster/cluster.sh'), 'up'], { maxBuffer: 1 << 24, timeout: 45 * 60_000 })
  kubeconfig = stdout.trim().split('\n').pop()
  started = true
}
process.env.KUBECONFIG = kubeconfig
const kubectl = (...args) => run('kubectl', ['--kubeconfig', kubeconfig, ...args])
const namespace = `bench-${process.pid}`
await kubectl('create', 'namespace', namespace)
for (let i = 0; i < 100 && (await kubectl('-n', namespace, 'get', 'sa', 'default').then(() => false, () => true)); i++) await sleep(250)
// The action reaches the cluster through a proxy that counts its requests.
const proxy = await startCountingProxy(kubeconfig)
const proxyKubeconfig = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-proxy-')), 'kubeconfig')
fs.writeFileSync(proxyKubeconfig, proxy.kubeconfig, { mode: 0o600 })
// The action reads the standard chain (KUBECONFIG); the bench's own kubectl and watches use the cluster's.
process.env.KUBECONFIG = proxyKubeconfig

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-k8s-'))
const template = path.join(dir, 'web.yaml')
fs.writeFileSync(template, `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  strategy: {rollingUpdate: {maxUnavailable: 0, maxSurge: 1}}
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
      annotations: {deploy-service.test/ready-after: "2s"}
    spec:
      terminationGracePeriodSeconds: 0
      containers: [{name: web, image: registry.local/bench/web:0}]
`)

function sleep(ms) {
  return new Promise(resolve => setTimeout(resolve, ms))
}
const median = values => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

/** Runs one deploy in-process; `onApplied` fires when the manifests are applied, `onLine` at each log line. */
async function deploy(inputs, onApplied = () => {}, onLine = () => {}) {
  const env = { RUNNER_TEMP: dir, GITHUB_SHA: 'bench' }
  for (const [key, value] of Object.entries({ platform: 'kubernetes', template, namespace, service: 'web', ...inputs })) env[`INPUT_${key.toUpperCase()}`] = value
  const request = parseInputs(env)
  let atApply = { ...proxy.counts }
  const applied = () => {
    atApply = { ...proxy.counts }
    onApplied()
  }
  const progress = new Progress({
    info: line => {
      onLine(line)
      if (line.includes('applied deployment/web')) applied()
    },
    warning: () => {}
  })
  const result = await runDeployment(request, createKubernetesPlatform(request), progress)
  // Requests made while waiting: from the apply to the end.
  const counts = Object.fromEntries(Object.entries(proxy.counts).map(([key, value]) => [key, value - atApply[key]]))
  return { result, counts, progress }
}

/** Resolves with the time the deployment first reads as complete (kubectl's rule) after `since`. */
function completion(since, afterGeneration) {
  const config = new KubeConfig()
  config.loadFromFile(kubeconfig)
  return new Promise((resolve, reject) => {
    let controller
    new Watch(config)
      .watch(`/apis/apps/v1/namespaces/${namespace}/deployments`, { fieldSelector: 'metadata.name=web' }, (type, object) => {
        if (performance.now() > since && rolloutStatus({ ...object, kind: 'Deployment' }).done && object.metadata.generation > afterGeneration) {
          resolve(performance.now())
          controller?.abort()
        }
      }, error => error && error.name !== 'AbortError' && reject(error))
      .then(c => (controller = c), reject)
  })
}

await deploy({ 'image-tag': '0' })

const ours = []
const theirs = []
const requests = []
for (let i = 1; i <= 5; i++) {
  const since = performance.now()
  const { stdout: generation } = await kubectl('-n', namespace, 'get', 'deployment', 'web', '-o', 'jsonpath={.metadata.generation}')
  const complete = completion(since, Number(generation))
  let kubectlDone
  const { result, counts, progress } = await deploy({ 'image-tag': String(i) }, () => {
    kubectlDone = new Promise(resolve => {
      const child = spawn('kubectl', ['--kubeconfig', kubeconfig, '-n', namespace, 'rollout', 'status', 'deployment/web', '--timeout=5m'], { stdio: 'ignore' })
      child.on('exit', () => resolve(performance.now()))
    })
  })
  const ourExit = performance.now()
  const completeAt = await complete
  if (result.status !== 'succeeded') throw new Error(`bench rollout ${i} ended ${result.status}: ${result.message}`)
  ours.push(ourExit - completeAt)
  theirs.push((await kubectlDone) - completeAt)
  const waitSeconds = (progress.elapsedMs() - (progress.timeline.find(t => t.message.startsWith('applied'))?.atMs ?? 0)) / 1000
  // `other` counts every request but watches (lists included).
  requests.push({ watch: counts.watches + counts.other, poll: Math.ceil(waitSeconds) * 3 })
}

const noticed = []
for (let i = 0; i < 3; i++) {
  let appliedAt = 0
  const { result } = await deploy({ 'image-tag': 'missing', 'rollback-on-failure': 'false', timeout: '5m' }, () => (appliedAt = performance.now()))
  noticed.push(performance.now() - appliedAt)
  if (result.status !== 'failed') throw new Error(`the unpullable image was not noticed: ${result.status}`)
  await deploy({ 'image-tag': 'ok' })
}

// The pre-deploy Job (fake nodes: its pod, with the template's ready-after 2s and an image with
// "job-succeeds", runs about 3 s, printing its lines at once): from the Job's Complete condition (as
// a watcher sees it) to the action's verdict, beside the job controller's own delay from the pod's end
// to Complete; and whether its log lines were printed while it ran (live) or only at the end.
const jobVerdicts = []
const logLead = []
for (let i = 0; i < 3; i++) {
  const config = new KubeConfig()
  config.loadFromFile(kubeconfig)
  const endedAt = new Map()
  const watcher = await new Watch(config).watch(`/api/v1/namespaces/${namespace}/pods`, { labelSelector: 'deploy-service/phase=pre-deploy' }, (type, pod) => {
    const job = pod.metadata.labels?.['job-name']
    if (pod.status?.phase === 'Succeeded' && !endedAt.has(job)) endedAt.set(job, performance.now())
  }, () => {})
  const completeAt = new Map()
  const jobWatcher = await new Watch(config).watch(`/apis/batch/v1/namespaces/${namespace}/jobs`, {}, (type, job) => {
    const complete = job.status?.conditions?.some(c => c.type === 'Complete' && c.status === 'True')
    if (complete && !completeAt.has(job.metadata.name)) completeAt.set(job.metadata.name, performance.now())
  }, () => {})
  let firstLogAt = 0
  let verdictAt = 0
  const { result } = await deploy(
    { 'image-tag': `job-succeeds-${i}`, 'pre-deploy-command': '["./migrate"]', vars: '' },
    () => {},
    line => {
      if (!firstLogAt && /: \[test-cluster\]/.test(line)) firstLogAt = performance.now()
      if (!verdictAt && / completed \(exit code 0\)/.test(line)) verdictAt = performance.now()
    }
  ).then(r => r, error => ({ result: { status: 'error', message: String(error) } }))
  watcher.abort()
  jobWatcher.abort()
  const ended = endedAt.get(result.outputs?.['pre-deploy-task'])
  const complete = completeAt.get(result.outputs?.['pre-deploy-task'])
  if (result.status !== 'succeeded' || !ended || !complete || !verdictAt) throw new Error(`bench pre-deploy ${i} ended ${result.status}: ${result.message}`)
  jobVerdicts.push({ verdict: verdictAt - complete, controller: complete - ended })
  logLead.push(ended - firstLogAt)
}

// A 20-object set: 1 Deployment, 6 ConfigMaps, 2 Secrets, 3 ClusterIP Services, 2 LoadBalancer Services
// (not waited for here), 3 Jobs, 2 Pods, 1 ServiceAccount. The Job `slow` completes last (its pod is
// ready after 4 s, then succeeds), so its completion is the moment the set is ready.
const setDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-k8s-set-'))
const setFiles = {
  ...Object.fromEntries([1, 2, 3, 4, 5, 6].map(i => [`cm-${i}.yaml`, `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-${i}}\ndata: {run: "\${RUN}"}\n`])),
  ...Object.fromEntries([1, 2].map(i => [`secret-${i}.yaml`, `apiVersion: v1\nkind: Secret\nmetadata: {name: secret-${i}}\nstringData: {run: "\${RUN}"}\n`])),
  ...Object.fromEntries([1, 2, 3].map(i => [`svc-${i}.yaml`, `apiVersion: v1\nkind: Service\nmetadata: {name: svc-${i}}\nspec: {selector: {app: web20}, ports: [{port: 80}]}\n`])),
  ...Object.fromEntries([1, 2].map(i => [`lb-${i}.yaml`, `apiVersion: v1\nkind: Service\nmetadata: {name: lb-${i}}\nspec: {type: LoadBalancer, selector: {app: web20}, ports: [{port: 80}]}\n`])),
  ...Object.fromEntries(['a', 'b', 'slow'].map(name => [`job-${name}.yaml`, `apiVersion: batch/v1\nkind: Job\nmetadata: {name: ${name}-\${RUN}}\nspec:\n  template:\n    metadata: {annotations: {deploy-service.test/ready-after: "${name === 'slow' ? '4s' : '1s'}"}}\n    spec:\n      restartPolicy: Never\n      containers: [{name: job, image: registry.local/bench/job:1}]\n`])),
  ...Object.fromEntries([1, 2].map(i => [`pod-${i}.yaml`, `apiVersion: v1\nkind: Pod\nmetadata: {name: pod-${i}-\${RUN}}\nspec:\n  terminationGracePeriodSeconds: 0\n  containers: [{name: pod, image: registry.local/bench/pod:1}]\n`])),
  'sa.yaml': 'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: web20}\n',
  'z-web20.yaml': fs.readFileSync(template, 'utf8').replaceAll('web', 'web20').replace('replicas: 2', 'replicas: 1')
}
for (const [name, text] of Object.entries(setFiles)) fs.writeFileSync(path.join(setDir, name), text)

/** Resolves with the time Job `name` first reads as Complete. */
function jobComplete(name) {
  const config = new KubeConfig()
  config.loadFromFile(kubeconfig)
  return new Promise((resolve, reject) => {
    let controller
    new Watch(config)
      .watch(`/apis/batch/v1/namespaces/${namespace}/jobs`, { fieldSelector: `metadata.name=${name}` }, (type, object) => {
        if (object.status?.conditions?.some(c => c.type === 'Complete' && c.status === 'True')) {
          resolve(performance.now())
          controller?.abort()
        }
      }, error => error && error.name !== 'AbortError' && reject(error))
      .then(c => (controller = c), reject)
  })
}

const setExit = []
const setRequests = []
for (let run = 1; run <= 3; run++) {
  const complete = jobComplete(`slow-${run}`)
  const { result, counts, progress } = await deploy({ service: 'web20', template: setDir, 'image-tag': '0', vars: `RUN=${run}`, 'wait-for-load-balancers': 'false' })
  const exitAt = performance.now()
  if (result.status !== 'succeeded') throw new Error(`bench set ${run} ended ${result.status}: ${result.message}`)
  if (result.objects?.length !== 20) throw new Error(`the set has ${result.objects?.length} objects, not 20`)
  setExit.push(exitAt - (await complete))
  const waitSeconds = (progress.elapsedMs() - (progress.timeline.findLast(t => t.message.startsWith('applied'))?.atMs ?? 0)) / 1000
  setRequests.push({ ...counts, seconds: waitSeconds })
}

await proxy.close()
await kubectl('delete', 'namespace', namespace, '--wait=false')
if (started) await run('bash', [path.join(root, 'test/cluster/cluster.sh'), 'down'])

const ms = value => `${(value / 1000).toFixed(3)} s`
console.log('| kubernetes measure | deploy-service | reference | target |')
console.log('|---|---|---|---|')
console.log(`| rollout complete -> exit (median of 5) | ${ms(median(ours))} | kubectl rollout status: ${ms(median(theirs))} | <= 0.3 s |`)
console.log(`| unpullable image noticed after apply (median of 3) | ${ms(median(noticed))} | progress deadline: 600 s | <= 30 s |`)
console.log(`| pre-deploy Job: Complete -> verdict (median of 3) | ${ms(median(jobVerdicts.map(j => j.verdict)))} | its pod's end -> Complete (the job controller): ${ms(median(jobVerdicts.map(j => j.controller)))} | <= 0.3 s |`)
console.log(`| pre-deploy Job: first log line printed before its pod ended (median of 3) | ${ms(median(logLead))} earlier (live) | at the end: 0 s | > 0 (live) |`)
const setMedian = setRequests[Math.floor(setRequests.length / 2)]
console.log(`| API requests while waiting (median of 5) | ${median(requests.map(r => r.watch))} (list + watch) | ${median(requests.map(r => r.poll))} (1 s poll of workload, pods, events) | fewer |`)
console.log(`| API requests while waiting for a 20-object set (run 2 of 3, ${setMedian.seconds.toFixed(1)} s) | ${setMedian.watches + setMedian.other} (${setMedian.lists} lists, ${setMedian.watches} watches, ${setMedian.other - setMedian.lists} other) | one list + watch per object: 40, plus pods and events | one watch per kind |`)
console.log(`| last object of a 20-object set ready -> exit (median of 3) | ${ms(median(setExit))} | | <= 0.3 s |`)
