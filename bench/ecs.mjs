// ECS benchmark on the scripted endpoint, the committed bundle run as the runner runs it, side by side
// with the wait that aws-actions/amazon-ecs-deploy-task-definition uses (the SDK's
// waitUntilServicesStable with its 15 s delay) on the same rollouts. Prints one row per measure.
import { CloudWatchLogsClient, CreateLogGroupCommand } from '@aws-sdk/client-cloudwatch-logs'
import { DescribeServicesCommand, DescribeTasksCommand, ECSClient, RegisterTaskDefinitionCommand, RunTaskCommand, UpdateServiceCommand, waitUntilServicesStable, waitUntilTasksStopped } from '@aws-sdk/client-ecs'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { startMoto } from '../test/support/moto.ts'
import { defaultSeed, startScriptedEcs } from '../test/support/scripted-ecs.ts'
import { runBundle } from './run-bundle.mjs'

const root = path.resolve(import.meta.dirname, '..')
const bundle = process.env.BENCH_BUNDLE ?? path.join(root, 'dist/index.js')
const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const median = values => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const rows = []
const row = (measure, ours, baseline, target) => {
  rows.push({ measure, ours, baseline, target })
  console.log(`${measure.padEnd(44)} | ${String(ours).padEnd(22)} | ${String(baseline).padEnd(26)} | ${target}`)
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
  const files = fs.readFileSync(trace, 'utf8').split('\n').filter(f => f.startsWith(path.dirname(bundle)) && f.endsWith('.js'))
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

// ---- ECS strategies: service deployments (blue/green bake, drain, alarm rollback) ----
// The endpoint plays bake minutes scaled (minuteMs) and the action reads them the same way
// (DEPLOY_SERVICE_ECS_MINUTE_MS): the poll intervals themselves stay real.
const percentile = (values, p) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.ceil(p * values.length) - 1)]
const seedWith = deploymentConfiguration => defaultSeed().map(s => ({ ...s, deploymentConfiguration }))
const STAGE_MS = 200

/** Runs the bundle `runs` times on fresh endpoints; seconds from the deployment's end (SUCCESSFUL) to the exit. */
async function exitAfterSuccessful(options, inputs, env, runs) {
  const delays = []
  for (let i = 0; i < runs; i++) {
    const ecs = await startScriptedEcs(options)
    try {
      const result = await runBundle(ecs.endpoint, { 'image-tag': `7.${i}.0`, ...inputs }, env)
      const settled = ecs.settledAt(result.deploymentId)
      if (result.code !== 0 || settled === undefined) throw new Error(`run ${i} exited ${result.code}:\n${result.log}`)
      delays.push((result.exitedAt - settled) / 1000)
    } finally {
      await ecs.close()
    }
  }
  return delays
}

/** ECS calls per minute while the endpoint's clock is in [from, to] (ms since epoch). */
const callsPerMinute = (ecs, from, to) => ecs.calls.filter(c => c.at >= from && c.at <= to).length / ((to - from) / 60_000)

{
  const scaled = { DEPLOY_SERVICE_ECS_MINUTE_MS: '1000' }
  const blueGreen = await exitAfterSuccessful(
    { settleMs: 2000, services: seedWith({ strategy: 'BLUE_GREEN', bakeTimeInMinutes: 3 }), serviceDeployments: { minuteMs: 1000, stageMs: STAGE_MS } },
    {}, scaled, RUNS
  )
  row(`blue/green + bake: SUCCESSFUL -> exit p50/p90 (s)`, `${percentile(blueGreen, 0.5).toFixed(2)} / ${percentile(blueGreen, 0.9).toFixed(2)}`, '-', 'p50 <= 1 s, p90 <= 2 s')
  const quiet = await exitAfterSuccessful({ settleMs: 2000, drainMs: 20_000 }, {}, scaled, RUNS)
  row(`rolling, 20 s quiet drain: SUCCESSFUL -> exit p50/p90`, `${percentile(quiet, 0.5).toFixed(2)} / ${percentile(quiet, 0.9).toFixed(2)}`, '-', 'p50 <= 1 s, p90 <= 2 s')
}

{
  const alarms = { enable: true, rollback: true, alarmNames: ['web-5xx'] }
  const ecs = await startScriptedEcs({ settleMs: 2000, services: seedWith({ strategy: 'BLUE_GREEN', bakeTimeInMinutes: 4, alarms }), serviceDeployments: { minuteMs: 1000, stageMs: STAGE_MS } })
  const result = await runBundle(ecs.endpoint, { 'image-tag': 'alarm-1' }, { DEPLOY_SERVICE_ECS_MINUTE_MS: '1000' }, /alarm web-5xx went into ALARM/)
  // The endpoint marks the deployment settled when ECS starts rolling it back.
  const noticed = (result.seenAt - ecs.settledAt(result.deploymentId)) / 1000
  await ecs.close()
  row('alarm rollback: ECS rolls back -> action says so (s)', `${noticed.toFixed(2)} (exit ${result.code})`, 'waiter: never (ECS reaches steady state)', '<= 2 s')
}

