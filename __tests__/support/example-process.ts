/**
 * An example app of examples/ running in a child process (`node --import tsx`, directly or
 * through `npm run`), listening on loopback: it can be killed and
 * started again on the same port, as a deploy would, or sent signals as a process manager would.
 */
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { trackChild } from './redis-process.js'

const ROOT = path.join(__dirname, '..', '..')
const START_TIMEOUT_MS = 20_000

/** A running example process. */
export interface ExampleProcess {
  /** The spawned process: the app itself, or with `via: 'npm'` npm. */
  readonly pid: number
  readonly port: number
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  /** SIGKILLs the process (no graceful shutdown) and waits until it has exited. */
  kill(): Promise<void>
}

/** How {@link launchExample} starts an example. */
export interface LaunchOptions {
  /** Added to this process's environment. */
  env?: Record<string, string>
  /** @default 0 (any free port) */
  port?: number
  /**
   * `'node'`: `node --import tsx examples/<file>`, the app is the spawned process; `'npm'`:
   * `npm run example[:<name>]`, as the README starts it (npm, then the app its script execs).
   * @default 'node'
   */
  via?: 'node' | 'npm'
  /** Its own process group (`process.kill(-pid, signal)` then reaches every process, as Ctrl-C does). @default false */
  detached?: boolean
  /** `express-stash` is lib/ (examples/tsconfig.json's `paths`), not the built dist/. @default false */
  sources?: boolean
}

/** An example started by {@link launchExample}. */
export interface LaunchedExample extends ExampleProcess {
  /** Resolves with how the spawned process ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** What it printed so far (stdout and stderr, the last 8000 characters). */
  output(): string
}

/**
 * Starts `examples/<file>` with `env` added to this process's environment, on `port` (0: any
 * free one), and resolves once it prints its "listening on" line.
 */
export async function startExample(file: string, env: Record<string, string> = {}, port = 0): Promise<ExampleProcess> {
  return launchExample(file, { env, port })
}

/** Starts `examples/<file>` as `options` say, and resolves once it prints its "listening on" line. */
export async function launchExample(file: string, options: LaunchOptions = {}): Promise<LaunchedExample> {
  const env = options.env ?? {}
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env, HOST: '127.0.0.1', PORT: String(options.port ?? 0) }
  if (env.REDIS_URL === undefined) delete childEnv.REDIS_URL
  if (options.sources) childEnv.TSX_TSCONFIG_PATH = path.join(ROOT, 'examples', 'tsconfig.json')
  const script = path.join('examples', file)
  const npmScript = file === 'app.ts' ? 'example' : `example:${path.basename(file, '.ts')}`
  const [command, args] =
    options.via === 'npm' ? ['npm', ['run', '--silent', npmScript]] : [process.execPath, ['--import', 'tsx', script]]
  const child = spawn(command, args, {
    cwd: ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  })
  const tracked = trackChild(child)
  const exited = tracked.then(() => ({ code: child.exitCode, signal: child.signalCode }))
  let output = ''
  const collect = (chunk: Buffer): void => void (output = (output + chunk.toString()).slice(-8000))
  child.stderr.on('data', collect)
  const bound = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${file} did not start within ${START_TIMEOUT_MS} ms:\n${output}`)),
      START_TIMEOUT_MS,
    )
    child.stdout.on('data', (chunk: Buffer) => {
      collect(chunk)
      const match = /listening on http:\/\/(?:127\.0\.0\.1|localhost):(\d+)/.exec(output)
      if (match) {
        clearTimeout(timer)
        resolve(Number(match[1]))
      }
    })
    void tracked.then(() => {
      clearTimeout(timer)
      reject(new Error(`${file} exited (code ${child.exitCode}, signal ${child.signalCode}) before listening:\n${output}`))
    })
  })
  return {
    pid: child.pid!,
    port: bound,
    url: `http://127.0.0.1:${bound}`,
    exited,
    output: () => output,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await tracked
    },
  }
}

/** The child processes of `pid` (from /proc, Linux). */
export function childPids(pid: number): number[] {
  let tasks: string[]
  try {
    tasks = readdirSync(`/proc/${pid}/task`)
  } catch {
    return []
  }
  return tasks.flatMap((task) => {
    try {
      return readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ').filter(Boolean).map(Number)
    } catch {
      return []
    }
  })
}

/** The command line of `pid`, or `undefined` once it is gone. */
export function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim()
  } catch {
    return undefined
  }
}

/** Whether `pid` is running (a zombie, exited but not yet reaped, is not). */
export function isRunning(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}
