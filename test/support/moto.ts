import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'

/** A free TCP port on loopback, chosen by the kernel. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

export interface MotoServer {
  endpoint: string
  process: ChildProcess
  stop(): Promise<void>
}

/** Starts moto_server (moto 5, an independent implementation of the AWS APIs) on a free loopback port. */
export async function startMoto(env: Record<string, string> = {}): Promise<MotoServer> {
  const port = await freePort()
  const child = spawn(process.env.MOTO_SERVER ?? 'moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore', env: { ...process.env, ...env } })
  const endpoint = `http://127.0.0.1:${port}`
  const started = Date.now()
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with ${child.exitCode}: is moto installed (pip install 'moto[server]')?`)
    try {
      const response = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' })
      if (response.ok) break
    } catch {
      // not listening yet
    }
    if (Date.now() - started > 30_000) throw new Error('moto_server did not start within 30s')
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  return {
    endpoint,
    process: child,
    stop: () =>
      new Promise(resolve => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      })
  }
}
