// A counting proxy in front of the test cluster's API server, for the benchmark's request counts: the
// action talks plain HTTP to it on loopback (a kubeconfig without credentials; the client takes plain
// HTTP only with insecure-skip-tls-verify), and it forwards each request over TLS with the admin client
// certificate and counts it, so the action needs no counting hook of its own. Watches stream through.
import http from 'node:http'
import https from 'node:https'
import { KubeConfig } from '@kubernetes/client-node'

/**
 * Counts: `watches` (requests with watch=true), `lists` (a GET of a collection) and `other` (every
 * request but watches, lists included), the same split the benchmark reports.
 */
export async function startCountingProxy(kubeconfigPath) {
  const config = new KubeConfig()
  config.loadFromFile(kubeconfigPath)
  const cluster = config.getCurrentCluster()
  const user = config.getCurrentUser()
  const target = new URL(cluster.server)
  const tls = {
    ca: Buffer.from(cluster.caData, 'base64'),
    cert: Buffer.from(user.certData, 'base64'),
    key: Buffer.from(user.keyData, 'base64')
  }
  const counts = { lists: 0, watches: 0, other: 0 }
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://proxy')
    const watch = ['true', '1'].includes(url.searchParams.get('watch') ?? '')
    if (watch) counts.watches++
    else {
      counts.other++
      if (req.method === 'GET' && isCollection(url.pathname)) counts.lists++
    }
    const upstream = https.request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: target.host }, ...tls },
      answer => {
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      }
    )
    upstream.on('error', error => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' })
      res.end(String(error))
    })
    res.on('close', () => upstream.destroy())
    req.pipe(upstream)
  })
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  const kubeconfig = `apiVersion: v1
kind: Config
clusters: [{name: proxy, cluster: {server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]
users: [{name: proxy, user: {}}]
contexts: [{name: proxy, context: {cluster: proxy, user: proxy}}]
current-context: proxy
`
  return {
    counts,
    kubeconfig,
    close: () => new Promise(resolve => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
  }
}

/** `/api/v1/namespaces/x/pods` or `/apis/apps/v1/deployments`: a resource without a name. */
function isCollection(pathname) {
  const parts = pathname.split('/').filter(Boolean)
  const rest = parts[0] === 'api' ? parts.slice(2) : parts[0] === 'apis' ? parts.slice(3) : []
  if (rest.length === 0) return false
  const inNamespace = rest[0] === 'namespaces' && rest.length >= 3 ? rest.slice(2) : rest
  return inNamespace.length === 1
}
