// `hand-off-at` and `mode: follow` as parseInputs reads them: the stage names of the ECS reference, and
// the combinations that make no sense refused together, naming the input.
import { describe, expect, it } from '@jest/globals'
import { UserError } from '../../src/errors.js'
import { parseInputs } from '../../src/inputs.js'

const env = (inputs: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(inputs).map(([name, value]) => [`INPUT_${name.toUpperCase()}`, value]))

function problemsOf(inputs: Record<string, string>): string[] {
  try {
    parseInputs(env(inputs))
  } catch (error) {
    expect(error).toBeInstanceOf(UserError)
    return (error as UserError).problems.map(p => `${p.input}: ${p.message}`)
  }
  throw new Error('expected the inputs to be refused')
}

const ARN = 'arn:aws:ecs:us-east-1:123456789012:service-deployment/default/web/AbC123'

describe('hand-off-at', () => {
  it('takes an ECS lifecycle stage, in any case', () => {
    expect(parseInputs(env({ service: 'web', 'image-tag': '1.2.3', 'hand-off-at': 'BAKE_TIME' })).ecs.handOffAt).toBe('BAKE_TIME')
    expect(parseInputs(env({ service: 'web', 'image-tag': '1.2.3', 'hand-off-at': 'post_test_traffic_shift' })).ecs.handOffAt).toBe('POST_TEST_TRAFFIC_SHIFT')
    expect(parseInputs(env({ service: 'web', 'image-tag': '1.2.3' })).ecs.handOffAt).toBeUndefined()
  })

  it('refuses a name that is no stage, listing the stages', () => {
    expect(problemsOf({ service: 'web', 'image-tag': '1.2.3', 'hand-off-at': 'BAKE' })).toEqual([
      "hand-off-at: 'BAKE' is not an ECS lifecycle stage: use one of RECONCILE_SERVICE, PRE_SCALE_UP, SCALE_UP, POST_SCALE_UP, TEST_TRAFFIC_SHIFT, POST_TEST_TRAFFIC_SHIFT, PRODUCTION_TRAFFIC_SHIFT, POST_PRODUCTION_TRAFFIC_SHIFT, BAKE_TIME, CLEAN_UP (BAKE_TIME hands off a long bake)"
    ])
  })

  it('refuses it with wait: false and outside deploy / continue', () => {
    expect(problemsOf({ service: 'web', 'image-tag': '1.2.3', 'hand-off-at': 'BAKE_TIME', wait: 'false' })).toEqual([
      'hand-off-at: stops waiting at a stage; with wait: false nothing is waited for: drop one of them'
    ])
    expect(problemsOf({ service: 'web', mode: 'rollback', 'hand-off-at': 'BAKE_TIME' })).toEqual(["hand-off-at: is used with mode 'deploy' or 'continue'; mode 'rollback' follows to the end"])
  })
})

describe('mode follow', () => {
  it('needs no image and takes service-deployment-arn (optional: the current one by default)', () => {
    const named = parseInputs(env({ service: 'web', mode: 'follow', 'service-deployment-arn': ARN }))
    expect(named).toMatchObject({ mode: 'follow', ecs: { serviceDeploymentArn: ARN } })
    expect(parseInputs(env({ service: 'web', mode: 'follow' })).ecs.serviceDeploymentArn).toBeUndefined()
  })

  it('refuses a pre-deploy command and a bad ARN', () => {
    expect(problemsOf({ service: 'web', mode: 'follow', 'service-deployment-arn': 'web/AbC', 'pre-deploy-command': 'migrate' })).toEqual([
      "service-deployment-arn: 'web/AbC' is not an ECS service-deployment ARN (arn:aws:ecs:REGION:ACCOUNT:service-deployment/CLUSTER/SERVICE/ID)",
      "pre-deploy-command: runs before a deploy; mode 'follow' never runs it"
    ])
  })
})
