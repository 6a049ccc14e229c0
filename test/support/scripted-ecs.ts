// The project's own scripted ECS endpoint: an HTTP server that speaks the ECS JSON protocol
// (awsJson1_1) to the real AWS SDK and plays the rollouts that moto cannot: progress, circuit-breaker
// failures with stopped tasks and events, deployments that vanish or never finish, throttling and 5xx.
//
// Time is computed lazily: every change a rollout makes is an action due at a moment after the
// UpdateService that started it; each request first applies the actions that are due, in order.
// The scenario of a deployment is chosen by the image tags of its task definition:
//   crash | pullfail | unhealthy | vanish | never | dies (anything else rolls out healthily).
// `dies`: tasks start, run taskLifeMs, then their essential container exits; they are replaced for ever.
//
// What it plays follows the ECS API reference (UpdateService, DescribeServices, ListTasks, Task):
// - A deployment of a service is `ecs-svc/<digits>`; every task it starts has `startedBy` set to that id.
// - UpdateService with another task definition, or the same one with forceNewDeployment, makes a new
//   PRIMARY deployment and turns the one that was PRIMARY into ACTIVE, which keeps its rolloutState.
// - The deployment circuit breaker (deploymentConfiguration.deploymentCircuitBreaker {enable, rollback})
//   fails a deployment whose tasks fail to start (rolloutStateReason 'ECS deployment circuit breaker:
//   tasks failed to start.'). With rollback on it puts the last COMPLETED deployment back: that
//   deployment turns PRIMARY and IN_PROGRESS again, keeping its id, with rolloutStateReason 'ECS
//   deployment circuit breaker: rolling back to deploymentId <id>.'. With the breaker off, failing
//   tasks are replaced for ever and the deployment stays IN_PROGRESS.
// - failedTasks counts tasks that failed before any task of the deployment ran; once one ran, it
//   resets to zero and stops counting (so `dies` keeps it at 0).
// - ListTasks pages by maxResults (1-100, default 100) and nextToken; startedBy must be the only
//   filter besides cluster and desiredStatus. Stopped tasks stay listed (ECS: at least an hour;
//   here the last 1000 per service).
//
// Service deployments (List/Describe/Stop/ContinueServiceDeployment) and the blue/green, linear and canary
// strategies live in scripted-ecs-deployments.ts; every UpdateService that starts a deployment starts one.
// ECS Express services (Describe/UpdateExpressGatewayService) live in scripted-ecs-express.ts.
//
// Node builtins and erasable TypeScript only: this file runs as is under Node 24
// (`node test/support/scripted-ecs.ts --port 0`) and is imported by the jest tests.
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { taskOperations, type TaskHooks } from './scripted-ecs-tasks.ts'
import { operations } from './scripted-ecs-operations.ts'
import { expressOperations } from './scripted-ecs-express.ts'
import { ACCOUNT, EcsError, EcsState, PREFIX, type Obj, type RecordedCall, type ScriptedEcs, type ScriptedEcsOptions } from './scripted-ecs-state.ts'

// The model and its types live in scripted-ecs-state.ts, the operations in scripted-ecs-operations.ts;
// this file is the HTTP server and the command line, and what the tests import.
export { defaultSeed, EcsError, EcsState } from './scripted-ecs-state.ts'
export type { Obj, RecordedCall, ScriptedEcs, ScriptedEcsOptions, SeedService } from './scripted-ecs-state.ts'

function send(res: ServerResponse, status: number, body: unknown, type = 'application/x-amz-json-1.1') {
  res.writeHead(status, { 'content-type': type, 'x-amzn-requestid': randomUUID() })
  res.end(JSON.stringify(body))
}

