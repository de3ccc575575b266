/**
 * One supervised `redis-server` child process bound to a fixed loopback port.
 * Tests use it through `startRedis()` (./redis-server.js) and
 * `startRedisCluster()` (./redis-cluster.js).
 * @module
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync } from 'node:fs'
import type { Socket } from 'node:net'
import { promisify } from 'node:util'
import { FORBIDDEN_PORT, HOST, rawCommand, requireExecutable, sleep, trackChild, trackTempDir } from './redis-process.js'

const execFileAsync = promisify(execFile)

/** How long to wait for a fresh server to answer PING. */
const READY_TIMEOUT_MS = 10_000
/** How long `stop()` waits after SIGTERM before escalating to SIGKILL. */
const STOP_TIMEOUT_MS = 5_000
/** How much of the server's stdout/stderr to keep for error messages. */
const OUTPUT_LIMIT = 8_192

/** A running (or stopped) local `redis-server` owned by the test run. */
export interface RedisServer {
  /** Loopback port the server listens on; stays the same across `restart()`. */
  readonly port: number
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string
  /** PID of the current process, or undefined while it is not running. */
  readonly pid: number | undefined
  /** Stops gracefully (SIGTERM, SIGKILL after 5 s), waits for exit and removes the data dir. Idempotent. */
  stop(): Promise<void>
  /** SIGKILLs the server and waits for it to exit (the data dir is kept for `restart()`). */
  kill(): Promise<void>
  /** Starts the server again on the same port (SIGKILLing it first if still running) and waits for PING. */
  restart(): Promise<void>
  /**
   * Freezes the server with SIGSTOP: connections stay open but nothing is answered.
   * Resolves once the process is stopped; with `ms`, it is resumed automatically after `ms`.
   */
  pause(ms?: number): Promise<void>
  /** Unfreezes a paused server (SIGCONT). No-op if not paused. */
  resume(): Promise<void>
  /** Runs `redis-cli -h 127.0.0.1 -p <port> ...args` and returns its trimmed stdout. */
  cli(...args: string[]): Promise<string>
}

/** Thrown when the chosen port turned out to be taken, so the caller may retry elsewhere. */
export class PortInUseError extends Error {}

/** Builds the extra `redis-server` arguments for a given port and data dir. */
export type ArgsBuilder = (port: number, dir: string) => string[]

/** Reads the one-letter process state from /proc (Linux only); undefined if unavailable. */
function procState(pid: number): string | undefined {
  try {
    return /\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1]
  } catch {
    return undefined
  }
}

/** {@link RedisServer} implementation; construct, then `await launch()`. */
export class RedisInstance implements RedisServer {
  readonly url: string
  #child: ChildProcess | undefined
  #exited: Promise<void> = Promise.resolve()
  #output = ''
  #paused = false
  #resumeTimer: NodeJS.Timeout | undefined

