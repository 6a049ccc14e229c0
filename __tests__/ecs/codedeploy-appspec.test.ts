// The AppSpec a CODE_DEPLOY deploy sends, and what a `codedeploy-appspec` file may add to it; the
// one-line descriptions of a CodeDeploy deployment. Pure functions: no server.
import type { Service } from '@aws-sdk/client-ecs'
import { describe, expect, it } from '@jest/globals'
import { buildAppSpec, readAppSpecFile } from '../../src/platforms/ecs/codedeploy/appspec.js'
import { describeDeployment, failureReason } from '../../src/platforms/ecs/codedeploy/assess.js'
import { UserError } from '../../src/errors.js'
import { templateWriter } from '../helpers/run.js'

const file = templateWriter('codedeploy-appspec-')
const service: Service = { serviceName: 'web', loadBalancers: [{ targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/1', containerName: 'web', containerPort: 8080 }] }
const NEW = 'arn:aws:ecs:us-east-1:123456789012:task-definition/web:8'

async function problemsOf(path: string): Promise<string[]> {
  const error = await readAppSpecFile(path, service).then(() => undefined, (e: unknown) => e)
  expect(error).toBeInstanceOf(UserError)
  return (error as UserError).message.split('\n')
}

describe('the AppSpec', () => {
  it('takes a whole AppSpec file as the deploy actions use it: its TaskDefinition is replaced, its platform and network settings kept', async () => {
    const path = file('appspec.json', JSON.stringify({
      version: 0.0,
      Resources: [{ TargetService: { Type: 'AWS::ECS::Service', Properties: {
        TaskDefinition: '<TASK_DEFINITION>',
        LoadBalancerInfo: { ContainerName: 'web', ContainerPort: 8080 },
        PlatformVersion: '1.4.0',
        NetworkConfiguration: { AwsvpcConfiguration: { Subnets: ['subnet-1'], SecurityGroups: ['sg-1'], AssignPublicIp: 'DISABLED' } }
      } } }],
      Hooks: [{ BeforeInstall: 'check-schema' }]
    }, null, 2))
    const appSpec = buildAppSpec(service, NEW, await readAppSpecFile(path, service))
    expect(appSpec).toEqual({
      version: '0.0',
      Resources: [{ TargetService: { Type: 'AWS::ECS::Service', Properties: {
        TaskDefinition: NEW,
        LoadBalancerInfo: { ContainerName: 'web', ContainerPort: 8080 },
        PlatformVersion: '1.4.0',
        NetworkConfiguration: { AwsvpcConfiguration: { Subnets: ['subnet-1'], SecurityGroups: ['sg-1'], AssignPublicIp: 'DISABLED' } }
      } } }],
      Hooks: [{ BeforeInstall: 'check-schema' }]
    })
  })

  it('without a file: the service\'s container and port, no Hooks key', () => {
    expect(buildAppSpec(service, NEW)).toEqual({ version: '0.0', Resources: [{ TargetService: { Type: 'AWS::ECS::Service', Properties: { TaskDefinition: NEW, LoadBalancerInfo: { ContainerName: 'web', ContainerPort: 8080 } } } }] })
  })

  it('reports every problem of the file at once, each at its line', async () => {
    const path = file('many.yaml', ['version: 1.0', 'Hooks:', '  - AfterInstall: warm', '  - AfterInstall: warm-again', '  - Validate: x', 'Resources:', '  - TargetService:', '      Type: AWS::ECS::Service', '      Properties:', '        Memory: 512', 'Extra: true', ''].join('\n'))
    const lines = await problemsOf(path)
    expect(lines[0]).toBe('5 problems:')
    expect(lines).toEqual(expect.arrayContaining([
      expect.stringContaining(`${path}:1:10: AppSpec version 1: ECS AppSpecs are version 0.0`),
      expect.stringContaining(`${path}:4:19: hook AfterInstall is given twice`),
      expect.stringContaining(`${path}:5:15: unknown ECS lifecycle hook 'Validate'`),
      expect.stringContaining(`${path}:10:17: unknown TargetService property 'Memory'`),
      expect.stringContaining(`${path}:11:8: unknown AppSpec key 'Extra'`)
    ]))
  })

  it('holds a .json file to JSON, with the line of the mistake', async () => {
    const path = file('broken.json', '{\n  "Hooks": [\n    { "BeforeInstall": "x" },\n  ]\n}\n')
    const [line] = await problemsOf(path)
    expect(line).toMatch(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4:\\d+: invalid JSON`))
  })

  it('a file that cannot be read names the codedeploy-appspec input', async () => {
    const [line] = await problemsOf(`${file.dir}/missing.yaml`)
    expect(line).toBe(`input 'codedeploy-appspec': cannot read '${file.dir}/missing.yaml': no such file (paths are relative to the workspace; did actions/checkout run?)`)
  })
})

describe('describing a deployment', () => {
  it('says the status, the running lifecycle event, the traffic and the replacement tasks', () => {
    const line = describeDeployment({ status: 'InProgress' }, {
      lifecycleEvents: [{ lifecycleEventName: 'Install', status: 'Succeeded' }, { lifecycleEventName: 'AllowTraffic', status: 'InProgress' }],
      taskSetsInfo: [
        { taskSetLabel: 'Blue', trafficWeight: 90, desiredCount: 2, runningCount: 2 },
        { taskSetLabel: 'Green', trafficWeight: 10, desiredCount: 2, runningCount: 1 }
      ]
    })
    expect(line).toBe('InProgress: AllowTraffic; traffic: green 10%, blue 90%; green tasks 1/2 running')
  })

  it('explains a failure with CodeDeploy\'s error and the failing hook, as one line of data', () => {
    const reason = failureReason(
      { deploymentId: 'd-ABC123456', status: 'Failed', errorInformation: { code: 'HOOK_EXECUTION_FAILURE', message: 'a hook failed' } },
      { lifecycleEvents: [{ lifecycleEventName: 'AfterAllowTestTraffic', status: 'Failed', diagnostics: { errorCode: 'ScriptFailed', message: 'GET /health\n::error::503', logTail: 'line 1\nline 2\n' } }] }
    )
    expect(reason).toBe('CodeDeploy deployment d-ABC123456 failed: HOOK_EXECUTION_FAILURE: a hook failed: lifecycle event AfterAllowTestTraffic failed (ScriptFailed): GET /health ::error::503; log: line 1 | line 2')
  })
})
