// The ApplySet bits that need no server: the id kubectl would compute, and the part-of label put on
// every object (a template that names another set is refused at its line). The cluster suite
// (__tests__/kubernetes/prune.test.ts) checks the id against kubectl's own and the pruning itself.
import { describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { ApplySet, PART_OF, applySetId } from '../../src/platforms/kubernetes/prune/applyset.js'
import type { KubeApi } from '../../src/platforms/kubernetes/api/client.js'
import type { KubeObject } from '../../src/render/manifests.js'
import { parseDocuments } from '../../src/render/source.js'

// label() and the id touch no server: the connection is never used here.
const noServer = undefined as unknown as KubeApi

function manifests(text: string) {
  return parseDocuments(text, 'set.yaml').map(source => ({ object: source.value as KubeObject, source }))
}

describe('ApplySet', () => {
  it('computes the id as kubectl does: applyset-<base64url(sha256(name.namespace.kind.group))>-v1', () => {
    const expected = createHash('sha256').update('web-applyset.shop.Secret.').digest('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
    expect(applySetId({ name: 'web-applyset', namespace: 'shop', kind: 'Secret', group: '' })).toBe(`applyset-${expected}-v1`)
    expect(new ApplySet(noServer, 'web', 'shop', 'deploy-service').id).toBe(`applyset-${expected}-v1`)
  })

  it('labels every object of the set, keeps labels it already has, and refuses one that names another set, at its line', () => {
    const set = new ApplySet(noServer, 'web', 'shop', 'deploy-service')
    const ok = manifests('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels: {team: x}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n')
    set.label(ok)
    expect(ok.map(m => m.object.metadata.labels)).toEqual([{ team: 'x', [PART_OF]: set.id }, { [PART_OF]: set.id }])
    const foreign = manifests(`apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels:\n    ${PART_OF}: applyset-other-v1\n`)
    expect(() => set.label(foreign)).toThrow(/set\.yaml:6:\d+: sets label applyset\.kubernetes\.io\/part-of: applyset-other-v1; .*remove the label/)
  })
})