{
  // A 30-minute bake and a 300 s drain, side by side: the bake's minutes scaled to 10 s (5 real
  // minutes of bake); the drain is real (300 s). Calls per real minute are what the account's ECS
  // read quota counts.
  const BAKE_MIN = 30, MINUTE = 10_000, DRAIN = 300_000
  const bakeEcs = await startScriptedEcs({ settleMs: 2000, services: seedWith({ strategy: 'BLUE_GREEN', bakeTimeInMinutes: BAKE_MIN }), serviceDeployments: { minuteMs: MINUTE, stageMs: STAGE_MS } })
  const drainEcs = await startScriptedEcs({ settleMs: 3000, drainMs: DRAIN })
  const [bake, drain] = await Promise.all([
    runBundle(bakeEcs.endpoint, { 'image-tag': '8.0.0', timeout: '20m' }, { DEPLOY_SERVICE_ECS_MINUTE_MS: String(MINUTE) }),
    runBundle(drainEcs.endpoint, { 'image-tag': '8.1.0', timeout: '20m' })
  ])
  // The bake ends one stage before the end (CLEAN_UP follows it); the drain ends with the deployment.
  const bakeEnd = bakeEcs.settledAt(bake.deploymentId) - STAGE_MS
  const drainEnd = drainEcs.settledAt(drain.deploymentId)
  row(`calls/min during a ${BAKE_MIN}-min bake (scaled to ${BAKE_MIN * MINUTE / 60_000} min)`, `${callsPerMinute(bakeEcs, bakeEnd - BAKE_MIN * MINUTE, bakeEnd).toFixed(1)} (exit ${bake.code})`, '~4 (SDK waiter, a call per 15 s)', '<= 6')
  row('calls/min during a 300 s drain', `${callsPerMinute(drainEcs, drainEnd - DRAIN, drainEnd).toFixed(1)} (exit ${drain.code})`, '~4 (SDK waiter, a call per 15 s)', '<= 20')
  row('300 s drain: SUCCESSFUL -> exit (s)', ((drain.exitedAt - drainEnd) / 1000).toFixed(2), 'up to 15', '<= 2 s')
  await bakeEcs.close()
  await drainEcs.close()
}

{
  // The issue's own case: about 8 s of stages, then a 60 s bake, in real time (69 calls before).
  const ecs = await startScriptedEcs({ settleMs: 2000, services: seedWith({ strategy: 'BLUE_GREEN', bakeTimeInMinutes: 1 }), serviceDeployments: { stageMs: 1100 } })
  const result = await runBundle(ecs.endpoint, { 'image-tag': '9.0.0', timeout: '5m' })
  const waiting = ecs.calls.filter(c => ['DescribeServiceDeployments', 'DescribeServices', 'ListServiceDeployments', 'ListTasks', 'DescribeTasks'].includes(c.operation)).length
  await ecs.close()
  row('calls while waiting: 8 s of stages + 60 s bake', `${waiting} (exit ${result.code})`, '~5 (SDK waiter)', '< 69 (the old loop)')
}

{
  // Several services in one step (issue 18, part 4): calls per minute while N services roll out together
  // (one `service` input naming all, sharing one family) next to N separate runs of one service each,
  // against one scripted endpoint. A rollout takes about 20 s; the window runs from the first
  // UpdateService to the last deployment's end.
  const SETTLE = 20_000
  const seedN = n => Array.from({ length: n }, (_, i) => ({ ...defaultSeed()[0], name: `svc-${i}` }))
  const window = ecs => {
    const updates = ecs.calls.filter(c => c.operation === 'UpdateService').map(c => c.at)
    return { from: Math.min(...updates), to: Math.max(...updates) + SETTLE }
  }
  for (const n of [1, 10, 30]) {
    const names = Array.from({ length: n }, (_, i) => `svc-${i}`)
    const together = await startScriptedEcs({ settleMs: SETTLE, services: seedN(n) })
    const one = await runBundle(together.endpoint, { service: names.join('\n'), 'image-tag': '10.0.0', container: 'web', timeout: '5m' })
    const t = window(together)
    const ourRate = callsPerMinute(together, t.from, t.to)
    await together.close()
    const separate = await startScriptedEcs({ settleMs: SETTLE, services: seedN(n) })
    const runs = await Promise.all(names.map(name => runBundle(separate.endpoint, { service: name, 'image-tag': '10.0.0', container: 'web', timeout: '5m' })))
    const s = window(separate)
    const theirRate = callsPerMinute(separate, s.from, s.to)
    await separate.close()
    row(`calls/min, ${n} service${n === 1 ? '' : 's'} rolling out (~20 s)`, `${ourRate.toFixed(0)} (exit ${one.code})`, `${theirRate.toFixed(0)} as ${n} separate runs (exits ${[...new Set(runs.map(r => r.code))].join(',')})`, n === 1 ? 'same as one run' : `well under ${n}x one run`)
  }
}

// The poll rhythm against rollouts that progress steadily, and the DescribeServices fallback's drain
// (bench/ecs-rhythm.mjs; `node bench/ecs-rhythm.mjs` runs those rows alone).
await import('./ecs-rhythm.mjs')
