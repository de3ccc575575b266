/**
 * Cross-node recovery of the memory adapter between adapters of this process, over real HTTP
 * on loopback: the move (the peer keeps nothing), tombstones against stale writes, the race of
 * two nodes recovering one record, the endpoint's authentication, a silent peer, and options.
 */
import '../../support/stash-data.js'
import { randomBytes } from 'node:crypto'
import express from 'express'
import request from 'supertest'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createStash, memoryAdapter, type MemoryAdapter, type MemoryAdapterOptions } from '../../../lib/index.js'
import { derivePeerKeys, nodeHint } from '../../../lib/peers/node-hint.js'
import { sealRequest } from '../../../lib/peers/peer-protocol.js'
import { DEFAULT_SEARCH_LIMITS } from '../../../lib/peers/search-gate.js'
import { recordKeyOf } from '../../../lib/values/ids.js'
import { cookiePair } from '../../support/http.js'
import { expectStashError } from '../../../lib/testing/helpers.js'

const SECRETS = ['peer test secret']
const value = (v: string) => ({ set: { f: v }, del: [], expiresAt: { f: Date.now() + 60_000 } })
/** The values `load` gives, or undefined. */
const valuesOf = async (adapter: MemoryAdapter, k: string) => (await adapter.load(k, ['f']))?.values
/** The fields `readAll` gives, or undefined. */
const fieldsOf = async (adapter: MemoryAdapter, k: string) => (await adapter.readAll(k))?.fields
const key = () => 'peer-' + randomBytes(9).toString('base64url')
/** Generous: the machine may be loaded, and a search that times out reports a miss. */
const TIMEOUT = 5000

interface Node {
  readonly url: string
  adapter: MemoryAdapter
  /** Requests its server received. */
  requests: number
}
const servers: http.Server[] = []

