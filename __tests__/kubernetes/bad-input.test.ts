// Bad input against the real local cluster: each case must fail with a message that says what and
// where (input, file:line) and how to fix it, and must leave the cluster exactly as it was.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, expect, it } from '@jest/globals'
import { createNamespace, deleteNamespace, deploy, deployment, getJson, kubeconfig, kubectlOk, templateDir, withCluster } from './cluster.js'

const IMAGE = 'registry.local/shop/web:1.0'
const WEB = deployment('web', IMAGE)
const CONFIG = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata: {a: "1"}\n'

function limitedKubeconfig(): string {
  const file = path.join(path.dirname(kubeconfig), 'kubeconfig-limited')
  return fs.existsSync(file) ? file : ''
}

function writeKubeconfig(server: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kubeconfig-')), 'config')
  fs.writeFileSync(file, `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: "${server}", insecure-skip-tls-verify: true}\nusers:\n- name: u\n  user: {token: abc}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n`)
  return file
}

withCluster('bad input leaves the cluster unchanged', () => {
  let ns = ''
  let before = ''

  beforeAll(async () => {
    ns = await createNamespace('k8s-bad')
    await kubectlOk(['-n', ns, 'apply', '-f', '-'], WEB)
    await kubectlOk(['-n', ns, 'rollout', 'status', 'deployment/web', '--timeout=60s'])
    // The controller may still write status; the spec (generation) and annotations are what we must not touch.
    const web = await getJson(ns, 'deployment', 'web')
    before = JSON.stringify([web.metadata.generation, web.metadata.annotations, web.spec])
  }, 60_000)
  afterAll(async () => {
    if (ns) await deleteNamespace(ns)
  })

  async function expectUnchanged(): Promise<void> {
    const web = await getJson(ns, 'deployment', 'web')
    expect(JSON.stringify([web.metadata.generation, web.metadata.annotations, web.spec])).toBe(before)
    expect(web.spec.template.spec.containers[0].image).toBe(IMAGE)
    const configMaps = await getJson<{ items: Array<{ metadata: { name: string } }> }>(ns, 'configmaps')
    expect(configMaps.items.map(c => c.metadata.name)).toEqual(['kube-root-ca.crt'])
  }

  type Case = [string, () => Record<string, string>, RegExp, Record<string, string>?]
  const files = (extra: Record<string, string>) => templateDir({ 'a-config.yaml': CONFIG, ...extra })
  const cases: Case[] = [
    ['an unknown placeholder', () => ({ template: files({ 'web.yaml': WEB.replace('replicas: 2', 'replicas: ${REPLICAS}') }) }), /web\.yaml:\d+:\d+: unknown placeholder \$\{REPLICAS\}/],
    ['IMAGE without the image input', () => ({ template: files({ 'web.yaml': WEB.replace(`image: ${IMAGE}`, 'image: ${IMAGE}') }) }), /web\.yaml:\d+:\d+: unknown placeholder \$\{IMAGE\} \(IMAGE is known only when the 'image' input is set\)/],
    ['broken YAML', () => ({ template: files({ 'web.yaml': WEB.replace('  selector:', ' selector: [') }) }), /web\.yaml:\d+:\d+: /],
    ['invalid JSON', () => ({ template: files({ 'web.json': '{"apiVersion": "apps/v1", "kind": "Deployment",}' }) }), /web\.json:1:\d+: invalid JSON/],
    ['an unknown kind', () => ({ template: files({ 'web.yaml': WEB, 'typo.yaml': CONFIG.replace('ConfigMap', 'ConfigMapp').replace('extra', 'typo') }) }), /typo\.yaml:2:\d+: the server knows no kind ConfigMapp in v1/],
    ['an unknown API group', () => ({ template: files({ 'web.yaml': WEB, 'w.yaml': 'apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n' }) }), /w\.yaml:2:\d+: the server knows no kind Widget in example\.com\/v1.*CustomResourceDefinition/],
    ['a missing workload', () => ({ template: files({ 'web.yaml': WEB }), service: 'api' }), /no Deployment, StatefulSet, DaemonSet or Argo Rollout named 'api'; it has deployment\/web/],
    ['a missing container', () => ({ template: files({ 'web.yaml': WEB }), container: 'sidecar' }), /deployment\/web has no container 'sidecar'; it has 'web'/],
    ['a document without kind', () => ({ template: files({ 'web.yaml': WEB, 'x.yaml': 'apiVersion: v1\nmetadata:\n  name: x\n' }) }), /x\.yaml:1:1: kind is missing/],
    ['a document without a name', () => ({ template: files({ 'web.yaml': WEB, 'x.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n' }) }), /x\.yaml:3:\d+: ConfigMap has no metadata\.name/],
    ['a document in another namespace', () => ({ template: files({ 'web.yaml': WEB.replace('name: web\n', 'name: web\n  namespace: elsewhere\n') }) }), /web\.yaml:5:\d+: Deployment\/web is in namespace 'elsewhere' but this deploy goes to '[^']+': remove metadata\.namespace/],
    ['a value of the wrong type', () => ({ template: files({ 'web.yaml': WEB.replace('replicas: 2', 'replicas: two') }) }), /web\.yaml:1:1: could not apply Deployment\/web in namespace \S+ \(server dry run\): the server rejected it: .*\.spec\.replicas: expected numeric/],
    ['an unknown field', () => ({ template: files({ 'web.yaml': WEB.replace('replicas: 2', 'replicas: 2\n  replcas: 3') }) }), /web\.yaml:1:1: could not apply Deployment\/web .*\(server dry run\): the server rejected it: .*\.spec\.replcas: field not declared in schema/],
    ['an invalid label value', () => ({ template: files({ 'web.yaml': WEB, 'c.yaml': CONFIG.replace('name: extra', 'name: extra\n  labels: {team: "no spaces allowed"}') }) }), /c\.yaml:1:1: .*metadata\.labels: Invalid value: "no spaces allowed"/],
    ['two workloads of one name', () => ({ template: files({ 'web.yaml': WEB, 'web2.yaml': WEB.replace('kind: Deployment', 'kind: DaemonSet').replace('  replicas: 2\n', '') }) }), /'web' names several workloads: deployment\/web .*daemonset\/web/],
    ['a glob that matches nothing', () => ({ template: `${os.tmpdir()}/no-such-dir-*/x*.yaml` }), /input 'template': the glob .* matches no \.yaml/],
    ['an empty template folder', () => ({ template: templateDir({ 'README.md': '#' }) }), /input 'template': the folder .* holds no \.yaml/],
    ['a template file that does not exist', () => ({ template: '/nonexistent/deploy.yaml' }), /cannot read '\/nonexistent\/deploy\.yaml': no such file/],
    ['a namespace that does not exist', () => ({ template: files({ 'web.yaml': WEB }), namespace: 'no-such-namespace' }), /namespaces "no-such-namespace" not found: create the namespace first/],
    ['a kubeconfig that is not one', () => ({ template: files({ 'web.yaml': WEB }), kubeconfig: 'this: [is not' }), /input 'kubeconfig': is not a kubeconfig \(.*\): pass the file's content/],
    ['a context that is not in the kubeconfig', () => ({ template: files({ 'web.yaml': WEB }), context: 'staging' }), /input 'context': the kubeconfig has no context 'staging'; it has '/],
    ['an unreachable server', () => ({ template: files({ 'web.yaml': WEB }) }), /cannot reach the Kubernetes API server at https:\/\/127\.0\.0\.1:39999 \(ECONNREFUSED\)/, { KUBECONFIG: writeKubeconfig('https://127.0.0.1:39999') }],
    ['rejected credentials', () => ({ template: files({ 'web.yaml': WEB }) }), /401 Unauthorized.*check the kubeconfig's user/, { KUBECONFIG: writeKubeconfig(kubeconfigServer()) }],
    ['a namespace the user may not deploy to', () => ({ template: files({ 'web.yaml': WEB }) }), /forbidden: .*cannot .* in the namespace .*Grant the kubeconfig's user that permission/, { KUBECONFIG: limitedKubeconfig() }],
    ['no template and no such workload', () => ({ service: 'nothing-here' }), /namespace '.*' has no Deployment, StatefulSet or DaemonSet named 'nothing-here'/],
    ['a rollback to a revision that does not exist', () => ({ mode: 'rollback', 'image-tag': '', 'to-revision': '99' }), /input 'to-revision': deployment\/web has no revision 99; it has 1/],
    ['a rollback to an ECS-style revision', () => ({ mode: 'rollback', 'image-tag': '', 'to-revision': 'web:3' }), /input 'to-revision': 'web:3' is not a Kubernetes revision/],
    ['a rollback with no previous revision', () => ({ mode: 'rollback', 'image-tag': '' }), /deployment\/web has no previous revision to roll back to \(history: 1\)/]
  ]

  // Rest parameters: a callback with more declared parameters than a row has would be taken for `done`.
  it.each(cases)('%s', async (...[, inputs, message, env]: Case) => {
    if (env?.KUBECONFIG === '') return // the cluster has no restricted kubeconfig: nothing to test with
    const run = await deploy({ service: 'web', 'image-tag': '2.0', namespace: ns, ...inputs() }, env)
    expect(run.result).toBeUndefined()
    expect(run.error?.name).toBe('UserError')
    expect(run.error?.message).toMatch(message)
    await expectUnchanged()
  }, 60_000)
})

function kubeconfigServer(): string {
  return /server: (\S+)/.exec(fs.readFileSync(kubeconfig, 'utf8'))?.[1] ?? 'https://127.0.0.1:6443'
}
