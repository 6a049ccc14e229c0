// The pure parts of the ECS pre-deploy task: where it runs (from the service), what it is called
// (startedBy), the verdict from a stopped task (never "[null]"), RunTask failures explained, and where
// its awslogs output is.
import type { Service, Task } from '@aws-sdk/client-ecs'
import { describe, expect, it } from '@jest/globals'
import { UserError } from '../../src/errors.js'
import { awsLogsConfig, streamName } from '../../src/platforms/ecs/logs/cloudwatch.js'
import { failuresText, placementOf, startedByOf, verdictOf } from '../../src/platforms/ecs/one-off/index.js'

const network = { awsvpcConfiguration: { subnets: ['subnet-1', 'subnet-2'], securityGroups: ['sg-1'], assignPublicIp: 'DISABLED' as const } }

describe('placementOf', () => {
  it("takes the service's capacity provider strategy over a launch type, with its platform version and network", () => {
    const service: Service = {
      serviceName: 'web', capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }], platformVersion: '1.4.0', networkConfiguration: network
    }
    expect(placementOf(service, { networkMode: 'awsvpc' })).toEqual({
      capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }], platformVersion: '1.4.0', networkConfiguration: network
    })
  })

  it('keeps EC2 placement rules and sends no network configuration for bridge networking', () => {
    const service: Service = {
      serviceName: 'web', launchType: 'EC2', networkConfiguration: network,
      placementConstraints: [{ type: 'memberOf', expression: 'attribute:ecs.availability-zone in [eu-west-1a]' }],
      placementStrategy: [{ type: 'spread', field: 'attribute:ecs.availability-zone' }]
    }
    expect(placementOf(service, { networkMode: 'bridge' })).toEqual({
      launchType: 'EC2',
      placementConstraints: service.placementConstraints,
      placementStrategy: service.placementStrategy
    })
  })

  it('refuses an awsvpc task definition for a service without a network configuration', () => {
    expect(() => placementOf({ serviceName: 'web', launchType: 'EC2' }, { networkMode: 'awsvpc' })).toThrow(UserError)
    expect(() => placementOf({ serviceName: 'web', launchType: 'EC2' }, { networkMode: 'awsvpc' })).toThrow(/awsvpc network mode, but service 'web' has no network configuration/)
  })
})

describe('startedByOf', () => {
  it('names the service and the run within the characters and length ECS allows', () => {
    const github = { runId: '123456' } as never
    expect(startedByOf({ service: 'web', github })).toBe('deploy-service/web/123456')
    const long = startedByOf({ service: 'x'.repeat(300), github })
    expect(long).toHaveLength(128)
    expect(startedByOf({ service: 'web.api:v2', github })).toMatch(/^[A-Za-z0-9_/-]+$/)
  })
})

describe('verdictOf', () => {
  it('is the exit code of the chosen container', () => {
    const task: Task = { lastStatus: 'STOPPED', stopCode: 'EssentialContainerExited', stoppedReason: 'Essential container in task exited', containers: [{ name: 'web', exitCode: 2 }, { name: 'log-router', exitCode: 0 }] }
    expect(verdictOf(task, 'web')).toEqual({ exitCode: 2, reason: 'web exited with code 2 (EssentialContainerExited: Essential container in task exited)' })
    expect(verdictOf(task, 'log-router').exitCode).toBe(0)
  })

  it('gives the stop code, the stop reason and the container reason when the container never ran', () => {
    const task: Task = {
      lastStatus: 'STOPPED', stopCode: 'TaskFailedToStart',
      stoppedReason: 'ResourceInitializationError: unable to pull secrets or registry auth',
      containers: [{ name: 'web', reason: 'CannotStartContainerError: ENI limit reached' }]
    }
    expect(verdictOf(task, 'web')).toEqual({
      reason: 'the task stopped before web ran to an exit code: TaskFailedToStart: ResourceInitializationError: unable to pull secrets or registry auth; web: CannotStartContainerError: ENI limit reached'
    })
  })

  it('says that ECS gave no reason rather than "[null]"', () => {
    const reason = verdictOf({ lastStatus: 'STOPPED', containers: [{ name: 'web' }] }, 'web').reason
    expect(reason).toBe('the task stopped before web ran to an exit code: ECS gave no reason (stopCode none)')
    expect(reason).not.toMatch(/null|undefined/)
  })
})

describe('failuresText', () => {
  it('names each failure by ARN and reason, with what the reason means', () => {
    const text = failuresText([
      { arn: 'arn:aws:ecs:eu-west-1:1:container-instance/shop/abc', reason: 'RESOURCE:ENI' },
      { arn: 'arn:aws:ecs:eu-west-1:1:container-instance/shop/def', reason: 'RESOURCE:MEMORY', detail: '512 MiB asked' }
    ])
    expect(text).toBe(
      'arn:aws:ecs:eu-west-1:1:container-instance/shop/abc: RESOURCE:ENI - no container instance has a free network interface for an awsvpc task: use larger instances or ENI trunking, or add instances; ' +
        'arn:aws:ecs:eu-west-1:1:container-instance/shop/def: RESOURCE:MEMORY (512 MiB asked) - no container instance has enough memory free for the task: add capacity or make the task smaller'
    )
    expect(failuresText([])).toBe('RunTask returned neither a task nor a failure')
  })
})

describe('awsLogsConfig', () => {
  it('reads group, region and stream prefix, defaulting the region to the service', () => {
    const config = awsLogsConfig({ name: 'web', logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': '/ecs/web', 'awslogs-stream-prefix': 'app' } } }, 'eu-west-1')
    expect(config).toEqual({ group: '/ecs/web', region: 'eu-west-1', streamPrefix: 'app' })
    expect(streamName(config as never, 'web', 'abc123')).toBe('app/web/abc123')
    // Without a prefix the awslogs driver names the stream after the Docker container id.
    expect(streamName({ group: 'g', region: 'r' }, 'web', 'abc123', 'docker-id')).toBe('docker-id')
  })

  it('says why a log cannot be shown: no configuration, FireLens, another driver, no group', () => {
    expect(awsLogsConfig({ name: 'web' }, 'r')).toEqual({ unavailable: expect.stringMatching(/container 'web' has no logConfiguration/) })
    expect(awsLogsConfig({ name: 'web', logConfiguration: { logDriver: 'awsfirelens' } }, 'r')).toEqual({ unavailable: expect.stringMatching(/FireLens/) })
    expect(awsLogsConfig({ name: 'web', logConfiguration: { logDriver: 'splunk' } }, 'r')).toEqual({ unavailable: expect.stringMatching(/splunk log driver/) })
    expect(awsLogsConfig({ name: 'web', logConfiguration: { logDriver: 'awslogs', options: {} } }, 'r')).toEqual({ unavailable: expect.stringMatching(/without 'awslogs-group'/) })
  })
})
