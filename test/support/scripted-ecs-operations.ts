// The scripted ECS endpoint's operations: one handler per ECS API operation, reading and changing the
// model in scripted-ecs-state.ts. Shapes, status names and error wording follow the ECS API reference.
import { EcsError, clientError, invalid, last, secs, taskIdOf, type EcsState, type Obj, type Service } from './scripted-ecs-state.ts'

/** One handler per ECS operation: input -> output, or throw EcsError. */
export function operations(s: EcsState): Record<string, (input: Obj) => Obj> {
  const page = <T>(items: T[], input: Obj) => {
    const max = input.maxResults ?? 100
    if (typeof max !== 'number' || max < 1 || max > 100) throw invalid('maxResults must be between 1 and 100.')
    const from = input.nextToken ? Number(Buffer.from(String(input.nextToken), 'base64').toString()) : 0
    if (!Number.isInteger(from)) throw invalid('Invalid nextToken.')
    const next = from + max < items.length ? Buffer.from(String(from + max)).toString('base64') : undefined
    return { items: items.slice(from, from + max), nextToken: next }
  }
  const includeTags = (input: Obj) => Array.isArray(input.include) && input.include.includes('TAGS')
  return {
    DescribeClusters(input) {
      const refs: unknown[] = input.clusters ?? ['default']
      const names = refs.map((r) => last(String(r), '/'))
      const found = names.filter((n) => s.clusters.has(n))
      return {
        clusters: found.map((name) => {
          const svcs = s.services.filter((x) => x.cluster === name).map((x) => s.renderService(x))
          return {
            clusterArn: s.arn('cluster', name), clusterName: name, status: 'ACTIVE', registeredContainerInstancesCount: 0,
            runningTasksCount: svcs.reduce((n, x) => n + x.runningCount, 0),
            pendingTasksCount: svcs.reduce((n, x) => n + x.pendingCount, 0),
            activeServicesCount: svcs.filter((x) => x.status === 'ACTIVE').length
          }
        }),
        failures: names.filter((n) => !s.clusters.has(n)).map((n) => ({ arn: s.arn('cluster', n), reason: 'MISSING' }))
      }
    },
    ListClusters(input) {
      const { items, nextToken } = page([...s.clusters].sort().map((c) => s.arn('cluster', c)), input)
      return { clusterArns: items, nextToken }
    },
    ListServices(input) {
      const cluster = s.cluster(input.cluster)
      // ECS lists a cluster's ACTIVE and DRAINING services, 10 a page unless maxResults (1-100) says otherwise.
      const arns = s.services.filter((x) => x.cluster === cluster && x.status !== 'INACTIVE').map((x) => x.arn)
      const { items, nextToken } = page(arns, { maxResults: 10, ...input })
      return { serviceArns: items, nextToken }
    },
    DescribeServices(input) {
      const cluster = s.cluster(input.cluster)
      const refs = input.services
      if (!Array.isArray(refs) || refs.length === 0) throw invalid('Services cannot be empty.')
      if (refs.length > 10) throw invalid('Too many services were provided. The maximum is 10.')
      const found = refs.map((r) => s.findService(cluster, r))
      const render = (x: Service) => (includeTags(input) ? { ...s.renderService(x), tags: s.tags.get(x.arn) ?? [] } : s.renderService(x))
      const missing = (r: unknown) => ({ arn: s.arn('service', `${cluster}/${last(String(r), '/')}`), reason: 'MISSING' })
      return {
        services: found.filter((x) => x !== undefined).map(render),
        failures: refs.filter((_r, i) => !found[i]).map(missing)
      }
    },
    UpdateService(input) {
      const cluster = s.cluster(input.cluster)
      if (typeof input.service !== 'string' || !input.service) throw invalid('Service must be specified.')
      const svc = s.findService(cluster, input.service)
      if (!svc) throw new EcsError('ServiceNotFoundException', 'Service not found.')
      if (svc.status !== 'ACTIVE') throw new EcsError('ServiceNotActiveException', 'Service was not ACTIVE.')
      let taskDef = svc.taskDef
      if (input.taskDefinition !== undefined) {
        const td = s.findTaskDef(input.taskDefinition)
        if (!td) throw invalid('TaskDefinition not found.')
        if (td.body.status !== 'ACTIVE') throw invalid('TaskDefinition is inactive')
        taskDef = td.arn
      }
      if (input.desiredCount !== undefined) {
        if (!Number.isInteger(input.desiredCount) || input.desiredCount < 0) throw invalid('desiredCount must be a non-negative integer.')
        svc.desiredCount = input.desiredCount
        const primary = svc.deployments.find((d) => d.status === 'PRIMARY')
        if (primary) primary.desiredCount = svc.desiredCount
      }
      if (input.deploymentConfiguration) Object.assign(svc.deploymentConfiguration, input.deploymentConfiguration)
      if (taskDef !== svc.taskDef || input.forceNewDeployment === true) {
        s.deploy(svc, taskDef, s.clock, s.scenarioOf(taskDef))
      } else if (input.desiredCount !== undefined) {
        const primary = svc.deployments[0]
        if (primary?.rolloutState === 'COMPLETED') s.at(s.clock + s.settleMs / 2, () => {
          if (svc.deployments[0] !== primary) return
          s.reconcile(svc, primary)
          s.event(svc, `(service ${svc.name}) has reached a steady state.`)
        })
      }
      return { service: s.renderService(svc) }
    },
    RegisterTaskDefinition(input) {
      return s.register(input)
    },
    DescribeTaskDefinition(input) {
      const td = s.findTaskDef(input.taskDefinition)
      if (!td) throw clientError('Unable to describe task definition.')
      return includeTags(input) ? { taskDefinition: td.body, tags: s.tags.get(td.arn) ?? [] } : { taskDefinition: td.body }
    },
    DeregisterTaskDefinition(input) {
      const ref = String(input.taskDefinition ?? '')
      if (!last(ref, '/').includes(':')) throw clientError('The revision must be specified: family:revision or the full ARN.')
      const td = s.findTaskDef(ref)
      if (!td) throw clientError('The specified task definition does not exist.')
      Object.assign(td.body, { status: 'INACTIVE', deregisteredAt: secs(s.clock) })
      return { taskDefinition: td.body }
    },
    ListTaskDefinitions(input) {
      const status = input.status ?? 'ACTIVE'
      const all = [...s.families.keys()].sort().flatMap((f) => s.families.get(f)!)
        .filter((t) => t.body.status === status && (!input.familyPrefix || t.family.startsWith(input.familyPrefix)))
        .map((t) => t.arn)
      if (input.sort === 'DESC') all.reverse()
      const { items, nextToken } = page(all, input)
      return { taskDefinitionArns: items, nextToken }
    },
    ListTasks(input) {
      const cluster = s.cluster(input.cluster)
      // ECS API reference: "When you specify startedBy as the filter, it must be the only filter that
      // you use" (desiredStatus aside: scripts list a deployment's STOPPED tasks by startedBy).
      const others = ['serviceName', 'family', 'containerInstance', 'launchType'].filter((k) => input[k] !== undefined)
      if (input.startedBy !== undefined && others.length) {
        throw invalid(`startedBy must be the only filter: it cannot be combined with ${others.join(', ')}.`)
      }
      const svc = input.serviceName ? s.findService(cluster, input.serviceName) : undefined
      if (input.serviceName && !svc) throw new EcsError('ServiceNotFoundException', 'Service not found.')
      const desired = input.desiredStatus ?? 'RUNNING'
      const tasks = (svc ? [svc] : s.services.filter((x) => x.cluster === cluster)).flatMap((x) => x.tasks)
        .filter((t) => t.lastStatus === desired)
        .filter((t) => !input.family || s.findTaskDef(t.taskDef)?.family === input.family)
        .filter((t) => !input.startedBy || t.deploymentId === input.startedBy)
      const { items, nextToken } = page(tasks.map((t) => t.arn), input)
      return { taskArns: items, nextToken }
    },
    DescribeTasks(input) {
      const cluster = s.cluster(input.cluster)
      const refs = input.tasks
      if (!Array.isArray(refs) || refs.length === 0) throw invalid('Tasks cannot be empty.')
      if (refs.length > 100) throw invalid('Too many tasks were provided. The maximum is 100.')
      const all = s.services.filter((x) => x.cluster === cluster).flatMap((x) => x.tasks)
      const found = refs.map((r) => all.find((t) => t.id === taskIdOf(String(r))))
      return {
        tasks: found.filter((t) => t !== undefined).map((t) => s.renderTask(t)),
        failures: refs.filter((_r, i) => !found[i]).map((r) => ({ arn: String(r), reason: 'MISSING' }))
      }
    },
    TagResource(input) {
      const arn = String(input.resourceArn ?? '')
      const exists = (arn.includes(':task-definition/') && s.findTaskDef(arn)) ||
        s.services.some((x) => x.arn === arn || x.tasks.some((t) => t.arn === arn)) ||
        [...s.clusters].some((c) => s.arn('cluster', c) === arn)
      if (!exists) throw new EcsError('ResourceNotFoundException', 'The specified resource could not be found.')
      const tags = s.checkTags(input.tags)
      const merged = (s.tags.get(arn) ?? []).filter((t) => !tags.some((n) => n.key === t.key))
      s.tags.set(arn, [...merged, ...tags])
      return {}
    },
    ListTagsForResource(input) {
      return { tags: s.tags.get(String(input.resourceArn ?? '')) ?? [] }
    }
  }
}

