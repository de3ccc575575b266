/**
 * Low-level helpers for the Redis test support modules: locating binaries,
 * finding free loopback ports, tracking child processes so none outlive the
 * test run, and speaking just enough RESP over a raw socket to health-check a
 * server without a client library. Tests should import `./redis-server.js`.
 * @module
 */
import { type ChildProcess } from 'node:child_process'
import { accessSync, constants as fsConstants, rmSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import { delimiter, join } from 'node:path'
import { runInThisContext } from 'node:vm'

/** Loopback address every test server binds to. */
export const HOST = '127.0.0.1'

/** The machine's own Redis port: never started on, connected to or probed. */
export const FORBIDDEN_PORT = 6379

/**
 * Resolves an executable on `PATH` or throws the standard "not found" error.
 * @param name - `redis-server` or `redis-cli`.
 * @returns The absolute path of the executable.
 * @throws Error naming the package to install (tests never silently skip).
 */
export function requireExecutable(name: 'redis-server' | 'redis-cli'): string {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue
    const candidate = join(dir, name)
    try {
      accessSync(candidate, fsConstants.X_OK)
      return candidate
    } catch {
      // not in this directory
    }
  }
  throw new Error(`${name} not found: install it (apt-get install -y redis-server) or set REDIS_URL`)
}

/** Binds `port` (0 = any) on loopback, closes it again and returns the port that was bound. */
function probePort(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(port, HOST, () => {
      const address = server.address()
      const bound = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => resolve(bound))
    })
  })
}

/**
 * Finds a loopback port that is free right now (the caller must still cope
 * with losing a race for it).
 * @param options.busPort - Also require `port + 10000` (the cluster bus port) to be free.
 * @param options.avoid - Ports (and their bus ports) already taken by sibling servers.
 * @returns A free port, never {@link FORBIDDEN_PORT}.
 */
export async function findFreePort(options: { busPort?: boolean; avoid?: ReadonlySet<number> } = {}): Promise<number> {
  const avoid = options.avoid ?? new Set<number>()
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await probePort(0)
    const related = [port, port + 10000, port - 10000]
    if (port === FORBIDDEN_PORT || related.some((p) => avoid.has(p))) continue
    if (!options.busPort) return port
    if (port + 10000 > 65535) continue
    try {
      await probePort(port + 10000)
      return port
    } catch {
      // bus port busy: try another
    }
  }
  throw new Error('could not find a free loopback port after 50 attempts')
}

// --- process tracking -------------------------------------------------------

/**
 * The real `process`. Inside jest, the global `process` (and `node:process`) is
 * a per-test-file copy whose 'exit' event never fires, so hooks must go here.
 */
const realProcess = runInThisContext('process') as NodeJS.Process
const liveChildren = new Set<ChildProcess>()
const tempDirs = new Set<string>()
let exitHookInstalled = false

/** Best-effort, synchronous cleanup run when the (real) process exits. */
function killEverything(): void {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL')
    } catch {
      // already gone
    }
  }
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
}

/** Installs the exit hook only while something needs cleaning, so repeated module loads don't pile up listeners. */
function syncExitHook(): void {
  const needed = liveChildren.size > 0 || tempDirs.size > 0
  if (needed && !exitHookInstalled) realProcess.on('exit', killEverything)
  if (!needed && exitHookInstalled) realProcess.removeListener('exit', killEverything)
  exitHookInstalled = needed
}

/**
 * Registers a spawned child so it is SIGKILLed if the process exits first.
 * @returns A promise that settles when the child exits (or fails to spawn).
 */
export function trackChild(child: ChildProcess): Promise<void> {
  liveChildren.add(child)
  syncExitHook()
  return new Promise<void>((resolve) => {
    const done = (): void => {
      liveChildren.delete(child)
      syncExitHook()
      resolve()
    }
    child.once('exit', done)
    child.once('error', () => {
      if (child.pid === undefined) done() // spawn failure: 'exit' may never come
    })
  })
}

/** Registers (`true`) or releases (`false`) a temp dir that the exit hook should delete. */
export function trackTempDir(dir: string, tracked: boolean): void {
  if (tracked) tempDirs.add(dir)
  else tempDirs.delete(dir)
  syncExitHook()
}

// --- raw RESP -------------------------------------------------------------------

/** Returns the payload of one complete RESP simple/error/integer/bulk reply in `buf`, or undefined if incomplete. */
function parseReply(buf: string): string | undefined {
  const eol = buf.indexOf('\r\n')
  if (eol < 0) return undefined
  if (buf[0] !== '$') return buf.slice(0, eol)
  const length = Number(buf.slice(1, eol))
  if (length < 0) return ''
  const body = buf.slice(eol + 2)
  return Buffer.byteLength(body) >= length + 2 ? Buffer.from(body).subarray(0, length).toString() : undefined
}

/**
 * Sends one command over a fresh TCP connection and returns the raw reply:
 * `+PONG` / `-ERR ...` / `:1` for simple replies, the bare text for bulk replies.
 * @returns The reply, or undefined on connection error or timeout.
 */
export function rawCommand(port: number, args: readonly string[], timeoutMs = 1000): Promise<string | undefined> {
  if (port === FORBIDDEN_PORT) throw new Error(`refusing to talk to port ${FORBIDDEN_PORT}`)
  return new Promise((resolve) => {
    let buf = ''
    let settled = false
    const socket = createConnection({ host: HOST, port })
    const finish = (reply: string | undefined): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      resolve(reply)
    }
    const timer = setTimeout(() => finish(undefined), timeoutMs)
    socket.setEncoding('utf8')
    socket.on('connect', () => {
      socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`)
    })
    socket.on('data', (chunk: string) => {
      buf += chunk
      const reply = parseReply(buf)
      if (reply !== undefined) finish(reply)
    })
    socket.on('error', () => finish(undefined))
    socket.on('close', () => finish(undefined))
  })
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
