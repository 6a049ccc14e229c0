// The committed bundle, as a runner runs it, against the scripted ECS endpoint: a verify-url that fails
// while another team's hotfix lands never rolls the hotfix back (issue 16). DEPLOY_SERVICE_BUNDLE runs
// another build (a bundle of the working tree).
import { DescribeServicesCommand, RegisterTaskDefinitionCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs'
import { describe, expect, it } from '@jest/globals'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { defaultSeed, startScriptedEcs } from '../../test/support/scripted-ecs.js'
import { runBundle } from '../helpers/bundle.js'
import { ecsClient } from '../helpers/run.js'

describe('the bundle on ECS, when another deploy lands', () => {
  it('reports superseded and rolls nothing back when a hotfix lands while verify-url fails', async () => {
    const ecs = await startScriptedEcs({ settleMs: 800 })
    const client = ecsClient(ecs.endpoint)
    let hotfix: Promise<string> | undefined
    // The other team deploys at the first verification request; the check keeps failing.
    const deployHotfix = async (): Promise<string> => {
      const [seed] = defaultSeed()
      const definition = structuredClone(seed.taskDefinition) as { containerDefinitions: Array<{ image: string }> }
      definition.containerDefinitions[0].image = 'registry.example/web:hotfix-9'
      const registered = await client.send(new RegisterTaskDefinitionCommand(definition as never))
      await client.send(new UpdateServiceCommand({ cluster: 'default', service: 'web', taskDefinition: registered.taskDefinition!.taskDefinitionArn }))
      return registered.taskDefinition!.taskDefinitionArn!
    }
    const server = createServer((_req, res) => {
      hotfix ??= deployHotfix()
      void hotfix.then(() => res.writeHead(500).end('broken'), () => res.writeHead(502).end())
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`
      const run = await runBundle({ platform: 'ecs', service: 'web', 'image-tag': '2.0.0', timeout: '30s', 'verify-url': url, 'verify-timeout': '2s' },
        { AWS_ENDPOINT_URL_ECS: ecs.endpoint }, { bundle: process.env.DEPLOY_SERVICE_BUNDLE })
      const hotfixArn = await hotfix!
      expect(run.code).toBe(1)
      expect(run.outputs.status).toBe('superseded')
      expect(run.stdout).toMatch(/nothing was rolled back: service web now runs web:3/)
      const updates = ecs.calls.filter(c => c.operation === 'UpdateService' && c.status === 200).map(c => String((c.input as { taskDefinition: string }).taskDefinition))
      // Ours, then the hotfix (the other team's call): nothing put web:1 back.
      expect(updates).toEqual([expect.stringMatching(/web:2$/), hotfixArn])
      const service = (await client.send(new DescribeServicesCommand({ cluster: 'default', services: ['web'] }))).services![0]
      expect(service.taskDefinition).toBe(hotfixArn)
    } finally {
      server.close()
      await ecs.close()
    }
  }, 120_000)
})
