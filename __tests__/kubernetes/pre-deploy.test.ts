// The pre-deploy Job on the local cluster: made from the target workload (or annotated in the set),
// followed to Complete or Failed, its log streamed, deleted on timeout; the workload changes only
// after it succeeded. The fake nodes' conventions (test/cluster/README.md): a Job's pod whose image
// contains "job-succeeds" / "job-fails" ends with exit code 0 / deploy-service.test/exit-code after
// deploy-service.test/runs-for; a container named "migrate" prints migration lines.
import os from 'node:os'
import { expect, it } from '@jest/globals'
import { parseInputs } from '../../src/inputs.js'
import { loadPlatform } from '../../src/platforms/choose.js'
import { Cancelled } from '../../src/rollout/deadline.js'
import { runDeployment } from '../../src/rollout/engine.js'
import { Progress } from '../../src/rollout/progress.js'
import { deploy, expectStatus, getJson, kubeconfig, kubectl, templateDir, withCluster, inNamespace } from './cluster.js'

const REGISTRY = 'registry.local/shop'

/** A Deployment `name` whose only container is `migrate` (so a Job made from it logs migration lines). */
function app(name: string, annotations: Record<string, string> = {}, extra = ''): string {
  const notes = Object.keys(annotations).length ? `\n      annotations: ${JSON.stringify(annotations)}` : ''
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
spec:
  replicas: 1
  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}${notes}
    spec:
      terminationGracePeriodSeconds: 0
      containers:
      - name: migrate
        image: ${REGISTRY}/${name}:1.0
        ports: [{containerPort: 8080}]
        readinessProbe: {httpGet: {path: /health, port: 8080}}
