// ECS benchmark on the scripted endpoint, the committed bundle run as the runner runs it, side by side
// with the wait that aws-actions/amazon-ecs-deploy-task-definition uses (the SDK's
// waitUntilServicesStable with its 15 s delay) on the same rollouts. Prints one row per measure.
import { CloudWatchLogsClient, CreateLogGroupCommand } from '@aws-sdk/client-cloudwatch-logs'
import { DescribeServicesCommand, DescribeTasksCommand, ECSClient, RegisterTaskDefinitionCommand, RunTaskCommand, UpdateServiceCommand, waitUntilServicesStable, waitUntilTasksStopped } from '@aws-sdk/client-ecs'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { startMoto } from '../test/support/moto.ts'
import { defaultSeed, startScriptedEcs } from '../test/support/scripted-ecs.ts'

const root = path.resolve(import.meta.dirname, '..')
const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const median = values => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const rows = []
const row = (measure, ours, baseline, target) => {
  rows.push({ measure, ours, baseline, target })
  console.log(`${measure.padEnd(44)} | ${String(ours).padEnd(22)} | ${String(baseline).padEnd(26)} | ${target}`)
}

/** Runs dist/index.js like the runner; resolves with its exit time, outputs and log. */
function runBundle(endpoint, inputs, extraEnv = {}, watchFor) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-'))
  const outputFile = path.join(dir, 'output')
  fs.writeFileSync(outputFile, '')
  const env = {
    PATH: process.env.PATH, HOME: process.env.HOME, RUNNER_TEMP: dir, GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: path.join(dir, 'summary'), AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench', AWS_ENDPOINT_URL_ECS: endpoint, INPUT_PLATFORM: 'ecs', INPUT_SERVICE: 'web', ...extraEnv
  }
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value
  fs.writeFileSync(env.GITHUB_STEP_SUMMARY, '')
  const spawnedAt = Date.now()
  // BENCH_BUNDLE: another build of the action (a branch's, before dist/ is rebuilt); dist/index.js by default.
  const child = spawn(process.execPath, [...(extraEnv.TRACE_LOADS_FILE ? ['--import', path.join(root, 'bench/trace-loads.mjs')] : []), process.env.BENCH_BUNDLE ?? path.join(root, 'dist/index.js')], { env })
  let log = ''
  let seenAt
  child.stdout.on('data', d => {
    log += d
    if (watchFor && seenAt === undefined && watchFor.test(log)) seenAt = Date.now()
  })
  child.stderr.on('data', d => (log += d))
  return new Promise(resolve =>
    child.on('close', code => {
      const output = fs.readFileSync(outputFile, 'utf8')
      const id = /deployment-id<<(\S+)\n(.*)\n/.exec(output)?.[2]
      resolve({ code, exitedAt: Date.now(), spawnedAt, seenAt, log, output, deploymentId: id })
    })
  )
}

/** The baseline's wait: register + update, then the SDK waiter with minDelay 15 s, as that action does. */
async function baselineDeploy(endpoint, tag) {
  const client = new ECSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'b', secretAccessKey: 'b' } })
  const live = (await client.send(new DescribeServicesCommand({ cluster: 'default', services: ['web'] }))).services[0]
  const registered = await client.send(new RegisterTaskDefinitionCommand({ family: 'web', containerDefinitions: [{ name: 'web', image: `registry.example/web:${tag}` }] }))
  const updated = await client.send(new UpdateServiceCommand({ cluster: 'default', service: 'web', taskDefinition: registered.taskDefinition.taskDefinitionArn }))
  const id = updated.service.deployments.find(d => d.status === 'PRIMARY').id
  await waitUntilServicesStable({ client, minDelay: 15, maxWaitTime: 600 }, { cluster: 'default', services: ['web'] })
  void live
  return { exitedAt: Date.now(), deploymentId: id }
}

async function exitAfterSettle(deploy, settleMs, runs) {
  const delays = []
  for (let i = 0; i < runs; i++) {
    const ecs = await startScriptedEcs({ settleMs })
    try {
      const result = await deploy(ecs.endpoint, `1.${i}.0`)
      delays.push((result.exitedAt - ecs.settledAt(result.deploymentId)) / 1000)
    } finally {
      await ecs.close()
    }
  }
  return delays
}

console.log(`${'measure'.padEnd(44)} | ${'deploy-service'.padEnd(22)} | ${'baseline (SDK waiter, 15s)'.padEnd(26)} | target`)
console.log('-'.repeat(120))

