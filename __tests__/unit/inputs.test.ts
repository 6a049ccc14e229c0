import { describe, expect, it } from '@jest/globals'
import { UserError } from '../../src/errors.js'
import { parseInputs, parseVars } from '../../src/inputs.js'
import { helmSetValues } from '../../src/render/helm-set.js'

const env = (inputs: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(inputs).map(([name, value]) => [`INPUT_${name.toUpperCase()}`, value]))

function problemsOf(inputs: Record<string, string>): string[] {
  try {
    parseInputs(env(inputs))
  } catch (error) {
    expect(error).toBeInstanceOf(UserError)
    return (error as UserError).problems.map(p => `${p.input}: ${p.message}`)
  }
  throw new Error('expected the inputs to be refused')
}

describe('parseInputs', () => {
  it('reads the runner variables, dashes kept, into one typed request with defaults', () => {
    const request = parseInputs({ ...env({ service: 'web', 'image-tag': '1.2.3' }), GITHUB_SHA: 'abc', GITHUB_REPOSITORY: 'o/r', GITHUB_RUN_ID: '42' })
    expect(request).toMatchObject({
      service: 'web',
      mode: 'deploy',
      imageVersion: { tag: '1.2.3' },
      containers: [],
      wait: true,
      dryRun: false,
      rollbackOnFailure: true,
      timeoutMs: 600_000,
      ecs: { cluster: 'default', forceNewDeployment: false, updateScheduledTasks: false },
      kubernetes: { fieldManager: 'deploy-service', forceConflicts: false },
      github: { sha: 'abc', runUrl: 'https://github.com/o/r/actions/runs/42' }
    })
  })

  it('reads update-scheduled-tasks into the ECS settings', () => {
    expect(parseInputs(env({ service: 'web', 'image-tag': '1', 'update-scheduled-tasks': 'true' })).ecs.updateScheduledTasks).toBe(true)
  })

  it.each([
    ['90s', 90_000],
    ['10m', 600_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1h30m', 5_400_000],
    ['2h0m5s', 7_205_000],
    ['45', 45_000],
    ['1s', 1000],
    ['6h', 21_600_000],
    ['21600', 21_600_000]
  ])('takes the duration %s', (timeout, ms) => {
    expect(parseInputs(env({ service: 'web', 'image-tag': 'v1', timeout })).timeoutMs).toBe(ms)
  })

  it('takes a digest, a full image, a container list and vars', () => {
    const digest = `sha256:${'a'.repeat(64)}`
    expect(parseInputs(env({ service: 'web', 'image-tag': digest })).imageVersion).toEqual({ digest })
    const request = parseInputs(env({ service: 'web', image: 'ghcr.io/o/web:2', container: 'web, worker', vars: 'A=1\n# comment\n\nB = two words' }))
    expect(request.image).toBe('ghcr.io/o/web:2')
    expect(request.containers).toEqual(['web', 'worker'])
    expect(request.vars).toEqual({ A: '1', B: 'two words' })
  })

  it('reports every problem at once, each naming its input', () => {
    const problems = problemsOf({ 'image-tag': 'bad tag!', timeout: 'soon', wait: 'maybe', mode: 'ship' })
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^service: is required/),
        expect.stringMatching(/^image-tag: 'bad tag!' is not a valid tag/),
        expect.stringMatching(/^timeout: 'soon' is not a duration: use e\.g\. 90s/),
        expect.stringMatching(/^wait: 'maybe' is not a boolean/),
        expect.stringMatching(/^mode: 'ship' is not one of: deploy, rollback, render/)
      ])
    )
    expect(problems).toHaveLength(5)
  })

  // The bad-input cases that need no server: each names the input and what would be valid.
  it.each([
    [{ service: 'web' }, /image-tag: is required with mode 'deploy'/],
    [{ service: 'web', 'image-tag': '-bad' }, /image-tag: '-bad' is not a valid tag/],
    [{ service: 'web', 'image-tag': 'sha256:1234' }, /image-tag: 'sha256:1234' is not a sha256 digest: it takes 64 lowercase hex/],
    [{ service: 'web', 'image-tag': `sha256:${'A'.repeat(64)}` }, /not a sha256 digest/],
    [{ service: 'web', 'image-tag': 'a'.repeat(129) }, /is not a valid tag: up to 128/],
    [{ service: 'web', image: 'Registry/UPPER:1' }, /image: 'Registry\/UPPER:1' has an invalid repository part 'Registry'/],
    [{ service: 'web', image: 'web:1@sha256:xyz' }, /image: .* has an invalid digest/],
    [{ service: 'web', image: 'web:1', 'image-tag': '2' }, /give either 'image'/],
    [{ service: 'web', 'image-tag': '1', timeout: '0s' }, /timeout: '0s' is too short: the minimum is 1s/],
    [{ service: 'web', 'image-tag': '1', timeout: '-5m' }, /timeout: '-5m' is not a duration/],
    [{ service: 'web', 'image-tag': '1', timeout: 'ten minutes' }, /timeout: 'ten minutes' is not a duration/],
    [{ service: 'web', 'image-tag': '1', 'rollback-on-failure': 'yes' }, /rollback-on-failure: 'yes' is not a boolean: use true or false/],
    [{ service: 'web', 'image-tag': '1', 'dry-run': '1' }, /dry-run: '1' is not a boolean/],
    [{ service: 'web', 'image-tag': '1', platform: 'nomad' }, /platform: 'nomad' is not one of: ecs, kubernetes/],
    [{ service: 'web', mode: 'rollback', 'to-revision': 'latest' }, /to-revision: 'latest' is not a revision: use a number/],
    [{ service: 'web', mode: 'rollback', 'to-revision': 'arn:aws:ecs:us-east-1:12:task-definition/web:3' }, /to-revision: .* is not a revision/],
    [{ service: 'web', 'image-tag': '1', 'to-revision': '3' }, /to-revision: is only used with mode 'rollback'/],
    [{ service: 'web', 'image-tag': '1', 'desired-count': '-1' }, /desired-count: '-1' is not a whole number/],
    [{ service: 'web', 'image-tag': '1', 'keep-revisions': '0' }, /keep-revisions: '0' is not a whole number of at least 1/],
    [{ service: 'web', 'image-tag': '1', 'update-scheduled-tasks': 'yes' }, /update-scheduled-tasks: 'yes' is not a boolean/],
    [{ service: 'web', 'image-tag': '1', 'update-scheduled-tasks': 'true', wait: 'false' }, /update-scheduled-tasks: moves the scheduled tasks once the deploy is proven healthy; with 'wait: false' nothing proves it/],
    [{ service: 'web', 'image-tag': '1', namespace: 'Prod_NS' }, /namespace: 'Prod_NS' is not a namespace name/],
    [{ service: 'web', 'image-tag': '1', container: 'web,,side' }, /container: 'web,,side' has an empty name/],
    [{ service: 'web', 'image-tag': '1', vars: 'JUSTTEXT' }, /vars: line 1: 'JUSTTEXT' is not KEY=value/],
    [{ service: 'web', 'image-tag': '1', vars: 'A=1\nA=2' }, /vars: line 2: A is set twice/],
    [{ service: 'web', 'image-tag': '1', vars: '1X=3' }, /vars: line 1: '1X' is not a valid name/],
    [{ service: 'web', 'image-tag': '1', vars: 'SERVICE=other' }, /vars: line 1: SERVICE is built in/],
    [{ service: 'web/../x', 'image-tag': '1' }, /service: 'web\/\.\.\/x' is not a service or workload name/],
    [{ service: 'web', 'image-tag': '1', 'environment-url': 'not a url' }, /environment-url: 'not a url' is not an http\(s\) URL/],
    [{ service: 'web', mode: 'render', 'dry-run': 'true' }, /dry-run: mode 'render' never touches the server/]
  ])('refuses %j', (inputs, pattern) => {
    expect(problemsOf(inputs).join('\n')).toMatch(pattern)
  })

  // A general duration parser reads '10s garbage' as 10s and '1e3' as a second; the input is held to
  // whole h, m, s parts in that order, or bare seconds.
  it.each(['10s garbage', '1e3', '1.5h', '10 m', '1h 30m', '30m1h', '5m5m', 'm', '10ms', '1d', '0x10', '+10', '10S', '1h-5m'])('refuses the timeout %j as no duration', timeout => {
    expect(problemsOf({ service: 'web', 'image-tag': '1', timeout })).toEqual([expect.stringMatching(/^timeout: '.*' is not a duration: use e\.g\. 90s, 10m, 1h30m/)])
  })

  // Past 2^31-1 ms (about 24.8 days) setTimeout fires at once: such a timeout rolled back healthy deploys.
  it.each(['6h1s', '7h', '21601', '2147484', '1000000000h'])('refuses the timeout %s as longer than 6h, naming the maximum', timeout => {
    expect(problemsOf({ service: 'web', 'image-tag': '1', timeout })).toEqual([expect.stringMatching(/^timeout: '.*' is too long: the maximum is 6h/)])
  })

  it('accepts the three revision forms for a rollback', () => {
    for (const ref of ['7', 'web:7', 'arn:aws:ecs:eu-west-1:123456789012:task-definition/web:7']) {
      expect(parseInputs(env({ service: 'web', mode: 'rollback', 'to-revision': ref })).toRevision).toBe(ref)
    }
  })
})

