'use strict'
/**
 * A process for the close tests of a client `redisAdapter(url)` creates (redis-close.test.ts),
 * run on a CommonJS copy of lib/ (`STASH_LIB`) whose node_modules holds only the Redis client
 * under test, against `REDIS_URL`, with the adapter's `timeout` from `TIMEOUT` (`CONNECTED=1`:
 * waits for `stash.ready()` first). It serves a stash on a loopback port, makes two requests
 * through it, prints `{"event":"ready",...}` and waits; on SIGUSR2 it makes one more request,
 * starts one adapter call, closes the server and `await stash.close()` at once, prints
 * `{"event":"closed",...}` and does nothing more: the test then expects the process to exit by
 * itself, with code 0.
 */
const http = require('node:http')
const path = require('node:path')

const lib = process.env.STASH_LIB
const RECORD = 'close-test-record'
const { createStash, redisAdapter } = require(lib)
const say = (event, data = {}) => process.stdout.write(JSON.stringify({ event, ...data }) + '\n')
process.on('unhandledRejection', (err) => {
  say('unhandledRejection', { message: String(err?.message ?? err) })
  process.exitCode = 3
})

/** Which client packages the copy of lib/ can load, with their versions. */
function clients() {
  const found = {}
  for (const name of ['redis', 'ioredis']) {
    try {
      found[name] = require(require.resolve(`${name}/package.json`, { paths: [path.dirname(lib)] })).version
    } catch {
      found[name] = null
    }
  }
  return found
}

const adapter = redisAdapter(process.env.REDIS_URL, { timeout: Number(process.env.TIMEOUT) })
const stash = createStash({ secret: 'redis close test secret', adapter, storedKeys: ['n'] })
const server = http.createServer((req, res) =>
  stash(req, res, (err) => {
    if (err) {
      res.statusCode = err.status ?? 500
      return res.end(err.code ?? 'error')
    }
    req.stash.n = (req.stash.n ?? 0) + 1
    res.end(String(req.stash.n))
  }),
)

/** One request on a connection of its own (closed after it): resolves its status. */
function request(port) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, agent: false, headers: { connection: 'close' } }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode))
    })
    req.on('error', (err) => resolve(err.message))
  })
}

server.listen(0, '127.0.0.1', async () => {
  const { port } = server.address()
  if (process.env.CONNECTED === '1') await stash.ready({ timeout: 10_000 }) // a loaded machine connects slowly
  const statuses = [await request(port), await request(port)]
  // A record for the call in flight at close() to read in one round trip (when Redis answers).
  await adapter.write(RECORD, { set: { n: '1' }, del: [], expiresAt: { n: Date.now() + 60_000 } }).catch(() => {})
  let closing = false
  process.on('SIGUSR2', async () => {
    if (closing) return
    closing = true
    const status = await request(port)
    // An adapter call in flight when close() starts: a graceful close lets it finish.
    const inFlight = adapter.load(RECORD, ['n']).then(
      () => 'resolved',
      (err) => `rejected: ${err.message}`,
    )
    const started = Date.now()
    server.close()
    server.closeAllConnections()
    let closed
    try {
      await stash.close()
      closed = 'resolved'
    } catch (err) {
      closed = `rejected: ${err.message}`
    }
    say('closed', { closed, ms: Date.now() - started, status, inFlight: await inFlight })
  })
  say('ready', { statuses, clients: clients() }) // the SIGUSR2 handler is in place by now
})
