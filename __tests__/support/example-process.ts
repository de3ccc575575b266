/**
 * An example app of examples/ running in a child process (`node --import tsx`), listening on
 * loopback: it can be killed and started again on the same port, as a deploy would.
 */
import { spawn } from 'node:child_process'
import path from 'node:path'
import { trackChild } from './redis-process.js'

const ROOT = path.join(__dirname, '..', '..')
const START_TIMEOUT_MS = 20_000

/** A running example process. */
export interface ExampleProcess {
  readonly pid: number
  readonly port: number
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  /** SIGKILLs the process (no graceful shutdown) and waits until it has exited. */
  kill(): Promise<void>
}

/**
 * Starts `examples/<file>` with `env` added to this process's environment, on `port` (0: any
 * free one), and resolves once it prints its "listening on" line.
 */
export async function startExample(file: string, env: Record<string, string> = {}, port = 0): Promise<ExampleProcess> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env, HOST: '127.0.0.1', PORT: String(port) }
  if (env.REDIS_URL === undefined) delete childEnv.REDIS_URL
  const child = spawn(process.execPath, ['--import', 'tsx', path.join('examples', file)], {
    cwd: ROOT,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = trackChild(child)
  let output = ''
  const collect = (chunk: Buffer): void => void (output = (output + chunk.toString()).slice(-8000))
  child.stderr!.on('data', collect)
  const bound = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${file} did not start within ${START_TIMEOUT_MS} ms:\n${output}`)),
      START_TIMEOUT_MS,
    )
    child.stdout!.on('data', (chunk: Buffer) => {
      collect(chunk)
      const match = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output)
      if (match) {
        clearTimeout(timer)
        resolve(Number(match[1]))
      }
    })
    void exited.then(() => {
      clearTimeout(timer)
      reject(new Error(`${file} exited (code ${child.exitCode}, signal ${child.signalCode}) before listening:\n${output}`))
    })
  })
  return {
    pid: child.pid!,
    port: bound,
    url: `http://127.0.0.1:${bound}`,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
    },
  }
}