${extra}`
}

withCluster('the Kubernetes pre-deploy Job', () => {
  let ns = ''
  inNamespace('k8s-predeploy', name => (ns = name))

  const imageOf = async (name: string): Promise<string> => (await getJson(ns, 'deployment', name)).spec.template.spec.containers[0].image as string
  const generationOf = async (name: string): Promise<number> => (await getJson(ns, 'deployment', name)).metadata.generation as number

  it('runs the command from the new image to completion, streams its log, then rolls out the workload', async () => {
    const template = templateDir({ 'app.yaml': app('orders') })
    expectStatus(await deploy({ service: 'orders', 'image-tag': '1.0', template, namespace: ns }), 'succeeded')
    const run = await deploy({ service: 'orders', 'image-tag': '2.0-job-succeeds', template, namespace: ns, 'pre-deploy-command': '["./migrate", "up"]' })
    expectStatus(run, 'succeeded')
    const jobName = run.result!.outputs['pre-deploy-task']
    expect(jobName).toMatch(/^orders-pre-deploy-1001-[0-9a-f]{4}$/)
    expect(run.result!.outputs['pre-deploy-exit-code']).toBe('0')
    // Streamed as it came, before the workload was touched.
    const lines = run.log.split('\n')
    const logAt = lines.findIndex(l => l.includes(`${jobName}: [test-cluster] migrate: applying 0002_add_orders_index`))
    const applyAt = lines.findIndex(l => l.includes('applied deployment/orders'))
    expect(logAt).toBeGreaterThan(-1)
    expect(applyAt).toBeGreaterThan(logAt)
    expect(await imageOf('orders')).toBe(`${REGISTRY}/orders:2.0-job-succeeds`)
    const job = await getJson(ns, 'job', jobName)
    expect(job.spec).toMatchObject({ backoffLimit: 0, ttlSecondsAfterFinished: 86400 })
    expect(job.metadata.labels).toMatchObject({ 'deploy-service/service': 'orders', 'deploy-service/run-id': '1001', 'deploy-service/phase': 'pre-deploy' })
    const pod = job.spec.template.spec
    expect(pod.restartPolicy).toBe('Never')
    expect(pod.containers).toHaveLength(1)
    expect(pod.containers[0]).toMatchObject({ name: 'migrate', image: `${REGISTRY}/orders:2.0-job-succeeds`, command: ['./migrate', 'up'] })
    expect(pod.containers[0].readinessProbe).toBeUndefined()
    // Never one of the app's pods: a Service selecting app=orders must not send it traffic.
    expect(job.spec.template.metadata.labels.app).toBeUndefined()
    expect(job.status.conditions.find((c: { type: string }) => c.type === 'Complete')?.status).toBe('True')
  }, 180_000)

  it('stops before the rollout when the Job fails: exit code and log tail in the reasons, the workload untouched', async () => {
    const template = templateDir({ 'app.yaml': app('billing', { 'deploy-service.test/exit-code': '3' }) })
    expectStatus(await deploy({ service: 'billing', 'image-tag': '1.0', template, namespace: ns }), 'succeeded')
    const generation = await generationOf('billing')
    // No template: the Job comes from the live workload, with the new image.
    const run = await deploy({ service: 'billing', 'image-tag': '2.0-job-fails', namespace: ns, 'pre-deploy-command': './migrate up' })
    expectStatus(run, 'failed')
    const reasons = run.result!.reasons.join('\n')
    expect(reasons).toMatch(/the pre-deploy step failed: job\/billing-pre-deploy-1001-[0-9a-f]{4} failed \(exit code 3; BackoffLimitExceeded/)
    expect(reasons).toContain('[test-cluster] migrate: applying 0002_add_orders_index')
    expect(run.result!.message).toContain('the service was not changed')
    expect(run.result!.outputs['pre-deploy-exit-code']).toBe('3')
    expect(await imageOf('billing')).toBe(`${REGISTRY}/billing:1.0`)
    expect(await generationOf('billing')).toBe(generation)
    const job = await getJson(ns, 'job', run.result!.outputs['pre-deploy-task'])
    expect(job.spec.template.spec.containers[0].command).toEqual(['sh', '-c', './migrate up'])
  }, 180_000)

  it('deletes a Job that outlives pre-deploy-timeout, and leaves the workload alone', async () => {
    const template = templateDir({ 'app.yaml': app('search', { 'deploy-service.test/runs-for': '10m' }) })
    expectStatus(await deploy({ service: 'search', 'image-tag': '1.0', template, namespace: ns }), 'succeeded')
    const started = Date.now()
    const run = await deploy({ service: 'search', 'image-tag': '2.0-job-succeeds', template, namespace: ns, 'pre-deploy-command': '["./reindex"]', 'pre-deploy-timeout': '4s' })
    expectStatus(run, 'failed')
    expect(Date.now() - started).toBeLessThan(30_000)
    const jobName = run.result!.outputs['pre-deploy-task']
    expect(run.result!.message).toContain('the pre-deploy step timed out')
    expect(run.result!.reasons.join('\n')).toContain(`job/${jobName}: it did not finish within pre-deploy-timeout`)
    expect(run.result!.reasons.join('\n')).toContain('the Job was deleted')
    expect(run.log).toContain(`deleted job/${jobName} and its pod (propagation Background)`)
    const left = await kubectl(['-n', ns, 'get', 'job', jobName, '-o', 'jsonpath={.metadata.deletionTimestamp}'])
    expect(left.code !== 0 || left.stdout !== '').toBe(true)
    expect(await imageOf('search')).toBe(`${REGISTRY}/search:1.0`)
  }, 180_000)

  it('fails at once, without waiting for the timeout, when the Job\'s pod can never start', async () => {
    const template = templateDir({ 'app.yaml': app('pull-me') })
    expectStatus(await deploy({ service: 'pull-me', 'image-tag': '1.0', template, namespace: ns }), 'succeeded')
    const started = Date.now()
    const run = await deploy({ service: 'pull-me', 'image-tag': 'missing', template, namespace: ns, 'pre-deploy-command': '["./migrate"]', 'pre-deploy-timeout': '5m' })
    expectStatus(run, 'failed')
    expect(Date.now() - started).toBeLessThan(60_000)
    const reasons = run.result!.reasons.join('\n')
    expect(reasons).toMatch(/could not run: pod pull-me-pre-deploy-1001-[0-9a-f]{4}-\w+, container migrate: (ErrImagePull|ImagePullBackOff).*not found/)
    expect(reasons).toContain('the Job was deleted')
    expect(await imageOf('pull-me')).toBe(`${REGISTRY}/pull-me:1.0`)
  }, 120_000)

  it('deletes the Job when the run is cancelled while it runs', async () => {
    const template = templateDir({ 'app.yaml': app('cancel-me', { 'deploy-service.test/runs-for': '10m' }) })
    expectStatus(await deploy({ service: 'cancel-me', 'image-tag': '1.0', template, namespace: ns }), 'succeeded')
    const inputs = { service: 'cancel-me', 'image-tag': '2.0-job-succeeds', template, namespace: ns, platform: 'kubernetes', kubeconfig: (await import('node:fs')).readFileSync(kubeconfig, 'utf8'), 'pre-deploy-command': '["./migrate"]' }
    const request = parseInputs({ ...Object.fromEntries(Object.entries(inputs).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, v])), RUNNER_TEMP: os.tmpdir(), GITHUB_RUN_ID: '77' })
    const cancel = new AbortController()
    const lines: string[] = []
    const progress = new Progress({ info: l => lines.push(l), warning: l => lines.push(l) })
    const platform = await loadPlatform('kubernetes', request, cancel.signal)
    const running = runDeployment(request, platform, progress, cancel.signal)
    // Cancelled once its pod runs (its log has started).
    for (let i = 0; i < 100 && !lines.some(l => l.includes('migrate: started')); i++) await new Promise(resolve => setTimeout(resolve, 100))
    expect(lines.some(l => l.includes('migrate: started'))).toBe(true)
    cancel.abort(new Cancelled('SIGINT'))
    const result = await running
    expect(result.status).toBe('failed')
    expect(result.message).toContain('the pre-deploy step cancelled')
    const jobName = result.outputs['pre-deploy-task']
    expect(result.reasons.join('\n')).toContain(`job/${jobName}: the run was cancelled`)
    expect(lines.join('\n')).toContain(`deleted job/${jobName} and its pod (propagation Background)`)
    const left = await kubectl(['-n', ns, 'get', 'job', jobName, '-o', 'jsonpath={.metadata.deletionTimestamp}'])
    expect(left.code !== 0 || left.stdout !== '').toBe(true)
    expect(await imageOf('cancel-me')).toBe(`${REGISTRY}/cancel-me:1.0`)
  }, 180_000)

  it('runs a Job of the set annotated as pre-deploy first and alone, and again on the next deploy', async () => {
    const job = `---
