// CodeDeploy benchmark: the committed bundle (BENCH_BUNDLE: another build) deploying a CODE_DEPLOY
// service, ECS on moto_server, CodeDeploy on the scripted endpoint with a 60 s bake (the group's
// termination wait, 1 minute). Rows: CodeDeploy calls per minute during the bake, and the time from
// the deployment's Succeeded to the step's exit.
import { CreateClusterCommand, CreateServiceCommand, ECSClient, RegisterTaskDefinitionCommand } from '@aws-sdk/client-ecs'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startMoto } from '../test/support/moto.ts'
import { startScriptedCodeDeploy } from '../test/support/scripted-codedeploy.ts'

const root = path.resolve(import.meta.dirname, '..')
const bundle = process.env.BENCH_BUNDLE ?? path.join(root, 'dist/index.js')
const BAKE_MS = 60_000

function runBundle(env) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-codedeploy-'))
  const output = path.join(dir, 'output')
  fs.writeFileSync(output, '')
  fs.writeFileSync(path.join(dir, 'summary'), '')
  const child = spawn(process.execPath, [bundle], {
    env: {
      PATH: process.env.PATH, HOME: process.env.HOME, RUNNER_TEMP: dir, GITHUB_OUTPUT: output, GITHUB_STEP_SUMMARY: path.join(dir, 'summary'),
      AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench',
      INPUT_PLATFORM: 'ecs', INPUT_SERVICE: 'web', INPUT_CLUSTER: 'prod', 'INPUT_IMAGE-TAG': '2.0.0', INPUT_TIMEOUT: '5m', ...env
    }
  })
  let log = ''
  child.stdout.on('data', d => (log += d))
  child.stderr.on('data', d => (log += d))
  return new Promise(resolve => child.on('close', code => resolve({ code, exitedAt: Date.now(), log, output: fs.readFileSync(output, 'utf8') })))
}

const moto = await startMoto()
const codedeploy = await startScriptedCodeDeploy({ stepMs: 500, bakeMs: BAKE_MS, groups: [{ application: 'prod', name: 'web-bg', cluster: 'prod', service: 'web' }] })
try {
  const ecs = new ECSClient({ endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } })
  await ecs.send(new CreateClusterCommand({ clusterName: 'prod' }))
  const registered = await ecs.send(new RegisterTaskDefinitionCommand({ family: 'web', containerDefinitions: [{ name: 'web', image: 'registry.example/web:1.0.0', memory: 256, portMappings: [{ containerPort: 8080 }] }] }))
  await ecs.send(new CreateServiceCommand({
    cluster: 'prod', serviceName: 'web', taskDefinition: registered.taskDefinition.taskDefinitionArn, desiredCount: 2, deploymentController: { type: 'CODE_DEPLOY' },
    loadBalancers: [{ targetGroupArn: 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/1', containerName: 'web', containerPort: 8080 }]
  }))
  const run = await runBundle({ AWS_ENDPOINT_URL_ECS: moto.endpoint, AWS_ENDPOINT_URL_CODEDEPLOY: codedeploy.endpoint })
  const id = /codedeploy-deployment-id<<(\S+)\n(.*)\n/.exec(run.output)?.[2]
  const info = id ? codedeploy.deployment(id) : undefined
  if (run.code !== 0 || !info) {
    console.log(run.log.slice(-3000))
    process.exit(1)
  }
  const succeededAt = info.completeTime * 1000
  const bakeStartedAt = succeededAt - BAKE_MS
  const duringBake = codedeploy.calls.filter(c => c.at > bakeStartedAt && c.at < succeededAt).length
  const row = (measure, value, target) => console.log(`${measure.padEnd(52)} | ${String(value).padEnd(12)} | ${target}`)
  row('measure', 'ours', 'target')
  console.log('-'.repeat(80))
  row('CodeDeploy calls per minute during a 60 s bake', (duringBake / (BAKE_MS / 60_000)).toFixed(1), '<= 6 (ECS target for bakes)')
  row('Succeeded -> step exit (s)', ((run.exitedAt - succeededAt) / 1000).toFixed(2), '<= 2')
} finally {
  await codedeploy.close()
  await moto.stop()
}