  /**
   * @param port - Port to bind (never 6379).
   * @param dir - Fresh temp dir used as `--dir`; deleted by `stop()`.
   * @param extraArgs - Additional arguments appended after the defaults.
   */
  constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly extraArgs: ArgsBuilder = () => [],
  ) {
    if (port === FORBIDDEN_PORT) throw new Error(`refusing to start redis-server on port ${FORBIDDEN_PORT}`)
    this.url = `redis://${HOST}:${port}`
    trackTempDir(dir, true)
  }

  get pid(): number | undefined {
    return this.#child?.exitCode === null && this.#child.signalCode === null ? this.#child.pid : undefined
  }

  /** Captured stdout/stderr of the current process (last 8 KiB). */
  get output(): string {
    return this.#output
  }

  /** Spawns the process and waits until it answers PING (and really is our process). */
  async launch(): Promise<void> {
    const bin = requireExecutable('redis-server')
    mkdirSync(this.dir, { recursive: true })
    trackTempDir(this.dir, true)
    const args = ['--save', '', '--appendonly', 'no', '--bind', HOST, '--port', String(this.port), '--dir', this.dir]
    const child = spawn(bin, [...args, ...this.extraArgs(this.port, this.dir)], { stdio: ['ignore', 'pipe', 'pipe'] })
    this.#child = child
    this.#output = ''
    this.#exited = trackChild(child)
    let spawnError: Error | undefined
    child.on('error', (err) => (spawnError = err))
    const collect = (chunk: Buffer): void => {
      this.#output = (this.#output + chunk.toString()).slice(-OUTPUT_LIMIT)
    }
    child.stdout?.on('data', collect)
    child.stderr?.on('data', collect)
    // Don't let a forgotten server keep the test runner alive: once the runner
    // exits, the exit hook in redis-process.ts SIGKILLs it. kill()/stop() re-ref.
    child.unref()
    for (const stream of [child.stdout, child.stderr]) (stream as Socket | null)?.unref()

    const deadline = Date.now() + READY_TIMEOUT_MS
    while (Date.now() < deadline) {
      if (spawnError || this.pid === undefined) break
      if ((await rawCommand(this.port, ['PING'], 500)) === '+PONG') {
        const info = (await rawCommand(this.port, ['INFO', 'server'], 1000)) ?? ''
        if (info.includes(`process_id:${child.pid}\r\n`)) return
        await this.kill()
        throw new PortInUseError(`port ${this.port} is answered by another redis-server`)
      }
      await sleep(50)
    }
    await sleep(50) // let the last output arrive
    await this.kill()
    const why = spawnError ? `failed to spawn (${spawnError.message})` : 'did not answer PING within 10 s'
    const message = `redis-server on port ${this.port} ${why}; exit code ${child.exitCode}, signal ${child.signalCode}.\nOutput:\n${this.#output}`
    throw /Address already in use/.test(this.#output) ? new PortInUseError(message) : new Error(message)
  }

  async stop(): Promise<void> {
    const child = this.#child
    if (child && this.pid !== undefined) {
      await this.resume() // a stopped process would not act on SIGTERM
      child.ref() // keep the event loop alive until it has exited
      child.kill('SIGTERM')
      let timer: NodeJS.Timeout | undefined
      const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, STOP_TIMEOUT_MS, true)))
      const escalate = await Promise.race([this.#exited.then(() => false), timedOut])
      clearTimeout(timer) // a pending 5 s timer would keep jest from exiting
      if (escalate) await this.kill()
    }
    rmSync(this.dir, { recursive: true, force: true })
    trackTempDir(this.dir, false)
  }

  async kill(): Promise<void> {
    this.#clearPause()
    if (this.pid !== undefined) {
      this.#child?.ref() // keep the event loop alive until it has exited
      this.#child?.kill('SIGKILL')
    }
    await this.#exited
  }

  async restart(): Promise<void> {
    await this.kill()
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.launch()
      } catch (err) {
        if (!(err instanceof PortInUseError) || attempt >= 5) throw err
        await sleep(200 * attempt) // port briefly held by someone else: wait for it
      }
    }
  }

  async pause(ms?: number): Promise<void> {
    const pid = this.pid
    if (pid === undefined) throw new Error(`redis-server on port ${this.port} is not running`)
    this.#clearPause()
    this.#child?.kill('SIGSTOP')
    this.#paused = true
    for (let i = 0; i < 100 && procState(pid) !== undefined && procState(pid) !== 'T'; i++) await sleep(10)
    if (ms !== undefined) this.#resumeTimer = setTimeout(() => void this.resume(), ms)
  }

  async resume(): Promise<void> {
    const wasPaused = this.#paused
    this.#clearPause()
    if (wasPaused && this.pid !== undefined) this.#child?.kill('SIGCONT')
  }

  async cli(...args: string[]): Promise<string> {
    const bin = requireExecutable('redis-cli')
    const { stdout } = await execFileAsync(bin, ['-h', HOST, '-p', String(this.port), ...args], { timeout: 10_000 })
    return stdout.trim()
  }

  #clearPause(): void {
    clearTimeout(this.#resumeTimer)
    this.#resumeTimer = undefined
    this.#paused = false
  }
}
