/**
 * Real processes for the cross-node recovery tests: spawns the fixtures (peer-app.cjs,
 * cluster-app.cjs, on the built package), waits for them within a bound, and talks to them over
 * fresh connections (so a cluster's round-robin sees every request).
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'

const REPO = path.resolve(__dirname, '..', '..')
const READY_WITHIN_MS = 20_000

/** A spawned fixture process. */
export interface NodeProcess {
  readonly port: number
  /** Whether it has exited. */
  exited(): boolean
  /** SIGKILL, then wait for the exit. */
  kill(): Promise<void>
  /** Sends `signal` and resolves the exit code once the process has exited by itself (null: killed by a signal). */
  signal(signal: NodeJS.Signals): Promise<number | null>
  stderr(): string
}

/** A port nothing listens on right now (bound, read, released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

/** Starts `fixture` (a file in this folder) with `env` and waits for its `{"ready":port}` line. */
export async function startFixture(fixture: string, port: number, env: Record<string, string>): Promise<NodeProcess> {
  if (!existsSync(path.join(REPO, 'dist', 'cjs', 'index.js'))) throw new Error('dist/ is missing: run `npm run build` first')
  const child = spawn(process.execPath, [path.join(__dirname, fixture)], {
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  let exited = false
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-20_000)))
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => ((exited = true), resolve(code))))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${fixture} not ready within ${READY_WITHIN_MS} ms:\n${stderr}`)),
      READY_WITHIN_MS,
    )
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      if (!out.includes('"ready"')) return
      clearTimeout(timer)
      resolve()
    })
    void exit.then(() => (clearTimeout(timer), reject(new Error(`${fixture} exited before it was ready:\n${stderr}`))))
  })
  return {
    port,
    exited: () => exited,
    stderr: () => stderr,
    async kill() {
      if (!exited) child.kill('SIGKILL')
      await exit
    },
    signal(signal) {
      child.kill(signal)
      return exit
    },
  }
}

/** A response of {@link get}. */
export interface Answer {
  readonly status: number
  readonly body: Record<string, unknown>
  readonly headers: http.IncomingHttpHeaders
  /** The `name=value` pair of a stash cookie it set, if any. */
  readonly cookie: string | undefined
  readonly ms: number
}

/** `GET path` on a new connection, with this stash cookie pair (none when undefined). */
export function get(port: number, pathname: string, cookie?: string): Promise<Answer> {
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const headers = cookie === undefined ? {} : { cookie }
    const req = http.get({ host: '127.0.0.1', port, path: pathname, agent: false, headers, timeout: 15_000 }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (text += chunk))
      res.on('end', () => {
        const line = (res.headers['set-cookie'] ?? []).find((l) => l.startsWith('stash='))
        try {
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(text) as Record<string, unknown>,
            headers: res.headers,
            cookie: line?.split(';')[0],
            ms: performance.now() - started,
          })
        } catch {
          reject(new Error(`not JSON (status ${res.statusCode}): ${text}`))
        }
      })
    })
    req.on('timeout', () => req.destroy(new Error(`GET ${pathname} on port ${port} timed out`)))
    req.on('error', reject)
  })
}

/** A browser's view of the stash cookie: sends the pair it holds, keeps the one it is given. */
export class CookieJar {
  cookie: string | undefined
  async get(port: number, pathname: string): Promise<Answer> {
    const answer = await get(port, pathname, this.cookie)
    if (answer.cookie !== undefined) this.cookie = answer.cookie
    return answer
  }
}

/** The signed value of a stash cookie pair, decoded: ID, hint and MAC. */
export function partsOf(pair: string): { id: string; hint: string | undefined; mac: string } {
  const value = decodeURIComponent(pair.slice(pair.indexOf('=') + 1))
  const dot = value.lastIndexOf('.')
  const [id, hint] = value.slice(2, dot).split('~') as [string, string | undefined]
  return { id, hint, mac: value.slice(dot + 1) }
}
