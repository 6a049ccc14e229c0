// A kube-apiserver restart in the middle of a rollout must not fail the deploy: the watches drop,
// are re-listed once the server is back, and the rollout is followed to its end.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { expect, it } from '@jest/globals'
import { deploy, deployment, expectStatus, getJson, templateDir, withCluster, inNamespace } from './cluster.js'

const run = promisify(execFile)

withCluster('kube-apiserver restart mid-rollout', () => {
  let ns = ''
  inNamespace('k8s-restart', name => (ns = name))

  it('follows the rollout through the restart and succeeds', async () => {
    // Pods that become ready only after a while keep the rollout going across the restart.
    const template = templateDir({ 'web.yaml': deployment('steady', 'registry.local/shop/steady:1.0', { replicas: 2, annotations: '{deploy-service.test/ready-after: "10s"}' }) })
    const deploying = deploy({ service: 'steady', 'image-tag': '1.0', template, namespace: ns, timeout: '5m' })
    await new Promise(resolve => setTimeout(resolve, 4000))
    await run('bash', ['test/cluster/cluster.sh', 'restart-apiserver'], { timeout: 180_000 })
    const result = await deploying
    expectStatus(result, 'succeeded')
    expect((await getJson(ns, 'deployment', 'steady')).status.readyReplicas).toBe(2)
  }, 300_000)
})
