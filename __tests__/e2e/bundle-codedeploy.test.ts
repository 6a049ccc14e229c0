// The bundle deploying a CODE_DEPLOY service as a runner runs it: `node dist/index.js`, the CodeDeploy
// client built from the standard AWS chain (AWS_ENDPOINT_URL_CODEDEPLOY), loaded only on this path.
// ECS on moto_server, CodeDeploy on the scripted endpoint. DEPLOY_SERVICE_BUNDLE runs another build.
import { CreateClusterCommand, CreateServiceCommand, RegisterTaskDefinitionCommand } from '@aws-sdk/client-ecs'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { startMoto, type MotoServer } from '../../test/support/moto.js'
import { startScriptedCodeDeploy, type ScriptedCodeDeploy } from '../../test/support/scripted-codedeploy.js'
import { runBundle } from '../helpers/bundle.js'
import { ecsClient } from '../helpers/run.js'

let moto: MotoServer
let codedeploy: ScriptedCodeDeploy
const bundle = process.env.DEPLOY_SERVICE_BUNDLE

beforeAll(async () => {
  moto = await startMoto()
  const client = ecsClient(moto.endpoint)
  await client.send(new CreateClusterCommand({ clusterName: 'prod' }))
  const registered = await client.send(new RegisterTaskDefinitionCommand({ family: 'web', containerDefinitions: [{ name: 'web', image: 'registry.example/web:1.0.0', memory: 256, portMappings: [{ containerPort: 8080 }] }] }))
  await client.send(new CreateServiceCommand({
    cluster: 'prod', serviceName: 'web', taskDefinition: registered.taskDefinition!.taskDefinitionArn, desiredCount: 2, deploymentController: { type: 'CODE_DEPLOY' },
    loadBalancers: [{ targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-blue/0123456789abcdef', containerName: 'web', containerPort: 8080 }]
  }))
  codedeploy = await startScriptedCodeDeploy({ stepMs: 200, groups: [{ application: 'prod', name: 'web-bg', cluster: 'prod', service: 'web', autoRollbackOnFailure: true }] })
})

afterAll(async () => {
  await codedeploy?.close()
  await moto?.stop()
})

describe('the bundle with a CODE_DEPLOY service', () => {
  it('deploys through CodeDeploy and reports the deployment', async () => {
    const run = await runBundle({ service: 'web', cluster: 'prod', 'image-tag': '2.0.0', platform: 'ecs' }, { AWS_ENDPOINT_URL_ECS: moto.endpoint, AWS_ENDPOINT_URL_CODEDEPLOY: codedeploy.endpoint }, { bundle })
    expect(run.stdout).not.toMatch(/::error/)
    expect(run.code).toBe(0)
    expect(run.outputs).toMatchObject({ status: 'succeeded', 'codedeploy-deployment-id': expect.stringMatching(/^d-[A-Z0-9]{9}$/), 'task-definition-arn': expect.stringMatching(/task-definition\/web:2$/) })
    expect(codedeploy.deployment(run.outputs['codedeploy-deployment-id'])!.status).toBe('Succeeded')
    expect(run.stdout).toContain('through CodeDeploy application prod, deployment group web-bg')
  })

  it('reports a failing hook and CodeDeploy\'s rollback', async () => {
    codedeploy.scripts.push({ kind: 'fail', event: 'AfterAllowTestTraffic', message: 'smoke tests: 3 of 40 failed' })
    const run = await runBundle({ service: 'web', cluster: 'prod', 'image-tag': '2.1.0', platform: 'ecs' }, { AWS_ENDPOINT_URL_ECS: moto.endpoint, AWS_ENDPOINT_URL_CODEDEPLOY: codedeploy.endpoint }, { bundle })
    expect(run.code).toBe(1)
    expect(run.outputs.status).toBe('rolled-back')
    expect(run.stdout).toMatch(/::warning::lifecycle event AfterAllowTestTraffic failed \(ScriptFailed\): smoke tests: 3 of 40 failed/)
  })
})