apiVersion: batch/v1
kind: Job
metadata:
  name: catalog-migrate
  annotations: {deploy-service/phase: pre-deploy}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: ${REGISTRY}/catalog:\${IMAGE_TAG}
        command: [./migrate, up]
`
    const template = templateDir({ 'app.yaml': app('catalog'), 'migrate.yaml': job })
    const first = await deploy({ service: 'catalog', 'image-tag': '1.0-job-succeeds', template, namespace: ns })
    expectStatus(first, 'succeeded')
    expect(first.result!.outputs['pre-deploy-task']).toBe('catalog-migrate')
    expect(first.log).toContain('catalog-migrate: [test-cluster] migrate: applying 0001_create_orders')
    expect(first.log).not.toContain('applied job/catalog-migrate')
    const second = await deploy({ service: 'catalog', 'image-tag': '2.0-job-fails', template, namespace: ns })
    expectStatus(second, 'failed')
    expect(second.log).toContain('deleted the finished job/catalog-migrate of an earlier deploy, to run it again')
    expect(second.result!.reasons.join('\n')).toMatch(/job\/catalog-migrate failed \(exit code 1;/)
    expect(await imageOf('catalog')).toBe(`${REGISTRY}/catalog:1.0-job-succeeds`)
  }, 180_000)

  it('refuses to run a Job of the set again while the earlier one is still being deleted (a finalizer holds it)', async () => {
    const job = `apiVersion: batch/v1