const ours = await exitAfterSettle((endpoint, tag) => runBundle(endpoint, { 'image-tag': tag }), 5000, RUNS)
const theirs = await exitAfterSettle(baselineDeploy, 5000, Math.min(RUNS, 3))
row(`exit after settle, median of ${RUNS} (s)`, median(ours).toFixed(2), `${median(theirs).toFixed(2)} (median of ${theirs.length})`, '<= 2 s')

{
  const ecs = await startScriptedEcs({ settleMs: 20_000 })
  const result = await runBundle(ecs.endpoint, { 'image-tag': '2.0.0' })
  const calls = ecs.calls.length
  const first = ecs.calls[0].at
  await ecs.close()
  row('API calls for a 20 s rollout', `${calls} (exit ${result.code})`, '~6 (polls every 15 s)', '<= 40')
  row('cold start: process start to first ECS request', `${first - result.spawnedAt} ms`, '-', '-')
}

{
  const ecs = await startScriptedEcs({ failAfterMs: 4000 })
  const result = await runBundle(ecs.endpoint, { 'image-tag': 'crash' }, {}, /ECS deployment circuit breaker: tasks failed to start/)
  // From the moment ECS marked the deployment FAILED to the moment the action said so.
  const noticed = (result.seenAt - ecs.settledAt(result.deploymentId)) / 1000
  const reason = /stopped: EssentialContainerExited: Essential container in task exited/.test(result.log)
  await ecs.close()
  row('circuit-breaker failure noticed after (s)', `${noticed.toFixed(2)} (reason shown: ${reason ? 'yes' : 'no'})`, 'waiter fails at next 15 s poll', '<= 5 s, with the reason')
}

{
  const ecs = await startScriptedEcs({ settleMs: 5000, throttle: { operations: ['DescribeServices', 'DescribeTaskDefinition', 'ListTasks'], count: 25 } })
  const started = Date.now()
  const result = await runBundle(ecs.endpoint, { 'image-tag': '3.0.0' })
  const throttled = ecs.calls.filter(c => c.status === 400).length
  await ecs.close()
  row('throttling storm (25 throttled answers)', `${result.code === 0 ? 'survived' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s, ${throttled} throttled`, '-', 'survive')
}

{
  const ecs = await startScriptedEcs({ settleMs: 500 })
  const trace = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'trace-')), 'loads')
  await runBundle(ecs.endpoint, { 'image-tag': '4.0.0' }, { TRACE_LOADS_FILE: trace })
  await ecs.close()
  const files = fs.readFileSync(trace, 'utf8').split('\n').filter(f => f.startsWith(path.dirname(process.env.BENCH_BUNDLE ?? path.join(root, 'dist/index.js'))) && f.endsWith('.js'))
  const bytes = files.reduce((sum, f) => sum + fs.statSync(f).size, 0)
  const kubernetes = files.some(f => fs.readFileSync(f, 'utf8').includes('KubeConfig'))
  row('JS an ECS deploy loads', `${(bytes / 1024 / 1024).toFixed(2)} MB in ${files.length} files${kubernetes ? ' (Kubernetes client LOADED)' : ''}`, '-', '<= 1.5 MB')
}

/** The bundle against an endpoint that fails at the network level: time to exit and the error it printed. */
async function clearError(endpoint) {
  const result = await runBundle(endpoint, { 'image-tag': '5.0.0' })
  const error = /::error::(.*)/.exec(result.log)?.[1] ?? '(no ::error:: line)'
  return { seconds: (result.exitedAt - result.spawnedAt) / 1000, code: result.code, error }
}

{
  // Accepts the connection and never says a word, as a stuck proxy or a black-holed VPC endpoint does.
  const sockets = new Set()
  const hole = net.createServer(socket => {
    sockets.add(socket)
    socket.on('error', () => {})
  })
  await new Promise(resolve => hole.listen(0, '127.0.0.1', resolve))
  const outcome = await clearError(`http://127.0.0.1:${hole.address().port}`)
  sockets.forEach(socket => socket.destroy())
  hole.close()
  row('time to a clear error, black-holed endpoint', `${outcome.seconds.toFixed(1)} s (exit ${outcome.code})`, 'SDK defaults: 15 min per try', '< 60 s')
  console.log(`    error: ${outcome.error}`)
}

