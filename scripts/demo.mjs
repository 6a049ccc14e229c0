// `npm run demo`: the action's main job, the committed bundle (dist/index.js) run as a runner runs it,
// against the embedded local servers it starts itself, and stops again:
//   ECS  1. moto_server: an image-only deploy of one container of a two-container service
//        2. the scripted ECS endpoint: a healthy rollout with its service events
//        3. the scripted ECS endpoint: a crashing image, the circuit breaker, the stopped tasks' reasons
//        4. the scripted ECS endpoint: a migration task, then a blue/green service deployment followed
//           through its stages and bake (minutes played as seconds), then a verification command
//   Kubernetes (the local control plane, unless --no-kubernetes)
//        5. a rollout of a Deployment      6. an unpullable image, failing fast and rolled back
//        7. a Helm chart rendered by helm template (helm and kustomize from scripts/tools.sh, cached)
import { CreateClusterCommand, CreateServiceCommand, ECSClient, RegisterTaskDefinitionCommand } from '@aws-sdk/client-ecs'
import { execFileSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { startMoto } from '../test/support/moto.ts'
import { defaultSeed, startScriptedEcs } from '../test/support/scripted-ecs.ts'

const root = path.resolve(import.meta.dirname, '..')
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'deploy-service-demo-'))
const bold = text => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text)
const stops = []

/** Runs dist/index.js like a runner, streaming its log, then prints its outputs and job summary. */
async function action(title, inputs, env) {
  console.log(`\n${bold(`━━ ${title}`)}\n`)
  const outputFile = path.join(work, 'output')
  const summaryFile = path.join(work, 'summary.md')
  fs.writeFileSync(outputFile, '')
  fs.writeFileSync(summaryFile, '')
  const inputEnv = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [`INPUT_${k.toUpperCase()}`, v]))
  const child = spawn(process.execPath, [path.join(root, 'dist/index.js')], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      PATH: process.env.PATH, HOME: process.env.HOME, RUNNER_TEMP: work, GITHUB_OUTPUT: outputFile, GITHUB_STEP_SUMMARY: summaryFile,
      GITHUB_SHA: '3f2a9c1d5e7b8a6f4c2d0e9b8a7f6e5d4c3b2a19', GITHUB_REPOSITORY: 'acme/shop', GITHUB_RUN_ID: '1001', ...inputEnv, ...env
    }
  })
  const code = await new Promise(resolve => child.on('close', resolve))
  console.log(`\n${bold(`exit code ${code}; job summary:`)}\n`)
  console.log(fs.readFileSync(summaryFile, 'utf8'))
  return code
}

try {
  const aws = { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'demo', AWS_SECRET_ACCESS_KEY: 'demo' }

  const moto = await startMoto()
  stops.push(() => moto.stop())
  const ecs = new ECSClient({ endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'demo', secretAccessKey: 'demo' } })
  await ecs.send(new CreateClusterCommand({ clusterName: 'shop' }))
  const td = await ecs.send(new RegisterTaskDefinitionCommand({
    family: 'web',
    containerDefinitions: [
      { name: 'web', image: 'registry.example/web:1.0.0', memory: 256 },
      { name: 'log-router', image: 'registry.example/fluent-bit:2.1', memory: 64 }
    ]
  }))
  await ecs.send(new CreateServiceCommand({ cluster: 'shop', serviceName: 'web', taskDefinition: td.taskDefinition.taskDefinitionArn, desiredCount: 2 }))
  await action('1. ECS on moto: deploy web 1.1.0 with no template (moto never advances a rollout, so wait: false)',
    { service: 'web', cluster: 'shop', 'image-tag': '1.1.0', wait: 'false' }, { ...aws, AWS_ENDPOINT_URL_ECS: moto.endpoint })

  const scripted = await startScriptedEcs({ settleMs: 6000, failAfterMs: 4000 })
  stops.push(() => scripted.close())
  await action('2. ECS on the scripted endpoint: a healthy rollout, followed to COMPLETED',
    { service: 'web', platform: 'ecs', 'image-tag': '1.2.0' }, { ...aws, AWS_ENDPOINT_URL_ECS: scripted.endpoint })
  await action('3. ECS on the scripted endpoint: a crashing image, explained and rolled back',
    { service: 'web', platform: 'ecs', 'image-tag': 'crash-1.3.0' }, { ...aws, AWS_ENDPOINT_URL_ECS: scripted.endpoint })

  // A blue/green service with a 3-minute bake, its minutes played as seconds by the endpoint and read so
  // by the action (DEPLOY_SERVICE_ECS_MINUTE_MS, for tests and demos only).
  const blueGreen = await startScriptedEcs({
    settleMs: 3000,
    services: defaultSeed().map(service => ({ ...service, deploymentConfiguration: { strategy: 'BLUE_GREEN', bakeTimeInMinutes: 3 } })),
    serviceDeployments: { minuteMs: 1000, stageMs: 400 }
  })
  stops.push(() => blueGreen.close())
  await action('4. ECS blue/green on the scripted endpoint: a migration task first, the service deployment followed through its stages and bake, then verified',
    {
      service: 'web', platform: 'ecs', 'image-tag': '1.4.0',
      'pre-deploy-command': 'echo "migrating the schema to 1.4.0"; exit 0',
      'verify-command': 'echo "smoke test against $DEPLOY_SERVICE_DEPLOYMENT_ARN: ok"'
    },
    { ...aws, AWS_ENDPOINT_URL_ECS: blueGreen.endpoint, DEPLOY_SERVICE_ECS_MINUTE_MS: '1000' })

  if (!process.argv.includes('--no-kubernetes')) {
    console.log(`\n${bold('━━ starting the local Kubernetes control plane (built from Go modules once, then cached)')}\n`)
    const cluster = path.join(root, 'test/cluster/cluster.sh')
    const kubeconfig = execFileSync('bash', [cluster, 'up'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop()
    stops.push(() => execFileSync('bash', [cluster, 'down'], { stdio: 'inherit' }))
    execFileSync('kubectl', ['--kubeconfig', kubeconfig, 'create', 'namespace', 'demo'], { stdio: 'inherit' })
    const kube = { KUBECONFIG: kubeconfig }
    const template = path.join(root, 'demo/kubernetes/web.yaml')
    await action('5. Kubernetes: roll out web 1.1.0 (server dry run, server-side apply, watch)',
      { service: 'web', namespace: 'demo', template, 'image-tag': '1.1.0', vars: 'GREETING=hello' }, kube)
    await action('6. Kubernetes: an image that cannot be pulled fails fast, is explained and rolled back',
      { service: 'web', namespace: 'demo', template, 'image-tag': 'missing', vars: 'GREETING=hello', timeout: '5m' }, kube)
    const tools = execFileSync('bash', [path.join(root, 'scripts/tools.sh'), 'build'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop()
    const chart = path.join(root, 'test/fixtures/chart')
    await action('7. Kubernetes: a Helm chart, rendered by helm template with a values file and --set, then applied and watched',
      { service: 'catalog', namespace: 'demo', template: chart, 'helm-values': path.join(chart, 'values-prod.yaml'), 'helm-set': 'service.port=8080', 'image-tag': '2.0' },
      { ...kube, PATH: `${tools}${path.delimiter}${process.env.PATH}` })
  }
} finally {
  for (const stop of stops.reverse()) await Promise.resolve(stop()).catch(error => console.error(`cleanup: ${error.message}`))
  fs.rmSync(work, { recursive: true, force: true })
}
