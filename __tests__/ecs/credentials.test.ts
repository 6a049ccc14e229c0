// Denied and invalid credentials, against moto with its IAM authentication switched on: the error
// names the problem and the fix, and nothing is changed.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { startMoto, type MotoServer } from '../../test/support/moto.js'
import { ecsState, seedService } from '../helpers/ecs-state.js'
import { ecsClient, runEcs } from '../helpers/run.js'

let moto: MotoServer
let keys: { accessKeyId: string; secretAccessKey: string }
let auditor: { accessKeyId: string; secretAccessKey: string }

/** An IAM call in moto's query protocol, made while moto still lets requests in unauthenticated. */
async function iam(params: Record<string, string>): Promise<string> {
  const response = await fetch(`${moto.endpoint}/`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request' },
    body: new URLSearchParams({ Version: '2010-05-08', ...params }).toString()
  })
  const text = await response.text()
  if (!response.ok) throw new Error(`IAM ${params.Action}: ${response.status} ${text}`)
  return text
}

beforeAll(async () => {
  // The first requests seed the server; every later one must carry known, allowed credentials.
  // 3 ECS calls seed the service, 5 IAM calls make a deployer with no permission and an auditor with all.
  moto = await startMoto({ INITIAL_NO_AUTH_ACTION_COUNT: '8' })
  await seedService(ecsClient(moto.endpoint), 'shop', 'web')
  keys = await user('deployer')
  auditor = await user('auditor')
  await iam({ Action: 'PutUserPolicy', UserName: 'auditor', PolicyName: 'all', PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }) })
})

async function user(name: string): Promise<{ accessKeyId: string; secretAccessKey: string }> {
  await iam({ Action: 'CreateUser', UserName: name })
  const created = await iam({ Action: 'CreateAccessKey', UserName: name })
  return {
    accessKeyId: /<AccessKeyId>(.+?)<\/AccessKeyId>/.exec(created)![1],
    secretAccessKey: /<SecretAccessKey>(.+?)<\/SecretAccessKey>/.exec(created)![1]
  }
}

async function unchanged(): Promise<void> {
  const state = (await ecsState(ecsClient(moto.endpoint, auditor))) as { active: string[]; services: unknown[][] }
  expect(state.active).toEqual([expect.stringMatching(/task-definition\/web:1$/)])
  expect(state.services[0][3]).toMatch(/task-definition\/web:1$/)
}

afterAll(async () => {
  await moto.stop()
})

describe('credentials', () => {
  it('refuses unknown credentials with a pointer to configure-aws-credentials, changing nothing', async () => {
    const run = await runEcs(moto.endpoint, { service: 'web', cluster: 'shop', 'image-tag': '2' }, { credentials: { accessKeyId: 'AKIANOTAREALKEY00000', secretAccessKey: 'x' } })
    // moto answers auth failures in XML, which the ECS JSON protocol cannot read: the HTTP status is what is left.
    expect(run.error?.message).toMatch(/(AWS rejected the credentials|AWS refused the request \(HTTP 403\)).*check aws-actions\/configure-aws-credentials/)
    await unchanged()
  })

  it('refuses a user with no ECS permission, naming the denial, changing nothing', async () => {
    const run = await runEcs(moto.endpoint, { service: 'web', cluster: 'shop', 'image-tag': '2' }, { credentials: keys })
    expect(run.error?.message).toMatch(/(access denied \(.*\): give the role the ECS permission|AWS refused the request \(HTTP 403\).*the role's ECS permissions)/)
    await unchanged()
  })
})
