// The CodeDeploy calls of a CODE_DEPLOY deploy against moto_server's codedeploy backend, an
// independent implementation of the API: the request shapes it accepts (CreateDeployment with an
// AppSpecContent revision, GetDeployment, ListApplications, ListDeploymentGroups). moto answers
// neither BatchGetDeploymentGroups nor the deployment targets, and never advances a deployment:
// those are played by the scripted CodeDeploy endpoint (codedeploy.test.ts).
import { CreateApplicationCommand, CreateDeploymentGroupCommand, ListApplicationsCommand, ListDeploymentGroupsCommand, type CodeDeployClient } from '@aws-sdk/client-codedeploy'
import type { Service } from '@aws-sdk/client-ecs'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { buildAppSpec } from '../../src/platforms/ecs/codedeploy/appspec.js'
import { CodeDeployApi, createCodeDeployClient } from '../../src/platforms/ecs/codedeploy/client.js'
import { startMoto, type MotoServer } from '../../test/support/moto.js'
import { CREDENTIALS, REGION } from '../helpers/run.js'

let moto: MotoServer
let client: CodeDeployClient

const service: Service = {
  serviceName: 'web',
  clusterArn: 'arn:aws:ecs:us-east-1:123456789012:cluster/shop',
  loadBalancers: [{ targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-blue/0123456789abcdef', containerName: 'web', containerPort: 8080 }]
}

beforeAll(async () => {
  moto = await startMoto()
  client = createCodeDeployClient({ endpoint: moto.endpoint, region: REGION, credentials: CREDENTIALS })
  await client.send(new CreateApplicationCommand({ applicationName: 'shop', computePlatform: 'ECS' }))
  await client.send(new CreateDeploymentGroupCommand({
    applicationName: 'shop',
    deploymentGroupName: 'web-bg',
    serviceRoleArn: 'arn:aws:iam::123456789012:role/codedeploy',
    deploymentConfigName: 'CodeDeployDefault.ECSAllAtOnce',
    deploymentStyle: { deploymentType: 'BLUE_GREEN', deploymentOption: 'WITH_TRAFFIC_CONTROL' },
    ecsServices: [{ clusterName: 'shop', serviceName: 'web' }],
    autoRollbackConfiguration: { enabled: true, events: ['DEPLOYMENT_FAILURE'] }
  }))
})

afterAll(async () => {
  await moto?.stop()
})

/** One CodeDeploy call as JSON over HTTP (awsJson1_1), for answers the SDK cannot parse. */
async function rawCall(operation: string, input: object): Promise<Record<string, any>> {
  const response = await fetch(moto.endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `CodeDeploy_20141006.${operation}`, authorization: 'AWS4-HMAC-SHA256 Credential=testing/20261127/us-east-1/codedeploy/aws4_request, SignedHeaders=host, Signature=0' },
    body: JSON.stringify(input)
  })
  expect(response.status).toBe(200)
  return (await response.json()) as Record<string, any>
}

describe('CodeDeploy on moto', () => {
  it('accepts the deployment the action creates, an AppSpecContent revision, and keeps it as sent', async () => {
    const api = new CodeDeployApi(client)
    const appSpec = JSON.stringify(buildAppSpec(service, 'arn:aws:ecs:us-east-1:123456789012:task-definition/web:2', { file: 'appspec.yaml', hooks: [{ AfterAllowTestTraffic: 'smoke-tests' }], properties: {} }))
    const id = await api.createDeployment({ application: 'shop', group: 'web-bg', appSpec, description: 'deploy-service: web -> web:2' })
    // moto answers GetDeployment's timestamps as ISO strings where the API has epoch seconds, which the
    // SDK refuses ("Expected real number"): read its answer as JSON to see what it stored.
    const info = (await rawCall('GetDeployment', { deploymentId: id })).deploymentInfo
    expect(info).toMatchObject({ deploymentId: id, applicationName: 'shop', deploymentGroupName: 'web-bg', status: 'Created', computePlatform: 'ECS', description: 'deploy-service: web -> web:2' })
    expect(info.revision).toEqual({ revisionType: 'AppSpecContent', appSpecContent: { content: appSpec } })
    expect(info.deploymentConfigName).toBe('CodeDeployDefault.ECSAllAtOnce')
    await expect(api.getDeployment(id)).rejects.toThrow(/could not get CodeDeploy deployment '.+': Expected real number/)
  })

  it('lists the applications (with their compute platform) and deployment groups that discovery reads', async () => {
    expect((await client.send(new ListApplicationsCommand({}))).applications).toEqual(['shop'])
    // createTime again comes as an ISO string (the API has epoch seconds): read the answer as JSON.
    const described = await rawCall('BatchGetApplications', { applicationNames: ['shop'] })
    expect(described.applicationsInfo.map((a: { applicationName: string; computePlatform: string }) => [a.applicationName, a.computePlatform])).toEqual([['shop', 'ECS']])
    expect((await client.send(new ListDeploymentGroupsCommand({ applicationName: 'shop' }))).deploymentGroups).toEqual(['web-bg'])
  })

  it('an unknown application or group is an error that names the service input', async () => {
    const api = new CodeDeployApi(client)
    await expect(api.createDeployment({ application: 'nope', group: 'web-bg', appSpec: '{}', description: '' })).rejects.toThrow(/input 'service': could not create a CodeDeploy deployment in nope\/web-bg: .*nope does not exist/)
    await expect(api.createDeployment({ application: 'shop', group: 'nope', appSpec: '{}', description: '' })).rejects.toThrow(/input 'service': could not create a CodeDeploy deployment in shop\/nope: Deployment group name does not exist/)
  })

  it('GetDeployment of an unknown id says which deployment', async () => {
    await expect(new CodeDeployApi(client).getDeployment('d-XXXXXXXXX')).rejects.toThrow(/could not get CodeDeploy deployment 'd-XXXXXXXXX'/)
  })
})
