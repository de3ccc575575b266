/**
 * A child process running an Express app with the built package (dist/cjs), for the cookie fuzz
 * test: a crash is observable as the child's exit, and its memory is measured apart from Jest's.
 *
 * Routes: `GET /` reads `req.stash.count` only; `GET /count` increments and stores it; `GET /__heap`
 * runs the GC and answers `{ heapUsed, records, errors }` (the memory adapter's record count and the
 * number of `'error'` events the stash emitted).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'

const APP = (dist: string, express: string): string => `'use strict'
const { createStash, memoryAdapter } = require(${JSON.stringify(dist)})
const express = require(${JSON.stringify(express)})
const adapter = memoryAdapter({ name: 'fuzz' })
const stash = createStash({ secret: ['current', 'old'], storedKeys: ['count'], adapter })
let errors = 0
stash.on('error', (err) => { errors++; console.error('stash error event:', err) })
const app = express()
app.get('/__heap', (req, res) => {
  global.gc()
  global.gc()
  res.json({ heapUsed: process.memoryUsage().heapUsed, records: adapter.size, errors })
})
app.use(stash)
app.get('/', (req, res) => res.json({ count: req.stash.count ?? null }))
app.get('/count', (req, res) => {
  req.stash.count = (req.stash.count ?? 0) + 1
  res.json({ count: req.stash.count })
})
app.use((err, req, res, next) => {
  console.error('error response:', req.headers.cookie, err)
  res.status(err.status ?? 500).json({ code: err.code ?? null, message: String(err.message) })
})
const server = app.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ port: server.address().port }) + '\\n'))
server.keepAliveTimeout = 120000
`

export interface FuzzResponse {
  readonly status: number
  readonly body: string
  readonly setCookie: readonly string[]
}

export interface FuzzServer {
  readonly port: number
  /** Why the child exited, once it has; `undefined` while it runs. */
  exited(): string | undefined
  /** The end of the child's stderr. */
  stderr(): string
  /** `GET path` over the keep-alive agent, with this `Cookie` header (none when undefined). */
  get(pathname: string, cookie?: string): Promise<FuzzResponse>
  stop(): Promise<void>
}

/** Starts the app in a child process (`node --expose-gc`); rejects when dist/ is missing. */
export async function startFuzzServer(repo: string): Promise<FuzzServer> {
  const dist = path.join(repo, 'dist', 'cjs', 'index.js')
  if (!existsSync(dist)) throw new Error(`${dist} is missing: run \`npm run build\` before this test`)
  const dir = mkdtempSync(path.join(tmpdir(), 'stash-fuzz-'))
  const file = path.join(dir, 'app.cjs')
  writeFileSync(file, APP(dist, path.join(repo, 'node_modules', 'express')))
  const child: ChildProcess = spawn(process.execPath, ['--expose-gc', file], { stdio: ['ignore', 'pipe', 'pipe'] })
  let exit: string | undefined
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-20_000)))
  const exitedPromise = new Promise<void>((resolve) =>
    child.on('exit', (code, signal) => {
      exit = `child exited (code ${code}, signal ${signal})`
      resolve()
    }),
  )
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const line = out.split('\n')[0]
      if (out.includes('\n') && line !== undefined) resolve((JSON.parse(line) as { port: number }).port)
    })
    void exitedPromise.then(() => reject(new Error(`${exit} before listening:\n${stderr}`)))
  })
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 })
  const get = (pathname: string, cookie?: string) =>
    new Promise<FuzzResponse>((resolve, reject) => {
      const headers = cookie === undefined ? {} : { cookie }
      const req = http.request({ host: '127.0.0.1', port, path: pathname, agent, headers }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (body += chunk))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, setCookie: res.headers['set-cookie'] ?? [] }))
        res.on('error', reject)
      })
      req.on('error', reject)
      req.end()
    })
  return {
    port,
    exited: () => exit,
    stderr: () => stderr,
    get,
    async stop() {
      agent.destroy()
      if (exit === undefined) {
        child.kill('SIGKILL')
        await exitedPromise
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
