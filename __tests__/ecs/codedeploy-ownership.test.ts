// CodeDeploy rollbacks that prove ownership first (issue 16): the ECS side on moto_server, the
// CodeDeploy side on the scripted CodeDeploy endpoint. A new deployment of the previous revision is made
// only when no one has deployed to the group since ours; StopDeployment only on ours, in flight.
import { CreateClusterCommand, CreateServiceCommand, RegisterTaskDefinitionCommand, type ECSClient } from '@aws-sdk/client-ecs'
import { CreateDeploymentCommand } from '@aws-sdk/client-codedeploy'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseInputs } from '../../src/inputs.js'
import { CodeDeployApi, createCodeDeployClient } from '../../src/platforms/ecs/codedeploy/index.js'
import { createEcsPlatform } from '../../src/platforms/ecs/index.js'
import { EcsApi } from '../../src/platforms/ecs/client.js'
import { runDeployment } from '../../src/rollout/engine.js'
import { Deadline } from '../../src/rollout/deadline.js'
import { NotOurs } from '../../src/rollout/ownership.js'
import { Progress } from '../../src/rollout/progress.js'
import { startMoto, type MotoServer } from '../../test/support/moto.js'
import { startScriptedCodeDeploy, type ScriptedCodeDeploy } from '../../test/support/scripted-codedeploy.js'
import { CREDENTIALS, ecsClient, GITHUB_ENV, inputEnv, REGION, type EcsRun } from '../helpers/run.js'

let moto: MotoServer
let codedeploy: ScriptedCodeDeploy
let client: ECSClient

async function codeDeployService(name: string): Promise<void> {
  const registered = await client.send(new RegisterTaskDefinitionCommand({
    family: name,
    containerDefinitions: [{ name, image: `registry.example/${name}:1.0.0`, memory: 256, essential: true, portMappings: [{ containerPort: 8080 }] }]
  }))
  const loadBalancers = [{ targetGroupArn: `arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/${name}-blue/0123456789abcdef`, containerName: name, containerPort: 8080 }]
  await client.send(new CreateServiceCommand({ cluster: 'shop', serviceName: name, taskDefinition: registered.taskDefinition!.taskDefinitionArn, desiredCount: 2, deploymentController: { type: 'CODE_DEPLOY' }, loadBalancers }))
}

beforeAll(async () => {
  moto = await startMoto()
  client = ecsClient(moto.endpoint)
  await client.send(new CreateClusterCommand({ clusterName: 'shop' }))
  for (const name of ['web', 'api', 'own']) await codeDeployService(name)
  codedeploy = await startScriptedCodeDeploy({
    stepMs: 100,
    groups: ['web', 'api', 'own'].map(service => ({ application: 'shop', name: `${service}-bg`, cluster: 'shop', service }))
  })
})

afterAll(async () => {
  await codedeploy?.close()
  await moto?.stop()
})

const codeDeployClient = () => createCodeDeployClient({ endpoint: codedeploy.endpoint, region: REGION, credentials: CREDENTIALS })
const codeDeployApi = () => new CodeDeployApi(codeDeployClient())
const request = (inputs: Record<string, string>) => parseInputs({ ...GITHUB_ENV, ...inputEnv({ platform: 'ecs', cluster: 'shop', ...inputs }) })

/** Another team's deployment of `service` in its group: their task definition, their description. */
async function hotfix(service: string): Promise<string> {
  const appSpec = { version: '0.0', Resources: [{ TargetService: { Type: 'AWS::ECS::Service', Properties: { TaskDefinition: `arn:aws:ecs:us-east-1:123456789012:task-definition/${service}:9`, LoadBalancerInfo: { ContainerName: service, ContainerPort: 8080 } } } }] }
  const out = await codeDeployClient().send(new CreateDeploymentCommand({
    applicationName: 'shop', deploymentGroupName: `${service}-bg`, description: 'hotfix by the payments team',
    revision: { revisionType: 'AppSpecContent', appSpecContent: { content: JSON.stringify(appSpec) } }
  }))
  return out.deploymentId!
}