describe('parseVars', () => {
  it('keeps = inside values and skips comments', () => {
    expect(parseVars('URL=https://x/?a=b\n  # note\nEMPTY=')).toEqual({ URL: 'https://x/?a=b', EMPTY: '' })
  })
})

/** `fn` throws a UserError whose problems name exactly these inputs. */
function expectProblems(fn: () => unknown, inputs: string[]): void {
  let thrown: unknown
  try {
    fn()
  } catch (error) {
    thrown = error
  }
  expect(thrown).toBeInstanceOf(UserError)
  expect((thrown as UserError).problems.map(problem => problem.input)).toEqual(inputs)
}

describe('inputs of the later phases (pre-deploy, verify, pauses, charts)', () => {
  const base = { service: 'web', 'image-tag': '1.2.3' }

  it('reads a pre-deploy command as argv from a list, or as sh -c text', () => {
    expect(parseInputs(env({ ...base, 'pre-deploy-command': '["./migrate", "up"]' })).preDeploy).toEqual({ command: ['./migrate', 'up'], timeoutMs: 600_000 })
    expect(parseInputs(env({ ...base, 'pre-deploy-command': '- rake\n- db:migrate', 'pre-deploy-timeout': '5m', 'pre-deploy-container': 'app' })).preDeploy).toEqual({
      command: ['rake', 'db:migrate'],
      container: 'app',
      timeoutMs: 300_000
    })
    expect(parseInputs(env({ ...base, 'pre-deploy-command': 'rake db:migrate && echo done' })).preDeploy?.command).toEqual(['sh', '-c', 'rake db:migrate && echo done'])
  })

  it('refuses a list that is not strings, and pre-deploy settings without a command', () => {
    expectProblems(() => parseInputs(env({ ...base, 'pre-deploy-command': '[1, 2]' })), ['pre-deploy-command'])
    expectProblems(() => parseInputs(env({ ...base, 'pre-deploy-timeout': '5m' })), ['pre-deploy-timeout'])
  })

  it('reads verify statuses as ranges and refuses nonsense', () => {
    expect(parseInputs(env({ ...base, 'verify-url': 'https://x.test/health' })).verify).toEqual({ url: 'https://x.test/health', statuses: [[200, 299]], timeoutMs: 120_000 })
    expect(parseInputs(env({ ...base, 'verify-url': 'http://x', 'verify-status': '2xx, 301-308,404' })).verify?.statuses).toEqual([[200, 299], [301, 308], [404, 404]])
    expectProblems(() => parseInputs(env({ ...base, 'verify-url': 'http://x', 'verify-status': '600' })), ['verify-status'])
    expectProblems(() => parseInputs(env({ ...base, 'verify-url': 'ftp://x' })), ['verify-url'])
    expectProblems(() => parseInputs(env({ ...base, 'verify-text': 'ok' })), ['verify-text'])
  })

  it('takes on-pause verify only with something to verify, and mode continue without an image', () => {
    expectProblems(() => parseInputs(env({ ...base, 'on-pause': 'verify' })), ['on-pause'])
    expect(parseInputs(env({ service: 'web', mode: 'continue' })).mode).toBe('continue')
    expectProblems(() => parseInputs(env({ ...base, 'service-deployment-arn': 'arn:aws:ecs:us-east-1:123456789012:service-deployment/c/web/abc' })), ['service-deployment-arn'])
  })

  it('reads helm values files and --set lines', () => {
    const request = parseInputs(env({ ...base, 'helm-values': 'values.yaml\nvalues-prod.yaml', 'helm-set': 'replicaCount=3\nimage.pullPolicy=Always', prune: 'true' }))
    expect(request.kubernetes).toMatchObject({ helmValues: ['values.yaml', 'values-prod.yaml'], helmSet: { replicaCount: '3', 'image.pullPolicy': 'Always' }, prune: true, waitForLoadBalancers: true })
    expectProblems(() => parseInputs(env({ ...base, 'helm-set': 'no-equals' })), ['helm-set'])
  })

  it('refuses a helm-set key helm could not read, and two keys that set one place two ways, naming them', () => {
    const problems = (text: string) => {
      try {
        parseInputs(env({ ...base, 'helm-set': text }), () => undefined)
      } catch (error) {
        return (error as UserError).problems.map(problem => `${problem.input}: ${problem.message}`)
      }
      return []
    }
    expect(problems('a..b=1')).toEqual(["helm-set: 'a..b' has an empty part: write keys as a.b.c (\\. for a dot inside a key)"])
    expect(problems('[0]=x')).toEqual(["helm-set: '[0]' has a list index [n] without a name before it: write list[0]"])
    expect(problems('a[x]=1\nb[1]c=2\nd[99999]=3')).toEqual([
      "helm-set: 'a[x]' has a list index that is not [n] with a number n",
      "helm-set: 'b[1]c' has 'c' right after [1]: write list[0].key or list[0][1]",
      "helm-set: 'd[99999]' has a list index over 65536"
    ])
    expect(problems('a.=1\nb\\=2')).toEqual([
      "helm-set: 'a.' has an empty part: write keys as a.b.c (\\. for a dot inside a key)",
      "helm-set: 'b\\' ends with \\: write \\. for a dot inside a key"
    ])
    expect(problems('image=web\nimage.tag=2.0')).toEqual(["helm-set: 'image.tag' and 'image' set the same value, one as a value and one as a map or list: keep one"])
    expect(problems('hosts[0]=a\nhosts.main=b')).toEqual(["helm-set: 'hosts.main' and 'hosts[0]' set the same value, one as a value and one as a map or list: keep one"])
  })

  it('turns helm-set into values as --set keys name them, every value the string it was written as', () => {
    const values = helmSetValues({
      'image.tag': '2.0',
      'image.pullPolicy': 'Always',
      'podLabels.app\\.kubernetes\\.io/name': 'web',
      'hosts[2]': 'c.example.com',
      'hosts[0]': 'a.example.com',
      'ports[0].port': '8080',
      'matrix[0][1]': 'x',
      branch: 'a,securityContext.privileged=true',
      flag: 'true',
      nothing: 'null',
      list: '{x,y}'
    })
    expect(JSON.parse(JSON.stringify(values))).toEqual({
      image: { tag: '2.0', pullPolicy: 'Always' },
      podLabels: { 'app.kubernetes.io/name': 'web' },
      hosts: ['a.example.com', null, 'c.example.com'],
      ports: [{ port: '8080' }],
      matrix: [[null, 'x']],
      branch: 'a,securityContext.privileged=true',
      flag: 'true',
      nothing: 'null',
      list: '{x,y}'
    })
  })

  it("keeps a helm-set key named __proto__ a key, never Object's prototype", () => {
    const values = helmSetValues({ '__proto__.polluted': 'yes', 'constructor.prototype.polluted': 'yes' })
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    expect(JSON.parse(JSON.stringify(values))).toEqual(JSON.parse('{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}}}'))
  })

  it('registers each helm-set value of 3 characters or more as a secret, so the runner masks it in every log line', () => {
    const registered: string[] = []
    parseInputs(env({ ...base, 'helm-set': 'db.password=hunter22\nreplicaCount=3\nimage.tag=abc' }), secret => registered.push(secret))
    expect(registered).toEqual(['hunter22', 'abc'])
  })
})
