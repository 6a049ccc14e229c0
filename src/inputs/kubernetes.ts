import { helmSetValues } from '../render/helm-set.js'
import type { KubernetesSettings } from '../request.js'
import { parseKeyValues } from './key-values.js'
import { FALSE, TRUE, splitList, type InputReader } from './reader.js'

const FOLLOW_LOGS = ['one', 'all', 'off'] as const

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/
const HELM_SET_KEY = /^[A-Za-z0-9_.\-/[\]\\]+$/
const ADOPT_ENTRY = /^[A-Z][A-Za-z0-9]*\/[^\s/,]+$/
/** EKS's own rule for a cluster name (1-100 characters, a letter or digit first). */
const EKS_CLUSTER_NAME = /^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/

export type ApplyInputs = Pick<KubernetesSettings, 'helmSet' | 'prune' | 'adopt' | 'pruneVolumeClaims'>

/** `namespace`: a DNS label. */
export function namespaceInput(read: InputReader): string | undefined {
  const namespace = read.optional('namespace')
  if (namespace !== undefined && !DNS_LABEL.test(namespace)) {
    read.problems.add({ input: 'namespace', message: `'${namespace}' is not a namespace name (lowercase letters, digits, '-')` })
  }
  return namespace
}

/** What the apply sets in a chart (`helm-set`) and what it prunes (`prune`, `adopt`, `prune-volume-claims`). */
export function applyInputs(read: InputReader, registerSecret: (secret: string) => void): ApplyInputs {
  const helmSet = read.problems.collect(() => parseKeyValues(read.input('helm-set'), 'helm-set', HELM_SET_KEY)) ?? {}
  // Each key's syntax (a.b, list[0], \. for a dot) and keys that clash, with the other input problems.
  read.problems.collect(() => helmSetValues(helmSet))
  // A helm-set value may be a password: the runner masks it everywhere (tool stderr, diffs, the rendered
  // file's log), not only in the printed command. Shorter values would mask common words.
  for (const value of Object.values(helmSet)) if (value.length >= 3) registerSecret(value)

  const prune = read.boolean('prune', false)
  const adopt = parseAdopt(read.input('adopt'))
  if ('problem' in adopt) read.problems.add({ input: 'adopt', message: adopt.problem })
  const pruneVolumeClaims = read.list('prune-volume-claims')
  for (const name of pruneVolumeClaims) {
    if (!DNS_SUBDOMAIN.test(name)) read.problems.add({ input: 'prune-volume-claims', message: `'${name}' is not a PersistentVolumeClaim name (lowercase letters, digits, '-', '.')` })
  }
  if (!prune) {
    for (const name of ['adopt', 'prune-volume-claims']) if (read.input(name) !== '' && !FALSE.includes(read.input(name))) read.problems.add({ input: name, message: "is only used with 'prune: true'" })
  }
  return { helmSet, prune, adopt: 'problem' in adopt ? [] : adopt.adopt, pruneVolumeClaims }
}

/** The inputs only Kubernetes reads: where the cluster is, how the apply owns its fields, the charts' values. */
export function kubernetesInputs(read: InputReader, namespace: string | undefined, apply: ApplyInputs): KubernetesSettings {
  const kubeconfig = read.optional('kubeconfig')
  const context = read.optional('context')
  return {
    namespace,
    kubeconfig,
    context,
    eksCluster: eksCluster(read, kubeconfig, context),
    fieldManager: read.input('field-manager') || 'deploy-service',
    forceConflicts: read.boolean('force-conflicts', false),
    helmValues: read.list('helm-values'),
    ...apply,
    waitForLoadBalancers: read.boolean('wait-for-load-balancers', true),
    followLogs: read.oneOf('follow-logs', FOLLOW_LOGS, 'one') ?? 'one'
  }
}

/**
 * `adopt`: `true` (every object of the set another ApplySet holds), `false`/empty (none), or a list of
 * `Kind/name` (comma or newline separated).
 */
export function parseAdopt(text: string): { adopt: 'all' | string[] } | { problem: string } {
  if (text === '' || FALSE.includes(text)) return { adopt: [] }
  if (TRUE.includes(text)) return { adopt: 'all' }
  const entries = splitList(text)
  const bad = entries.filter(entry => !ADOPT_ENTRY.test(entry))
  if (bad.length) return { problem: `${bad.map(entry => `'${entry}'`).join(', ')} ${bad.length === 1 ? 'is' : 'are'} not Kind/name (e.g. ClusterRole/shop-reader): list the objects to take over from another ApplySet, or use true for all` }
  return { adopt: entries }
}

/** The `eks-cluster` input: a cluster name, and never beside a kubeconfig or context (which would win is unclear). */
function eksCluster(read: InputReader, kubeconfig: string | undefined, context: string | undefined): string | undefined {
  const name = read.optional('eks-cluster')
  if (name === undefined) return undefined
  if (!EKS_CLUSTER_NAME.test(name)) read.problems.add({ input: 'eks-cluster', message: `'${name}' is not an EKS cluster name (letters, digits, '-' and '_', up to 100): give the name, not the ARN` })
  if (kubeconfig !== undefined || context !== undefined) {
    read.problems.add({ input: 'eks-cluster', message: `names the cluster and its credentials already: drop ${kubeconfig !== undefined ? "'kubeconfig'" : "'context'"} (eks-cluster needs no kubeconfig)` })
  }
  return name
}