export async function startScriptedEcs(options: ScriptedEcsOptions = {}): Promise<ScriptedEcs> {
  const state = new EcsState(options)
  // One-off tasks (RunTask and what follows a task to STOPPED) live beside this file.
  const rollouts = operations(state)
  const hooks: TaskHooks = {}
  const ops = { ...rollouts, ...taskOperations(state, rollouts, hooks), ...state.sd.operations((ref) => state.cluster(ref)), ...expressOperations(state) }
  const throttle = { operations: options.throttle?.operations, count: options.throttle?.count ?? 0 }
  const serverErrors = { operations: options.serverErrors?.operations, count: options.serverErrors?.count ?? 0 }
  const startedAt = Date.now()
  const serverErrorsFrom = startedAt + (options.serverErrors?.fromMs ?? 0)
  let errorsServed = 0
  /** Consumes one injected fault (throttling, then 5xx alternating 500 and 503) for this operation. */
  const injectedFault = (op: string) => {
    const matches = (f: { operations?: string[]; count: number }) => f.count > 0 && (!f.operations || f.operations.includes(op))
    if (matches(throttle)) {
      throttle.count--
      return new EcsError('ThrottlingException', 'Rate exceeded')
    }
    if (!matches(serverErrors) || Date.now() < serverErrorsFrom) return undefined
    serverErrors.count--
    return errorsServed++ % 2 === 0
      ? new EcsError('ServerException', 'Internal error.', 500)
      : new EcsError('ServerException', 'Service Unavailable. Please try again later.', 503)
  }
  const calls: RecordedCall[] = []
  /** Time skipped by `POST /_scripted/skip`: the endpoint's clock runs that far ahead of ours. */
  let skippedMs = 0
  const now = () => Date.now() + skippedMs
  const settledAt = (id: string) => {
    state.advance(now())
    return state.settled.get(id)
  }

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    if (req.method === 'GET' && req.url === '/_scripted/calls') return send(res, 200, calls, 'application/json')
    if (req.method === 'GET' && req.url === '/_scripted/settled') {
      state.advance(now())
      return send(res, 200, Object.fromEntries(state.settled), 'application/json')
    }
    if (req.method === 'POST' && req.url === '/_scripted/stop-task') {
      // ECS itself stops a task (a Fargate Spot interruption): {task, stopCode, stoppedReason}.
      state.advance(now())
      try {
        return send(res, 200, hooks.stopFromEcs!(JSON.parse(Buffer.concat(chunks).toString('utf8'))), 'application/json')
      } catch (e) {
        return send(res, 400, { message: String(e) }, 'application/json')
      }
    }
    if (req.method === 'POST' && req.url === '/_scripted/skip') {
      // Hours of bake pass at once ({ms}): a later job that follows a long bake, without a test that sleeps.
      skippedMs += Number(JSON.parse(Buffer.concat(chunks).toString('utf8')).ms) || 0
      state.advance(now())
      return send(res, 200, { skippedMs }, 'application/json')
    }
    if (req.method !== 'POST' || (req.url ?? '/').split('?')[0] !== '/') return send(res, 404, { message: 'Not found' }, 'application/json')
    const at = now()
    const target = String(req.headers['x-amz-target'] ?? '')
    const operation = target.startsWith(PREFIX) ? target.slice(PREFIX.length) : target
    let input: Obj = {}
    let status = 200
    let body: unknown
    try {
      const text = Buffer.concat(chunks).toString('utf8')
      try {
        input = text ? JSON.parse(text) : {}
      } catch {
        throw new EcsError('SerializationException', 'Request body is not valid JSON.')
      }
      const handler = target.startsWith(PREFIX) && Object.hasOwn(ops, operation) ? ops[operation] : undefined
      if (!handler) throw new EcsError('UnknownOperationException', `Unknown operation ${target}`)
      if (options.deny?.operations.includes(operation)) {
        // An IAM policy without the action: ECS's wording for it.
        throw new EcsError('AccessDeniedException', `User: arn:aws:sts::${ACCOUNT}:assumed-role/deployer/deploy-service is not authorized to perform: ecs:${operation} on resource: * because no identity-based policy allows the ecs:${operation} action`)
      }
      if (options.hang?.operations.includes(operation)) {
        calls.push({ at, operation, input, status: 0 })
        return
      }
      const fault = injectedFault(operation)
      if (fault && !options.serverErrors?.afterRunning) throw fault
      state.advance(at)
      body = handler(input)
      options.afterCall?.({ operation, input }, (op, given) => {
        if (!Object.hasOwn(ops, op)) throw new Error(`afterCall: unknown operation ${op}`)
        return ops[op]!(given)
      })
      if (fault) throw fault
    } catch (e) {
      const err = e instanceof EcsError ? e : new EcsError('ServerException', String(e), 500)
      status = err.status
      body = { __type: err.code, message: err.message }
    }
    calls.push({ at, operation, input, status })
    send(res, status, body)
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e) => send(res, 500, { __type: 'ServerException', message: String(e) }))
  })
  await new Promise<void>((ok, fail) => {
    server.once('error', fail)
    server.listen(options.port ?? 0, '127.0.0.1', () => ok())
  })
  const { port } = server.address() as AddressInfo
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    settledAt,
    close: () => new Promise<void>((ok) => {
      server.close(() => ok())
      server.closeAllConnections()
    })
  }
}