{
  const closed = net.createServer()
  await new Promise(resolve => closed.listen(0, '127.0.0.1', resolve))
  const { port } = closed.address()
  await new Promise(resolve => closed.close(resolve))
  const outcome = await clearError(`http://127.0.0.1:${port}`)
  row('time to a clear error, refused connection', `${outcome.seconds.toFixed(1)} s (exit ${outcome.code})`, '-', '< 60 s')
  console.log(`    error: ${outcome.error}`)
}

/**
 * The pre-deploy task (a migration): a command that prints a line a second for 6 s, its log written to
 * a moto_server's CloudWatch Logs as it prints. Measures the time from the task stopping (ECS's
 * stoppedAt) to the step's verdict, and how many log lines the step showed before the task stopped
 * (live) rather than after. Baseline: what a workflow does by hand, RunTask then the SDK's
 * tasksStopped waiter (`aws ecs wait tasks-stopped`, a look every 6 s), the log read only afterwards.
 */
async function preDeployTask(runs) {
  const moto = await startMoto()
  const logs = new CloudWatchLogsClient({ endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'b', secretAccessKey: 'b' } })
  await logs.send(new CreateLogGroupCommand({ logGroupName: '/ecs/web' }))
  const [seed] = defaultSeed()
  const [web, router] = seed.taskDefinition.containerDefinitions
  const logConfiguration = { logDriver: 'awslogs', options: { 'awslogs-group': '/ecs/web', 'awslogs-region': 'us-east-1', 'awslogs-stream-prefix': 'ecs', 'awslogs-endpoint': moto.endpoint } }
  const services = [{ ...seed, taskDefinition: { ...seed.taskDefinition, containerDefinitions: [{ ...web, logConfiguration }, router] } }]
  const script = Array.from({ length: 6 }, (_, i) => `echo migration step ${i + 1}; sleep 1`).join('; ') + '; exit 0'
  const verdicts = []
  const live = []
  try {
    for (let i = 0; i < runs; i++) {
      const ecs = await startScriptedEcs({ settleMs: 500, services })
      try {
        const result = await runBundle(ecs.endpoint, { 'image-tag': `6.${i}.0`, 'pre-deploy-command': script }, { AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: moto.endpoint }, /the pre-deploy step (succeeded|failed|timed out)/)
        const arn = /pre-deploy-task<<(\S+)\n(.*)\n/.exec(result.output)?.[2]
        if (result.code !== 0 || !arn) throw new Error(`the pre-deploy run failed (exit ${result.code}):\n${result.log}`)
        const client = new ECSClient({ endpoint: ecs.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'b', secretAccessKey: 'b' } })
        const [task] = (await client.send(new DescribeTasksCommand({ tasks: [arn] }))).tasks
        const stoppedAt = task.stoppedAt.getTime()
        verdicts.push((result.seenAt - stoppedAt) / 1000)
        // Each line's stamp is its time since the step started (about when the process did).
        const stamps = [...result.log.matchAll(/\[\+([\d.]+)s\] web \| migration step/g)].map(m => result.spawnedAt + Number(m[1]) * 1000)
        live.push(`${stamps.filter(at => at < stoppedAt).length}/${stamps.length}`)
      } finally {
        await ecs.close()
      }
    }
    // The baseline on the same task: RunTask, then the tasksStopped waiter.
    const ecs = await startScriptedEcs({ settleMs: 500, services })
    let baseline
    try {
      const client = new ECSClient({ endpoint: ecs.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'b', secretAccessKey: 'b' } })
      const started = await client.send(new RunTaskCommand({
        taskDefinition: 'web:1', launchType: 'FARGATE', networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-1'] } },
        overrides: { containerOverrides: [{ name: 'web', command: ['sh', '-c', script] }] }
      }))
      const arn = started.tasks[0].taskArn
      await waitUntilTasksStopped({ client, maxWaitTime: 600 }, { tasks: [arn] })
      const [task] = (await client.send(new DescribeTasksCommand({ tasks: [arn] }))).tasks
      baseline = (Date.now() - task.stoppedAt.getTime()) / 1000
    } finally {
      await ecs.close()
    }
    return { verdicts, live, baseline }
  } finally {
    await moto.stop()
  }
}

{
  const { verdicts, live, baseline } = await preDeployTask(Math.min(RUNS, 3))
  row(`pre-deploy: task stopped -> verdict, median of ${verdicts.length} (s)`, median(verdicts).toFixed(2), `${baseline.toFixed(2)} (tasksStopped waiter, 6 s)`, '<= 2 s')
  row('pre-deploy: log lines shown before the task stopped', live.join(', '), '0 (log read after the wait)', 'all but the last second\'s')
}
