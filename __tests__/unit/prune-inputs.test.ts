// The prune inputs of issue 16: `adopt` (true, or Kind/name entries) and `prune-volume-claims`, both
// only with `prune: true`; every problem names its input.
import { describe, expect, it } from '@jest/globals'
import { UserError } from '../../src/errors.js'
import { parseInputs } from '../../src/inputs.js'

const env = (inputs: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries({ service: 'web', 'image-tag': '1.0', ...inputs }).map(([name, value]) => [`INPUT_${name.toUpperCase()}`, value]))

function problemsOf(inputs: Record<string, string>): string[] {
  try {
    parseInputs(env(inputs))
  } catch (error) {
    expect(error).toBeInstanceOf(UserError)
    return (error as UserError).problems.map(p => `${p.input}: ${p.message}`)
  }
  throw new Error('expected the inputs to be refused')
}

describe('prune inputs', () => {
  it('reads adopt as all, none or a list of Kind/name, and the claims prune may delete', () => {
    expect(parseInputs(env({ prune: 'true' })).kubernetes).toMatchObject({ prune: true, adopt: [], pruneVolumeClaims: [] })
    expect(parseInputs(env({ prune: 'true', adopt: 'true' })).kubernetes.adopt).toBe('all')
    expect(parseInputs(env({ prune: 'true', adopt: 'ClusterRole/shop-reader\nConfigMap/shared, ClusterRole/system:shop' })).kubernetes.adopt).toEqual(['ClusterRole/shop-reader', 'ConfigMap/shared', 'ClusterRole/system:shop'])
    expect(parseInputs(env({ prune: 'true', 'prune-volume-claims': 'data, cache-0\nlogs' })).kubernetes.pruneVolumeClaims).toEqual(['data', 'cache-0', 'logs'])
  })

  it('refuses entries that are not Kind/name or claim names, and both inputs without prune', () => {
    expect(problemsOf({ prune: 'true', adopt: 'shop-reader, ClusterRole/ok', 'prune-volume-claims': 'Data_1' })).toEqual([
      "adopt: 'shop-reader' is not Kind/name (e.g. ClusterRole/shop-reader): list the objects to take over from another ApplySet, or use true for all",
      "prune-volume-claims: 'Data_1' is not a PersistentVolumeClaim name (lowercase letters, digits, '-', '.')"
    ])
    expect(problemsOf({ adopt: 'true', 'prune-volume-claims': 'data' })).toEqual(["adopt: is only used with 'prune: true'", "prune-volume-claims: is only used with 'prune: true'"])
  })
})