kind: Job
metadata:
  name: held-migrate
  annotations: {deploy-service/phase: pre-deploy}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: ${REGISTRY}/held:\${IMAGE_TAG}
        command: [./migrate, up]
`
    const template = templateDir({ 'app.yaml': app('held'), 'migrate.yaml': job })
    expectStatus(await deploy({ service: 'held', 'image-tag': '1.0-job-succeeds', template, namespace: ns }), 'succeeded')
    await kubectl(['-n', ns, 'patch', 'job', 'held-migrate', '--type=merge', '-p', '{"metadata":{"finalizers":["deploy-service.test/hold"]}}'])
    try {
      const second = await deploy({ service: 'held', 'image-tag': '2.0-job-succeeds', template, namespace: ns })
      expect(`${second.error?.message ?? ''}\n${second.result?.reasons.join('\n') ?? ''}`).toContain('job/held-migrate of an earlier deploy is still being deleted')
      // Nothing was applied onto the dying Job, and the workload was left alone.
      const live = await getJson(ns, 'job', 'held-migrate')
      expect(live.metadata.deletionTimestamp).toBeDefined()
      expect(live.spec.template.spec.containers[0].image).toBe(`${REGISTRY}/held:1.0-job-succeeds`)
      expect(await imageOf('held')).toBe(`${REGISTRY}/held:1.0-job-succeeds`)
    } finally {
      await kubectl(['-n', ns, 'patch', 'job', 'held-migrate', '--type=merge', '-p', '{"metadata":{"finalizers":null}}'])
    }
  }, 180_000)

  it('takes the pod\'s word when a Job of the set is removed by its own TTL of 0 as it completes', async () => {
    const job = `apiVersion: batch/v1
kind: Job
metadata:
  name: brief-migrate
  annotations: {deploy-service/phase: pre-deploy}
spec:
  backoffLimit: 0
  ttlSecondsAfterFinished: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: ${REGISTRY}/brief:\${IMAGE_TAG}
`
    const template = templateDir({ 'app.yaml': app('brief'), 'migrate.yaml': job })
    const run = await deploy({ service: 'brief', 'image-tag': '1.0-job-succeeds', template, namespace: ns, timeout: '1m' })
    expectStatus(run, 'succeeded')
    expect(run.result!.outputs['pre-deploy-exit-code']).toBe('0')
  }, 120_000)

  it('shows the Job in a dry run and a render, and runs nothing', async () => {
    const template = templateDir({ 'app.yaml': app('render-me') })
    const dry = await deploy({ service: 'render-me', 'image-tag': '1.0', template, namespace: ns, 'dry-run': 'true', 'pre-deploy-command': '["./migrate"]' })
    expectStatus(dry, 'dry-run')
    expect(dry.log).toMatch(/before the rollout: Kubernetes job\/render-me-pre-deploy-1001-[0-9a-f]{4}: container migrate \["\.\/migrate"\], image registry\.local\/shop\/render-me:1\.0/)
    expect(dry.result!.diff).toContain('kind: Job')
    const rendered = await deploy({ service: 'render-me', 'image-tag': '1.0', template, namespace: ns, mode: 'render', 'pre-deploy-command': '["./migrate"]' })
    expectStatus(rendered, 'rendered')
    expect(rendered.log).toMatch(/kind: Job[\s\S]*command:\n\s+- \.\/migrate/)
    expect((await kubectl(['-n', ns, 'get', 'jobs', '-o', 'name'])).stdout).not.toContain('render-me')
  }, 120_000)
})