/** An HTTP server on a free port whose handler is set later (peers need every URL up front). */
async function listen(handler: (node: Node) => http.RequestListener): Promise<Node> {
  const node = { requests: 0 } as { url: string; adapter: MemoryAdapter; requests: number }
  const server = http.createServer((req, res) => (node.requests++, handler(node)(req, res)))
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  node.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/peer`
  return node
}

/** `count` nodes that know each other (plus `extra` URLs), each attached to the secrets. */
async function nodes(count: number, extra: string[] = [], options: MemoryAdapterOptions = {}): Promise<Node[]> {
  const list = await Promise.all(Array.from({ length: count }, () => listen((node) => node.adapter.peerHandler!)))
  const urls = [...list.map((node) => node.url), ...extra]
  for (const node of list) {
    node.adapter = memoryAdapter({ peers: { self: node.url, urls }, peerTimeout: TIMEOUT, ...options })
    node.adapter.recovery!.attach(SECRETS)
  }
  return list
}

afterAll(async () => {
  for (const server of servers) server.closeAllConnections()
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))))
})

describe('memoryAdapter peers: moving a record', () => {
  test('a miss moves the record from the hinted peer: it is here, with its expiries and creation time, and gone there', async () => {
    const [a, b] = await nodes(2)
    const k = key()
    const written = Date.now()
    await a!.adapter.write(k, { set: { f: 'one', g: 'two' }, del: [], expiresAt: { f: written + 30_000, g: written + 10_000 } })
    await expect(b!.adapter.recovery!.recover(k, a!.adapter.recovery!.hint)).resolves.toBe(true)
    const moved = (await b!.adapter.readAll(k))!
    expect(moved.fields).toEqual({ f: 'one', g: 'two' })
    // Sent as time left and age, so later by the time in flight (the same for all of them).
    const inFlight = moved.expiresAt.f! - (written + 30_000)
    expect(inFlight).toBeGreaterThanOrEqual(0)
    expect(inFlight).toBeLessThan(1000)
    expect(moved.expiresAt.g).toBe(written + 10_000 + inFlight)
    expect(moved.createdAt! - inFlight - written).toBeGreaterThanOrEqual(0)
    expect(moved.createdAt! - inFlight - written).toBeLessThan(1000)
    await expect(valuesOf(a!.adapter, k)).resolves.toBeUndefined()
    expect(a!.adapter.size).toBe(0)
    // And back again: the tombstone on A gives way to the record.
    await expect(a!.adapter.recovery!.recover(k, b!.adapter.recovery!.hint)).resolves.toBe(true)
    await a!.adapter.write(k, value('three'))
    await expect(fieldsOf(a!.adapter, k)).resolves.toEqual({ f: 'three', g: 'two' })
    await expect(valuesOf(b!.adapter, k)).resolves.toBeUndefined()
  })

  test('a wrong, unknown or missing hint falls back to asking every other peer', async () => {
    const [a, b, c] = await nodes(3)
    for (const hint of [b!.adapter.recovery!.hint, c!.adapter.recovery!.hint, 'unknownHint12345', undefined]) {
      const k = key()
      await a!.adapter.write(k, value('x'))
      await expect(c!.adapter.recovery!.recover(k, hint)).resolves.toBe(true)
      await expect(valuesOf(c!.adapter, k)).resolves.toEqual(['x'])
    }
    await expect(c!.adapter.recovery!.recover(key(), b!.adapter.recovery!.hint)).resolves.toBe(false) // nobody has it
  })

  test('a request that loaded before the move cannot write a stale copy back on the old node', async () => {
    const [a, b] = await nodes(2)
    const k = key()
    await a!.adapter.write(k, value('v1'))
    await expect(valuesOf(a!.adapter, k)).resolves.toEqual(['v1']) // the in-flight request's load
    await expect(b!.adapter.recovery!.recover(k, a!.adapter.recovery!.hint)).resolves.toBe(true)
    await expectStashError(a!.adapter.write(k, value('stale')), 'ERR_STASH_MOVED')
    await expectStashError(
      a!.adapter.compareAndSet(k, { field: 'f', expected: 'v1', next: 'stale', expiresAt: { f: Date.now() + 60_000 } }),
      'ERR_STASH_MOVED',
    )
    await expectStashError(a!.adapter.write(k, { set: {}, del: [], expiresAt: {}, existing: true }), 'ERR_STASH_MOVED')
    await expect(fieldsOf(a!.adapter, k)).resolves.toBeUndefined()
    await expect(fieldsOf(b!.adapter, k)).resolves.toEqual({ f: 'v1' })
  })

  test('two nodes recovering one record at once: one copy survives, on one node, never duplicated', async () => {
    for (let round = 0; round < 20; round++) {
      const [a, b, c] = await nodes(3)
      const k = key()
      await a!.adapter.write(k, value(`r${round}`))
      const hint = a!.adapter.recovery!.hint
      const results = await Promise.all([b!.adapter.recovery!.recover(k, hint), c!.adapter.recovery!.recover(k, hint)])
      const holders = (await Promise.all([a, b, c].map((node) => fieldsOf(node!.adapter, k)))).filter(Boolean)
      expect(holders).toEqual([{ f: `r${round}` }])
      // The loser may have moved it on from the winner; either way a single copy exists.
      expect(results.filter(Boolean).length).toBeGreaterThanOrEqual(1)
    }
  })

  test('concurrent misses of one key on a node share one search', async () => {
    const [a, b] = await nodes(2)
    const k = key()
    await a!.adapter.write(k, value('once'))
    const results = await Promise.all(Array.from({ length: 10 }, () => b!.adapter.recovery!.recover(k, undefined)))
    expect(results).toEqual(Array(10).fill(true))
    await expect(fieldsOf(b!.adapter, k)).resolves.toEqual({ f: 'once' })
  })
})

describe('memoryAdapter peers: through createStash', () => {
  /** An app on `node`'s adapter; `GET /slow` calls `entered` (its stash loaded), then increments once `release` resolves. */
  function app(node: Node, release: Promise<void> = Promise.resolve(), entered = () => {}) {
    const stash = createStash({ secret: SECRETS, storedKeys: ['count'], adapter: node.adapter })
    const server = express()
    server.use(stash)
    server.get('/count', (req, res) => res.json({ count: (req.stash.count = (req.stash.count ?? 0) + 1) }))
    server.get('/slow', async (req, res) => {
      entered()
      await release
      res.json({ count: (req.stash.count = (req.stash.count ?? 0) + 1) })
    })
    server.use(
      (err: { status?: number; code?: string }, _req: express.Request, res: express.Response, _next: express.NextFunction) =>
        res.status(err.status ?? 500).json({ code: err.code }),
    )
    return server
  }

  test('a request that loaded on the old node before the move gets ERR_STASH_MOVED; the moved stash is intact', async () => {
    const nodes2 = await nodes(2)
    let release!: () => void
    let entered!: () => void
    const loaded = new Promise<void>((resolve) => (entered = resolve))
    const a = app(nodes2[0]!, new Promise<void>((resolve) => (release = resolve)), () => entered())
    const b = app(nodes2[1]!)
    const cookie = cookiePair(await request(a).get('/count').expect(200, { count: 1 }))
    const inFlight = request(a)
      .get('/slow')
      .set('Cookie', cookie)
      .then((res) => res)
    await loaded // the slow request holds count 1
    const moved = await request(b).get('/count').set('Cookie', cookie).expect(200, { count: 2 })
    release()
    const stale = await inFlight
    expect({ status: stale.status, body: stale.body }).toEqual({ status: 409, body: { code: 'ERR_STASH_MOVED' } })
    await request(b).get('/count').set('Cookie', cookiePair(moved)).expect(200, { count: 3 })
    await expect(nodes2[0]!.adapter.readAll(recordOf(cookie))).resolves.toBeUndefined()
  })
})

/** The record key of the stash ID in a `stash=...` cookie pair. */
function recordOf(pair: string): string {
  const value = decodeURIComponent(pair.slice(pair.indexOf('=') + 1))
  return recordKeyOf(value.slice(2, value.lastIndexOf('.')).split('~')[0]!, undefined)
}

describe('memoryAdapter peers: the endpoint', () => {
  const post = (url: string, body: string, method = 'POST') =>
    fetch(url, { method, body: method === 'GET' ? undefined : body }).then(async (res) => ({
      status: res.status,
      body: await res.text(),
    }))

  test('an unauthenticated caller gets the same 401 whether or not the record exists, and takes nothing', async () => {
    const [a] = await nodes(1)
    const k = key()
    await a!.adapter.write(k, value('secret'))
    const hint = a!.adapter.recovery!.hint!
    const attempts = [
      '',
      'garbage',
      sealRequest(derivePeerKeys(['wrong secret']), hint, k).text, // signed with another secret
      sealRequest(derivePeerKeys(SECRETS), nodeHint(derivePeerKeys(SECRETS), 'http://other/'), k).text, // for another node
    ]
    const missing = sealRequest(derivePeerKeys(['wrong secret']), hint, key()).text
    const answers = await Promise.all([...attempts, missing].map((body) => post(a!.url, body)))
    for (const answer of answers) expect(answer).toEqual({ status: 401, body: 'express-stash: unauthenticated peer request\n' })
    await expect(post(a!.url, '', 'GET')).resolves.toMatchObject({ status: 405 })
    await expect(post(a!.url, 'x'.repeat(10_000))).resolves.toMatchObject({ status: 413 })
    await expect(fieldsOf(a!.adapter, k)).resolves.toEqual({ f: 'secret' })
  })

  test('a genuine request captured and replayed gets nothing the second time', async () => {
    const [a] = await nodes(1)
    const k = key()
    const { text } = sealRequest(derivePeerKeys(SECRETS), a!.adapter.recovery!.hint!, k)
    await expect(post(a!.url, text)).resolves.toMatchObject({ status: 200 }) // "not here"
    await a!.adapter.write(k, value('again'))
    await expect(post(a!.url, text)).resolves.toMatchObject({ status: 401 })
    await expect(fieldsOf(a!.adapter, k)).resolves.toEqual({ f: 'again' })
  })

  test('a request captured from a peer whose clock is 25 s ahead, replayed 31 s later, takes nothing', async () => {
    const [a] = await nodes(1)
    const k = key()
    const realNow = Date.now
    const start = realNow()
    try {
      Date.now = () => start + 25_000 // the genuine sender's clock
      const { text } = sealRequest(derivePeerKeys(SECRETS), a!.adapter.recovery!.hint!, k)
      Date.now = () => start
      await expect(post(a!.url, text)).resolves.toMatchObject({ status: 200 }) // genuine: "not here"
      await a!.adapter.write(k, value('user state')) // the user's stash is on A now
      Date.now = () => start + 31_000 // past A's own window from the first use, within the request's
      await expect(post(a!.url, text)).resolves.toEqual({ status: 401, body: 'express-stash: unauthenticated peer request\n' })
    } finally {
      Date.now = realNow
    }
    await expect(fieldsOf(a!.adapter, k)).resolves.toEqual({ f: 'user state' })
  })

  test('before a stash attaches its secret, the endpoint answers 503 and moves nothing', async () => {
    const node = await listen((n) => n.adapter.peerHandler!)
    node.adapter = memoryAdapter({ peers: { self: node.url, urls: [] } })
    expect(node.adapter.recovery!.hint).toBeUndefined()
    await expect(post(node.url, 'x')).resolves.toMatchObject({ status: 503 })
  })
})

describe('memoryAdapter peers: misses that must not fan out', () => {
  const asked = (list: Node[]) => list.reduce((sum, node) => sum + node.requests, 0)

  test('a stale cookie replayed 50 times (its Set-Cookie ignored) asks the peers once, not on every request', async () => {
    const list = await nodes(3)
    const [a, b, c] = list.map((node) => node.adapter)
    const stash = createStash({ secret: SECRETS, storedKeys: ['count'], adapter: c! })
    const app = express().use(stash)
    app.get('/count', (req, res) => res.json({ count: (req.stash.count = (req.stash.count ?? 0) + 1) }))
    const onA = express()
      .use(createStash({ secret: SECRETS, storedKeys: ['count'], adapter: a! }))
      .get('/count', (req, res) => res.json({ count: (req.stash.count = 1) }))
    const cookie = cookiePair(await request(onA).get('/count').expect(200))
    await a!.delete(recordOf(cookie)) // the stash is gone (expired, revoked): the cookie is stale
    const before = asked(list)
    for (let i = 0; i < 50; i++) {
      const res = await request(app).get('/count').set('Cookie', cookie).expect(200, { count: 1 })
      expect(res.headers['set-cookie']).toBeDefined() // cleared or replaced: the client ignores it
    }
    expect(asked(list) - before).toBe(2) // one search: A (hinted) and B, once each
    await expect(b!.readAll(recordOf(cookie))).resolves.toBeUndefined()
  })

  test('a record searched in vain is still found once it is stored here, or when a re-hinted cookie names its node', async () => {
    const list = await nodes(3)
    const [a, b, c] = list.map((node) => node.adapter)
    const k = key()
    await expect(c!.recovery!.recover(k, a!.recovery!.hint)).resolves.toBe(false)
    const before = asked(list)
    await expect(c!.recovery!.recover(k, a!.recovery!.hint)).resolves.toBe(false) // remembered: no peer asked
    expect(asked(list)).toBe(before)
    await b!.write(k, value('later')) // the record turns up on B; a cookie of B's names it
    await expect(c!.recovery!.recover(k, b!.recovery!.hint)).resolves.toBe(true)
    await expect(fieldsOf(c!, k)).resolves.toEqual({ f: 'later' })
    await expect(c!.recovery!.recover(k, a!.recovery!.hint)).resolves.toBe(true) // here now: the table comes first
  })

  test('a reply that arrives after the search gave up is stored, and found despite the search having missed', async () => {
    // A's endpoint is reached only through a proxy that holds each request past C's timeout.
    const timeout = 300
    const real = await listen((node) => node.adapter.peerHandler!)
    const proxy = await listen(() => (req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (chunk: Buffer) => chunks.push(chunk))
      const relay = async (): Promise<void> => {
        const answer = await fetch(real.url, { method: 'POST', body: Buffer.concat(chunks) })
        res.writeHead(answer.status).end(Buffer.from(await answer.arrayBuffer()))
      }
      req.on('end', () => setTimeout(() => void relay(), timeout + 200))
    })
    const c = await listen((node) => node.adapter.peerHandler!)
    const urls = [proxy.url, c.url]
    real.adapter = memoryAdapter({ peers: { self: proxy.url, urls }, peerTimeout: timeout })
    c.adapter = memoryAdapter({ peers: { self: c.url, urls }, peerTimeout: timeout })
    for (const node of [real, c]) node.adapter.recovery!.attach(SECRETS)
    const k = key()
    await real.adapter.write(k, value('in flight'))
    await expect(c.adapter.recovery!.recover(k, real.adapter.recovery!.hint)).resolves.toBe(false) // gave up
    await new Promise((resolve) => setTimeout(resolve, 600))
    await expect(valuesOf(c.adapter, k)).resolves.toEqual(['in flight'])
    await expect(c.adapter.recovery!.recover(k, real.adapter.recovery!.hint)).resolves.toBe(true)
    await expect(fieldsOf(real.adapter, k)).resolves.toBeUndefined()
  })

  test('a node starts at most 200 searches at once and 100 a second; beyond that a miss asks no peer', async () => {
    const list = await nodes(3)
    const [a, b, c] = list.map((node) => node.adapter)
    const started = performance.now()
    const misses = Array.from({ length: 500 }, () => c!.recovery!.recover(key(), undefined)) // 500 stale cookies at once
    const elapsed = performance.now() - started
    expect(await Promise.all(misses)).toEqual(Array(500).fill(false))
    const searches = asked(list) / 2 // each search asks A and B
    process.stdout.write(`500 distinct stale keys at once: ${searches} searches (${asked(list)} peer requests)\n`)
    const { searchBurst, searchesPerSecond } = DEFAULT_SEARCH_LIMITS
    expect(searches).toBeGreaterThanOrEqual(searchBurst)
    expect(searches).toBeLessThanOrEqual(searchBurst + Math.ceil((elapsed * searchesPerSecond) / 1000))
    // The bucket refills: a genuine miss a little later is searched, and finds its record.
    await new Promise((resolve) => setTimeout(resolve, 50))
    const k = key()
    await b!.write(k, value('moved'))
    await expect(c!.recovery!.recover(k, b!.recovery!.hint)).resolves.toBe(true)
    await expect(fieldsOf(a!, k)).resolves.toBeUndefined()
  })
})

describe('memoryAdapter peers: peers that do not answer', () => {
  test('a silent peer costs at most the timeout, and a silent hinted peer does not hide the one that has it', async () => {
    const silent = await listen(() => () => {}) // accepts, never answers
    const refused = 'http://127.0.0.1:9/peer' // discard port: nothing listens
    const timeout = 2000
    const [a, b] = await nodes(2, [silent.url, refused], { peerTimeout: timeout })
    const k = key()
    await a!.adapter.write(k, value('kept'))
    const silentHint = nodeHint(derivePeerKeys(SECRETS), silent.url)
    let started = Date.now()
    await expect(b!.adapter.recovery!.recover(k, silentHint)).resolves.toBe(true)
    const hedged = Date.now() - started
    started = Date.now()
    await expect(b!.adapter.recovery!.recover(key(), silentHint)).resolves.toBe(false)
    const missed = Date.now() - started
    // A bound, not a speed figure: without the timeout the silent peer would hold the search forever.
    expect(hedged).toBeLessThan(timeout + 3000)
    expect(missed).toBeLessThan(timeout + 3000)
    expect(missed).toBeGreaterThanOrEqual(timeout - 5)
  })
})

describe('memoryAdapter peers: options', () => {
  test.each([
    [{ peers: 'hosts' }, /`memoryAdapter.peers` must be "cluster" or \{ self, urls \}/],
    [{ peers: ['http://a/'] }, /`memoryAdapter.peers` must be "cluster" or \{ self, urls \}/],
    [{ peers: { self: 'http://a/', urls: [], timeout: 3 } }, /unknown option `memoryAdapter.peers.timeout`/],
    [{ peers: { self: 'a:1', urls: [] } }, /`memoryAdapter.peers.self` must be an http:\/\/ or https:\/\/ URL/],
    [{ peers: { self: 'http://a/', urls: 'http://b/' } }, /`memoryAdapter.peers.urls` must be an array/],
    [{ peers: { self: 'http://a/', urls: ['ftp://b/'] } }, /`memoryAdapter.peers.urls` must be an http/],
    [{ peers: { self: 'http://u:p@a/', urls: [] } }, /without credentials/],
    [{ peers: { self: 'http://a/', urls: [] }, peerTimeout: 0 }, /`memoryAdapter.peerTimeout` must be a positive integer/],
    [{ peerTimeout: 100 }, /`memoryAdapter.peerTimeout` must be given with `peers`/],
    [{ peers: 'cluster' }, /"cluster" only in a worker of node:cluster/],
  ])('%j throws a TypeError', (options, message) => {
    expect(() => memoryAdapter(options as MemoryAdapterOptions)).toThrow(TypeError)
    expect(() => memoryAdapter(options as MemoryAdapterOptions)).toThrow(message)
  })

  test('one adapter cannot serve stashes with different secrets', () => {
    const adapter = memoryAdapter({ peers: { self: 'http://a/', urls: [] } })
    adapter.recovery!.attach(['s1'])
    expect(() => adapter.recovery!.attach(['s1'])).not.toThrow()
    expect(() => adapter.recovery!.attach(['s2'])).toThrow(/`secret` must be the same for every stash sharing/)
  })

  test('without peers the adapter has no recovery and no endpoint', () => {
    const adapter = memoryAdapter()
    expect(adapter.recovery).toBeUndefined()
    expect(adapter.peerHandler).toBeUndefined()
  })
})