// ---- CLI: node test/support/scripted-ecs.ts --port N [--settle-ms N] ... ----
const USAGE = `usage: node test/support/scripted-ecs.ts [--port N] [--region R] [--settle-ms N] [--fail-after-ms N]
  [--no-rollback] [--no-rollout-state] [--task-life-ms N] [--hang-ops Op,Op] [--throttle N] [--throttle-ops Op,Op] [--server-errors N]
  [--server-errors-ops Op,Op] [--deny-ops Op,Op] [--minute-ms N] [--deny-service-deployments] [--seed services.json]`

export function parseArgs(argv: string[]): ScriptedEcsOptions {
  const o: ScriptedEcsOptions = {}
  const num = (flag: string, v: string | undefined) => {
    const n = Number(v)
    if (v === undefined || !Number.isInteger(n) || n < 0) throw new Error(`${flag} needs a non-negative integer, got ${v}`)
    return n
  }
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!
    const value = () => argv[++i]
    if (flag === '--port') o.port = num(flag, value())
    else if (flag === '--region') o.region = value()
    else if (flag === '--settle-ms') o.settleMs = num(flag, value())
    else if (flag === '--fail-after-ms') o.failAfterMs = num(flag, value())
    else if (flag === '--no-rollback') o.circuitBreakerRollback = false
    else if (flag === '--no-rollout-state') o.rolloutState = false
    else if (flag === '--task-life-ms') o.taskLifeMs = num(flag, value())
    else if (flag === '--hang-ops') o.hang = { operations: String(value()).split(',') }
    else if (flag === '--throttle') o.throttle = { ...o.throttle, count: num(flag, value()) }
    else if (flag === '--throttle-ops') o.throttle = { count: o.throttle?.count ?? 0, operations: String(value()).split(',') }
    else if (flag === '--server-errors') o.serverErrors = { ...o.serverErrors, count: num(flag, value()) }
    else if (flag === '--server-errors-ops') o.serverErrors = { count: o.serverErrors?.count ?? 0, operations: String(value()).split(',') }
    else if (flag === '--deny-ops') o.deny = { operations: String(value()).split(',') }
    else if (flag === '--minute-ms') o.serviceDeployments = { ...o.serviceDeployments, minuteMs: num(flag, value()) }
    else if (flag === '--deny-service-deployments') o.serviceDeployments = { ...o.serviceDeployments, denied: true }
    else if (flag === '--seed') o.services = JSON.parse(readFileSync(String(value()), 'utf8'))
    else throw new Error(`unknown argument ${flag}\n${USAGE}`)
  }
  return o
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  let options: ScriptedEcsOptions
  try {
    options = parseArgs(process.argv.slice(2))
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`)
    process.exit(2)
  }
  const ecs = await startScriptedEcs(options)
  process.stdout.write(`ECS_ENDPOINT=${ecs.endpoint}\n`)
  const stop = () => void ecs.close().then(() => process.exit(0))
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}
