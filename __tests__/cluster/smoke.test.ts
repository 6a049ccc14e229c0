// Smoke tests of the loopback test cluster itself (test/cluster): real controllers roll workloads
// out, kwok's stages make pods fail the documented ways, logs are served, and a watch survives a
// kube-apiserver restart. The cluster is started by jest's global setup (`cluster.sh up`).
import { afterAll, describe, expect, it } from '@jest/globals'
import {
  apply,
  clusterAvailable,
  clusterSh,
  createNamespace,
  deleteNamespace,
  getJson,
  kubectl,
  kubectlOk,
  kubectlStream,
  limitedKubeconfigPath,
  waitFor
} from './kube.js'

interface ContainerState {
  waiting?: { reason?: string; message?: string }
  running?: { startedAt?: string }
  terminated?: { exitCode?: number; reason?: string }
}

interface ContainerStatus {
  name: string
  ready: boolean
  restartCount: number
  state?: ContainerState
  lastState?: ContainerState
}

interface Pod {
  metadata: { name: string }
  status?: {
    phase?: string
    containerStatuses?: ContainerStatus[]
    conditions?: { type: string; status: string }[]
  }
}

const namespaces: string[] = []

async function namespace(prefix: string): Promise<string> {
  const name = await createNamespace(`smoke-${prefix}`)
  namespaces.push(name)
  return name
}

afterAll(async () => {
  await Promise.all(namespaces.map((name) => deleteNamespace(name)))
})

/** The resourceVersion of the last event in a raw watch stream (one JSON event a line). */
function lastResourceVersion(stream: string): string {
  let version: string | undefined
  for (const line of stream.split('\n')) {
    try {
      const event = JSON.parse(line) as { object?: { metadata?: { resourceVersion?: string } } }
      version = event.object?.metadata?.resourceVersion ?? version
    } catch {
      // an empty or cut-off line
    }
  }
  if (!version) throw new Error('the watch saw no event')
  return version
}

function deployment(name: string, image: string, replicas: number): string {
  return `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      containers:
      - name: ${name}
        image: ${image}
`
}

async function podsOf(ns: string, app: string): Promise<Pod[]> {
  const list = await getJson<{ items: Pod[] }>(ns, 'pods', '-l', `app=${app}`)
  return list.items
}

// Without a cluster (DEPLOY_SERVICE_CLUSTER=off) the suite is skipped, loudly.
const withCluster = clusterAvailable() ? describe : describe.skip
if (!clusterAvailable()) console.warn('the test cluster is not up (no kubeconfig): the cluster smoke tests are skipped')

