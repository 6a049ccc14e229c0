// The poll rhythm on the scripted endpoint, the bundle run as the runner runs it (issue 18, "Also"):
// - rolling rollouts that progress steadily: two tasks that start one after the other (at a third and two
//   thirds of the rollout), rollouts of 14 to 41 s: SUCCESSFUL -> exit p50/p90, and calls per minute while
//   tasks are pending or starting, and once every new task is up (the old ones draining);
// - the DescribeServices fallback (service-deployment calls denied): calls during a 40 s drain.
// BENCH_RHYTHM_ROUNDS: how many times each rollout length is played (default 2).
import { startScriptedEcs } from '../test/support/scripted-ecs.ts'
import { runBundle } from './run-bundle.mjs'

const ROUNDS = Number(process.env.BENCH_RHYTHM_ROUNDS ?? 2)
const LENGTHS_S = [14, 20, 27, 34, 41]
const percentile = (values, p) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.ceil(p * values.length) - 1)]
const row = (measure, ours, baseline, target) => console.log(`${measure.padEnd(44)} | ${String(ours).padEnd(22)} | ${String(baseline).padEnd(26)} | ${target}`)
/** ECS calls per minute between two moments (ms since epoch). */
const perMinute = (calls, from, to) => calls.filter(c => c.at >= from && c.at < to).length / ((to - from) / 60_000)

const latencies = []
const starting = []
const allUp = []
for (let round = 0; round < ROUNDS; round++) {
  for (const seconds of LENGTHS_S) {
    const ecs = await startScriptedEcs({ settleMs: seconds * 1000 })
    try {
      const result = await runBundle(ecs.endpoint, { 'image-tag': `10.${round}.${seconds}` })
      const settled = ecs.settledAt(result.deploymentId)
      if (result.code !== 0 || settled === undefined) throw new Error(`the ${seconds} s rollout exited ${result.code}:\n${result.log}`)
      latencies.push((result.exitedAt - settled) / 1000)
      // The endpoint starts the second (last) new task two thirds into the rollout.
      const updated = ecs.calls.find(c => c.operation === 'UpdateService').at
      const lastStart = updated + (seconds * 1000 * 2) / 3
      starting.push(perMinute(ecs.calls, updated, lastStart))
      allUp.push(perMinute(ecs.calls, lastStart, settled))
    } finally {
      await ecs.close()
    }
  }
}
const median = values => percentile(values, 0.5)
row(`rolling 14-41 s, steady: SUCCESSFUL -> exit p50/p90 (s, ${latencies.length} runs)`, `${percentile(latencies, 0.5).toFixed(2)} / ${percentile(latencies, 0.9).toFixed(2)}`, 'before: p50 2.5, worst 3.8', 'p50 <= 1 s, p90 <= 2 s')
row('  calls/min while tasks are pending or starting (median)', median(starting).toFixed(1), '-', '>= 30 (a look at least every 2 s)')
row('  calls/min with every new task up, old draining (median)', median(allUp).toFixed(1), '-', '-')

{
  const ecs = await startScriptedEcs({ settleMs: 2000, drainMs: 40_000, serviceDeployments: { denied: true } })
  try {
    const result = await runBundle(ecs.endpoint, { 'image-tag': '11.0.0', timeout: '5m' })
    const updated = ecs.calls.find(c => c.operation === 'UpdateService').at
    const drain = ecs.calls.filter(c => c.at >= updated + 2000 && c.at <= updated + 42_000).length
    row('fallback (DescribeServices): calls in a 40 s drain', `${drain} (exit ${result.code})`, 'about 46 (a look a second)', 'the README rhythm (about 20)')
  } finally {
    await ecs.close()
  }
}
