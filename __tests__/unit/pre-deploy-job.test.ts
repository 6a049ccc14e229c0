// The pre-deploy Job as built from a workload (no server): what it keeps of the pod template, what it
// leaves out, its name and labels, and the errors for a container that is not there.
import { describe, expect, it } from '@jest/globals'
import { UserError } from '../../src/errors.js'
import { parseInputs } from '../../src/inputs.js'
import type { KubeObject, Manifest } from '../../src/render/manifests.js'
import { jobFromWorkload, jobName, jobVerdict, jobsFromManifests } from '../../src/platforms/kubernetes/pre-deploy/jobs.js'

function request(inputs: Record<string, string>) {
  const env = Object.fromEntries(Object.entries({ service: 'orders', 'image-tag': '2.0', platform: 'kubernetes', ...inputs }).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, v]))
  return parseInputs({ ...env, GITHUB_SHA: 'abc', GITHUB_RUN_ID: '123456789', GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'acme/shop' })
}

const workload: KubeObject = {
  apiVersion: 'apps/v1',
  kind: 'StatefulSet',
  metadata: { name: 'orders' },
  spec: {
    template: {
      metadata: { labels: { app: 'orders' }, annotations: { 'vault.example/inject': 'true' } },
      spec: {
        serviceAccountName: 'orders',
        volumes: [{ name: 'config', configMap: { name: 'orders' } }],
        initContainers: [{ name: 'wait-for-db', image: 'busybox' }],
        containers: [
          {
            name: 'orders',
            image: 'registry.example/orders:2.0',
            args: ['serve'],
            env: [{ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'db', key: 'url' } } }],
            ports: [{ containerPort: 8080, hostPort: 8080 }],
            readinessProbe: { httpGet: { path: '/health', port: 8080 } },
            livenessProbe: { httpGet: { path: '/health', port: 8080 } },
            volumeMounts: [
              { name: 'config', mountPath: '/etc/orders' },
              { name: 'data', mountPath: '/data' }
            ]
          },
          { name: 'proxy', image: 'envoy:1.30' }
        ]
      }
    },
    volumeClaimTemplates: [{ metadata: { name: 'data' } }]
  }
}

describe('the pre-deploy Job made from a workload', () => {
  it('runs the command in the target container of the rendered template, and nothing else of the app', () => {
    const { job, container } = jobFromWorkload(workload, request({ 'pre-deploy-command': '["./migrate", "up"]' }), ['orders'], 'shop')
    expect(container).toBe('orders')
    expect(job.metadata).toMatchObject({ namespace: 'shop', labels: { 'deploy-service/service': 'orders', 'deploy-service/run-id': '123456789', 'deploy-service/phase': 'pre-deploy' } })
    const spec = job.spec as Record<string, any>
    expect(spec).toMatchObject({ backoffLimit: 0, ttlSecondsAfterFinished: 86400, activeDeadlineSeconds: 660 })
    const pod = spec.template.spec
    expect(pod.restartPolicy).toBe('Never')
    expect(pod.serviceAccountName).toBe('orders')
    expect(pod.initContainers).toEqual([{ name: 'wait-for-db', image: 'busybox' }])
    expect(pod.containers).toEqual([
      {
        name: 'orders',
        image: 'registry.example/orders:2.0',
        command: ['./migrate', 'up'],
        env: [{ name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'db', key: 'url' } } }],
        // The claim-template volume is the StatefulSet's alone.
        volumeMounts: [{ name: 'config', mountPath: '/etc/orders' }]
      }
    ])
    // The app's labels would make a Service send it traffic; the annotations (injection, say) are kept.
    expect(spec.template.metadata.labels.app).toBeUndefined()
    expect(spec.template.metadata.annotations).toEqual({ 'vault.example/inject': 'true' })
    // The workload itself is not changed.
    expect((workload.spec as any).template.spec.containers[0].args).toEqual(['serve'])
  })

  it('runs in pre-deploy-container when given, and names the containers when it is not there', () => {
    expect(jobFromWorkload(workload, request({ 'pre-deploy-command': 'true', 'pre-deploy-container': 'proxy' }), ['orders'], 'shop').container).toBe('proxy')
    const attempt = () => jobFromWorkload(workload, request({ 'pre-deploy-command': 'true', 'pre-deploy-container': 'app' }), ['orders'], 'shop')
    expect(attempt).toThrow(UserError)
    expect(attempt).toThrow("input 'pre-deploy-container': statefulset/orders has no container 'app' to run the pre-deploy command in; its containers are 'orders', 'proxy'")
  })

  it('names the Job after the service and the run, within 63 characters', () => {
    expect(jobName('orders', '123456789')).toMatch(/^orders-pre-deploy-123456789-[0-9a-f]{4}$/)
    const long = jobName('a'.repeat(80), '98765432101234')
    expect(long.length).toBeLessThanOrEqual(63)
    expect(long).toMatch(/^a+-pre-deploy-5432101234-[0-9a-f]{4}$/)
    expect(jobName('orders', '1')).not.toBe(jobName('orders', '1'))
  })

  it('reads the verdict from the Job controller\'s conditions', () => {
    expect(jobVerdict({ conditions: [{ type: 'Complete', status: 'True' }] })).toEqual({ state: 'succeeded' })
    expect(jobVerdict({ conditions: [{ type: 'Failed', status: 'True', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' }] })).toEqual({
      state: 'failed',
      reason: 'DeadlineExceeded: Job was active longer than specified deadline'
    })
    expect(jobVerdict({ conditions: [{ type: 'FailureTarget', status: 'True' }], active: 1 })).toBeUndefined()
  })
})

describe('a pre-deploy Job of the set', () => {
  const manifest = (object: KubeObject): Manifest => ({ object, source: { file: 'migrate.yaml', index: 0, value: object, locate: () => ({ file: 'migrate.yaml', line: 3 }) } })
  const job = (containers: string[]): KubeObject => ({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'migrate', annotations: { 'deploy-service/phase': 'pre-deploy' } },
    spec: { template: { spec: { containers: containers.map(name => ({ name, image: 'x' })) } } }
  })

  it('is found by its annotation, with its only container', () => {
    const plain = { ...job(['a']), metadata: { name: 'other' } }
    expect(jobsFromManifests([manifest(job(['migrate'])), manifest(plain)], request({})).map(j => [j.job.metadata.name, j.container, j.origin])).toEqual([['migrate', 'migrate', 'manifest']])
  })

  it('must have exactly one container, and is not combined with pre-deploy-command', () => {
    expect(() => jobsFromManifests([manifest(job(['a', 'b']))], request({}))).toThrow('migrate.yaml:3: the pre-deploy job/migrate must have exactly one container (it has 2)')
    expect(() => jobsFromManifests([manifest(job(['a']))], request({ 'pre-deploy-command': 'true' }))).toThrow("input 'pre-deploy-command': the template has a pre-deploy Job (job/migrate, migrate.yaml:3)")
  })
})