withCluster('test cluster', () => {
  it('has Ready kwok nodes and a restricted second user', async () => {
    const nodes = await getJson<{ items: { status: { conditions: { type: string; status: string }[] } }[] }>(
      'default',
      'nodes'
    )
    expect(nodes.items.length).toBeGreaterThanOrEqual(1)
    for (const node of nodes.items) {
      expect(node.status.conditions.find((c) => c.type === 'Ready')?.status).toBe('True')
    }

    const forbidden = await kubectl(['get', 'pods', '-n', 'default'], { kubeconfig: limitedKubeconfigPath() })
    expect(forbidden.code).not.toBe(0)
    expect(forbidden.stderr).toMatch(/forbidden/i)
    expect(forbidden.stderr).toContain('"limited"')
  })

  it('rolls a Deployment out: kubectl rollout status succeeds', async () => {
    const ns = await namespace('deploy')
    await apply(ns, deployment('web', 'registry.example/web:1.0.0', 3))
    const first = await kubectlOk(['-n', ns, 'rollout', 'status', 'deployment/web', '--timeout=60s'], {
      timeoutMs: 70_000
    })
    expect(first).toContain('successfully rolled out')

    // A second revision replaces every pod through a new ReplicaSet.
    await kubectlOk(['-n', ns, 'set', 'image', 'deployment/web', 'web=registry.example/web:1.0.1'])
    const second = await kubectlOk(['-n', ns, 'rollout', 'status', 'deployment/web', '--timeout=60s'], {
      timeoutMs: 70_000
    })
    expect(second).toContain('successfully rolled out')
    const history = await kubectlOk(['-n', ns, 'rollout', 'history', 'deployment/web'])
    expect(history).toMatch(/^2\s/m)
    await waitFor('only new pods left', 30_000, async () => {
      const pods = await podsOf(ns, 'web')
      const images = await kubectlOk(['-n', ns, 'get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[*].spec.containers[0].image}'])
      return pods.length === 3 && images.split(' ').every((image) => image === 'registry.example/web:1.0.1')
    })
  })

  it('shows ErrImagePull, then ImagePullBackOff, for an image that does not exist', async () => {
    const ns = await namespace('pull')
    await apply(ns, deployment('bad', 'registry.example/bad:missing', 1))
    const seen = new Set<string>()
    await waitFor('ImagePullBackOff', 30_000, async () => {
      for (const pod of await podsOf(ns, 'bad')) {
        const reason = pod.status?.containerStatuses?.[0]?.state?.waiting?.reason
        if (reason) seen.add(reason)
      }
      return seen.has('ImagePullBackOff')
    })
    expect(seen.has('ErrImagePull') || seen.has('ImagePullBackOff')).toBe(true)
    const [pod] = await podsOf(ns, 'bad')
    expect(pod.status?.phase).toBe('Pending')
    expect(pod.status?.containerStatuses?.[0]?.ready).toBe(false)

    const rollout = await kubectl(['-n', ns, 'rollout', 'status', 'deployment/bad', '--timeout=3s'], {
      timeoutMs: 20_000
    })
    expect(rollout.code).not.toBe(0)

    const events = await kubectlOk(['-n', ns, 'get', 'events', '--field-selector', `involvedObject.name=${pod.metadata.name}`])
    expect(events).toMatch(/Failed|BackOff/)
  })

  it('crash-loops a pod: restarts climb, CrashLoopBackOff, exit code 1, logs readable', async () => {
    const ns = await namespace('crash')
    await apply(
      ns,
      `
apiVersion: v1
kind: Pod
metadata:
  name: crasher
spec:
  containers:
  - name: app
    image: registry.example/crashloop:1.0.0
`
    )
    const pod = await waitFor('two restarts', 60_000, async () => {
      const p = await getJson<Pod>(ns, 'pod', 'crasher')
      const status = p.status?.containerStatuses?.[0]
      return status && status.restartCount >= 2 ? p : undefined
    })
    const status = pod.status!.containerStatuses![0]
    expect(status.ready).toBe(false)
    expect(status.lastState?.terminated?.exitCode).toBe(1)
    expect(status.lastState?.terminated?.reason).toBe('Error')

    const backoff = await waitFor('CrashLoopBackOff', 30_000, async () => {
      const p = await getJson<Pod>(ns, 'pod', 'crasher')
      const waiting = p.status?.containerStatuses?.[0]?.state?.waiting
      return waiting?.reason === 'CrashLoopBackOff' ? waiting : undefined
    })
    expect(backoff.message).toContain('restarting failed container=app')

    // Logs come from kwok's kubelet API through the apiserver, like a kubelet's.
    const previous = await kubectlOk(['-n', ns, 'logs', 'crasher', '--previous'])
    expect(previous).toContain('simulated crash')
    const current = await kubectlOk(['-n', ns, 'logs', 'crasher', '--tail=1'])
    expect(current.trim().length).toBeGreaterThan(0)
  })

  it('keeps a never-ready pod Running but unready, and makes a slow-start pod ready after its delay', async () => {
    const ns = await namespace('ready')
    await apply(
      ns,
      `
apiVersion: v1
kind: Pod
metadata:
  name: never
spec:
  containers:
  - name: app
    image: registry.example/app:never-ready
  - name: proxy
    image: registry.example/proxy:1.0
---
apiVersion: v1
kind: Pod
metadata:
  name: slow
  annotations:
    deploy-service.test/ready-after: 3s
spec:
  containers:
  - name: app
    image: registry.example/app:1.0
`
    )
    const started = Date.now()
    const slowRunning = await waitFor('the slow pod to run', 20_000, async () => {
      const p = await getJson<Pod>(ns, 'pod', 'slow')
      return p.status?.phase === 'Running' ? p : undefined
    })
    expect(slowRunning.status?.containerStatuses?.[0]?.ready).toBe(false)
    await kubectlOk(['-n', ns, 'wait', '--for=condition=Ready', 'pod/slow', '--timeout=30s'], { timeoutMs: 40_000 })
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_500)

    const never = await getJson<Pod>(ns, 'pod', 'never')
    expect(never.status?.phase).toBe('Running')
    const ready = Object.fromEntries((never.status?.containerStatuses ?? []).map((c) => [c.name, c.ready]))
    expect(ready).toEqual({ app: false, proxy: true })
    expect(never.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False')
    expect(never.status?.containerStatuses?.find((c) => c.name === 'app')?.state?.running).toBeDefined()
  })

  it('rolls a StatefulSet and a DaemonSet out', async () => {
    const ns = await namespace('sets')
    await apply(
      ns,
      `
apiVersion: v1
kind: Service
metadata:
  name: db
spec:
  clusterIP: None
  selector: {app: db}
  ports:
  - port: 5432
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  replicas: 2
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      containers:
      - name: db
        image: registry.example/db:16
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector:
    matchLabels: {app: agent}
  template:
    metadata:
      labels: {app: agent}
    spec:
      containers:
      - name: agent
        image: registry.example/agent:1.0.0
`
    )
    const sts = await kubectlOk(['-n', ns, 'rollout', 'status', 'statefulset/db', '--timeout=60s'], {
      timeoutMs: 70_000
    })
    expect(sts).toMatch(/roll(ing)? ?out|complete/i)
    const ds = await kubectlOk(['-n', ns, 'rollout', 'status', 'daemonset/agent', '--timeout=60s'], {
      timeoutMs: 70_000
    })
    expect(ds).toContain('successfully rolled out')

    const nodes = (await kubectlOk(['get', 'nodes', '-o', 'name'])).trim().split('\n')
    expect(await podsOf(ns, 'agent')).toHaveLength(nodes.length)
    expect(await podsOf(ns, 'db')).toHaveLength(2)
  })

  it('survives a kube-apiserver restart mid-watch: the watch drops, a new one resumes', async () => {
    const ns = await namespace('watch')
    await kubectlOk(['-n', ns, 'create', 'configmap', 'before'])
    const listed = await getJson<{ metadata: { resourceVersion: string } }>(ns, 'configmaps')
    const fromVersion = listed.metadata.resourceVersion

    const first = kubectlStream(['get', '--raw', `/api/v1/namespaces/${ns}/configmaps?watch=1&resourceVersion=${fromVersion}`])
    await kubectlOk(['-n', ns, 'create', 'configmap', 'during'])
    await waitFor('the first watch to see "during"', 20_000, async () => first.output().includes('"name":"during"'))

    const restart = await clusterSh('restart-apiserver')
    expect(restart.code).toBe(0)
    // The apiserver went away, so the open watch ended.
    let timer: NodeJS.Timeout | undefined
    const firstExit = await Promise.race([
      first.exited,
      new Promise<'still open'>((resolve) => {
        timer = setTimeout(() => resolve('still open'), 20_000)
      })
    ])
    clearTimeout(timer)
    if (firstExit === 'still open') first.child.kill('SIGTERM')
    expect(firstExit).not.toBe('still open')

    // A watch resumed from the last resourceVersion the dropped one saw gets what happened since.
    const lastSeen = lastResourceVersion(first.output())
    await kubectlOk(['-n', ns, 'create', 'configmap', 'while-down'])
    const resumed = kubectlStream(['get', '--raw', `/api/v1/namespaces/${ns}/configmaps?watch=1&resourceVersion=${lastSeen}`])
    try {
      await waitFor('the resumed watch to see "while-down"', 20_000, async () => {
        const out = resumed.output()
        // 410 Gone is the other answer a server may give: then a client re-lists.
        return out.includes('"name":"while-down"') || out.includes('"code":410')
      })
    } finally {
      resumed.child.kill('SIGTERM')
      await resumed.exited
    }
    expect(resumed.output()).not.toContain('"name":"during"')

    // A new watch from "now" gets the current state, then new changes.
    const second = kubectlStream(['get', 'configmaps', '-n', ns, '--watch', '-o', 'name'])
    try {
      await waitFor('the new watch to list the existing objects', 20_000, async () => second.output().includes('configmap/during'))
      await kubectlOk(['-n', ns, 'create', 'configmap', 'after'])
      await waitFor('the new watch to see "after"', 20_000, async () => second.output().includes('configmap/after'))
    } finally {
      second.child.kill('SIGTERM')
      await second.exited
    }
    expect(second.output()).toContain('configmap/before')
  })
})