async function runCodeDeploy(inputs: Record<string, string>): Promise<EcsRun> {
  const log: string[] = []
  const progress = new Progress({ info: line => log.push(line), warning: line => log.push(`warning: ${line}`) })
  try {
    const platform = createEcsPlatform(request(inputs), new EcsApi('shop', ecsClient(moto.endpoint)), undefined, codeDeployApi())
    return { result: await runDeployment(request(inputs), platform, progress), log }
  } catch (error) {
    return { error: error as Error, log }
  }
}

const ourRollbacks = (since: number) => codedeploy.calls.filter(c => c.operation === 'CreateDeployment' && c.at >= since && /^deploy-service: roll back/.test(String(c.input.description)))
const stops = (since: number) => codedeploy.calls.filter(c => c.operation === 'StopDeployment' && c.at >= since)

describe('CodeDeploy rollbacks prove the service still runs our deployment', () => {
  it('does not replace a hotfix deployed while verify-url ran: superseded, no rollback deployment', async () => {
    let hotfixId: Promise<string> | undefined
    const server = createServer((_req, res) => {
      // A verify-url that fails while another team deploys: at the first request.
      hotfixId ??= hotfix('web')
      void hotfixId.then(() => res.writeHead(500).end('broken'), () => res.writeHead(502).end())
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const since = Date.now()
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`
      const run = await runCodeDeploy({ service: 'web', 'image-tag': '2.0.0', 'verify-url': url, 'verify-timeout': '2s' })
      expect(run.error).toBeUndefined()
      const id = await hotfixId!
      expect(run.result).toMatchObject({ status: 'superseded', ok: false })
      expect(run.result!.message).toContain(`nothing was rolled back: deployment group shop/web-bg has a newer deployment than ours`)
      expect(run.result!.message).toContain(`${id} of web:9`)
      expect(run.result!.message).toContain('created by user: "hotfix by the payments team"')
      expect(ourRollbacks(since)).toHaveLength(0)
      expect(stops(since)).toHaveLength(0)
    } finally {
      server.close()
    }
  })

  it('after a failure with no rollback of its own, does not replace a deployment someone made since', async () => {
    codedeploy.scripts.push({ kind: 'fail', event: 'AfterAllowTestTraffic', message: 'smoke test failed' })
    const since = Date.now()
    const progress = new Progress({ info: () => undefined, warning: () => undefined })
    const cancel = new AbortController().signal
    const plan = await createEcsPlatform(request({ service: 'api', 'image-tag': '3.0.0' }), new EcsApi('shop', ecsClient(moto.endpoint)), undefined, codeDeployApi()).prepareDeploy()
    const rollout = await plan.apply(progress, cancel)
    const deadline = new Deadline(60_000)
    try {
      expect(await rollout.wait({ deadline, progress, cancel })).toMatchObject({ state: 'failed' })
      // Ours ended Failed and the group does not roll back: another team deploys before our undo.
      const theirs = await hotfix('api')
      const undone = rollout.undo({ deadline, progress, cancel })
      await expect(undone).rejects.toBeInstanceOf(NotOurs)
      await expect(undone).rejects.toMatchObject({ superseded: true, found: expect.stringContaining(`${theirs} of api:9`) })
    } finally {
      deadline.dispose()
    }
    expect(ourRollbacks(since)).toHaveLength(0)
    expect(stops(since)).toHaveLength(0)
  })

  it('after a failure with no rollback of its own, and no deployment since, deploys the previous revision back', async () => {
    codedeploy.scripts.push({ kind: 'fail', event: 'AfterAllowTestTraffic', message: 'smoke test failed' })
    const since = Date.now()
    const run = await runCodeDeploy({ service: 'own', 'image-tag': '4.0.0' })
    expect(run.error).toBeUndefined()
    expect(run.result).toMatchObject({ status: 'rolled-back', rollback: { by: 'action', healthy: true } })
    const [rollback] = ourRollbacks(since)
    expect(JSON.parse(rollback.input.revision.appSpecContent.content).Resources[0].TargetService.Properties.TaskDefinition).toMatch(/task-definition\/own:1$/)
  })
})
