// moto_server (moto 5) does not implement the service-deployment calls (ListServiceDeployments answers
// HTTP 500 with an HTML page): against it a deploy falls back to the deployments[] rules, with one warning.
import { afterAll, beforeAll, expect, it } from '@jest/globals'
import { startMoto, type MotoServer } from '../../test/support/moto.js'
import { seedService } from '../helpers/ecs-state.js'
import { ecsClient, runEcs } from '../helpers/run.js'

let moto: MotoServer

beforeAll(async () => {
  moto = await startMoto()
  const client = ecsClient(moto.endpoint)
  await seedService(client, 'shop', 'web')
  client.destroy()
})

afterAll(async () => {
  await moto.stop()
})

it('falls back to the deployments[] rules where the service-deployment calls are not there, with one warning', async () => {
  // moto answers an update to a new revision without a PRIMARY deployment of it, but one back to an
  // earlier revision with one: deploy without waiting, then roll back and follow that.
  expect((await runEcs(moto.endpoint, { service: 'web', cluster: 'shop', 'image-tag': '1.1.0', wait: 'false' })).result?.status).toBe('applied')
  // moto never advances a rollout: it times out, followed by deployments[] all along.
  const run = await runEcs(moto.endpoint, { service: 'web', cluster: 'shop', mode: 'rollback', timeout: '6s' })
  expect(run.error).toBeUndefined()
  expect(run.result).toMatchObject({ status: 'failed', ok: false })
  expect(run.result!.message).toMatch(/the rollback to web:1 did not become healthy/)
  const warnings = run.log.filter(line => line.startsWith('warning: the service deployment could not be read'))
  expect(warnings).toHaveLength(1)
  expect(warnings[0]).toMatch(/does not implement ecs:ListServiceDeployments \(HTTP 500.*an emulator\?\); following the rollout by DescribeServices alone/)
  // Recognised at the first answer: no retries of a call that is not there.
  expect(run.log.filter(line => /still waiting: the server answered/.test(line))).toEqual([])
  expect(run.log.some(line => /\] deployment ecs-svc\/\d+: IN_PROGRESS, 0\/2 running/.test(line))).toBe(true)
  expect(run.result!.reasons[0]).toMatch(/the rollout did not finish within 6s; it stood at: IN_PROGRESS/)
})
