/**
 * Cross-node recovery between independent server processes over HTTP peers (support/peer-app.cjs
 * on the built package): state follows a client across nodes, a killed or silent peer costs at
 * most the timeout, and forged hints or unauthenticated callers of the peer endpoint get nothing.
 * Attacks: a stale cookie replayed against a node, oversized and trickling requests to the peer
 * endpoint, and peers that redirect or flood their replies.
 */
import net from 'node:net'
import { BODY_TIMEOUT_MS, MAX_REPLY_BYTES } from '../../lib/peers/peer-http.js'
import { sealRequest } from '../../lib/peers/peer-protocol.js'
import { signId } from '../../lib/cookie/signed-id.js'
import { derivePeerKeys, nodeHint } from '../../lib/peers/node-hint.js'
import { floodingPeer, rawRequest, redirectingPeer, silentPeer, type FakePeer } from '../support/fake-peers.js'
import { CookieJar, freePort, get, partsOf, startFixture, type NodeProcess } from '../support/peer-nodes.js'

const SECRET = 'multi-process test secret'
const KEYS = derivePeerKeys([SECRET])
/** Generous for a loaded machine; the silent-peer test measures against it. */
const PEER_TIMEOUT = 1500
const endpoint = (port: number) => `http://127.0.0.1:${port}/_stash/peer`
const started: NodeProcess[] = []

/** Starts one process per name, all knowing each other and `extra` peer URLs. */
async function group(names: string[], extra: string[] = [], peerTimeout = PEER_TIMEOUT): Promise<Record<string, NodeProcess>> {
  const ports = await Promise.all(names.map(() => freePort()))
  const peers = [...ports.map(endpoint), ...extra].join(',')
  const nodes = await Promise.all(
    names.map((name, i) =>
      startFixture('peer-app.cjs', ports[i]!, { NODE_NAME: name, PEERS: peers, PEER_TIMEOUT: String(peerTimeout) }),
    ),
  )
  started.push(...nodes)
  return Object.fromEntries(names.map((name, i) => [name, nodes[i]!]))
}

afterAll(() => Promise.all(started.map((node) => node.kill())))

describe('two processes', () => {
  test('the count follows the client A→B→A→B, each hop moving the record and re-hinting the cookie', async () => {
    const { A, B } = await group(['A', 'B'])
    const client = new CookieJar()
    const hints: (string | undefined)[] = []
    for (const [i, node] of [A!, B!, A!, B!].entries()) {
      const answer = await client.get(node.port, '/count')
      expect({ status: answer.status, count: answer.body.count, node: answer.headers['x-node'] }).toEqual({
        status: 200,
        count: i + 1,
        node: i % 2 === 0 ? 'A' : 'B',
      })
      expect(answer.cookie).toBeDefined() // new ID, then a new hint on every hop
      hints.push(partsOf(client.cookie!).hint)
    }
    expect(hints[0]).toBe(nodeHint(KEYS, endpoint(A!.port)))
    expect(hints[1]).toBe(nodeHint(KEYS, endpoint(B!.port)))
    expect(new Set(hints.map((h) => h?.length))).toEqual(new Set([16]))
    // Moved, not copied: A holds nothing, B holds the record.
    await expect(get(A!.port, '/peek')).resolves.toMatchObject({ body: { count: null, records: 0 } })
    await expect(get(B!.port, '/peek', client.cookie)).resolves.toMatchObject({ body: { count: 4, records: 1 } })
  })
})

describe('three processes, a killed peer and a silent one', () => {
  let nodes: Record<string, NodeProcess>
  let silent: net.Server
  const sockets = new Set<net.Socket>()

  beforeAll(async () => {
    silent = net.createServer((socket) => sockets.add(socket)) // accepts, never answers
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    nodes = await group(['A', 'B', 'C'], [endpoint((silent.address() as net.AddressInfo).port)])
  })
  afterAll(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => silent.close(resolve))
  })

  test('the count follows the client A→B→A→C; an old cookie on the old node never sees a stale copy', async () => {
    const { A, B, C } = nodes
    const client = new CookieJar()
    const counts: number[] = []
    const cookies: string[] = []
    for (const node of [A!, B!, A!, C!]) {
      counts.push((await client.get(node.port, '/count')).body.count as number)
      cookies.push(client.cookie!)
    }
    expect(counts).toEqual([1, 2, 3, 4])
    expect(partsOf(cookies[3]!).hint).toBe(nodeHint(KEYS, endpoint(C!.port)))
    // The cookie from before the last hop (hinting A), as a concurrent request of the client sends
    // it, on A: A holds only a tombstone, so it takes the record back from C. The count continues.
    await expect(get(A!.port, '/count', cookies[2])).resolves.toMatchObject({ body: { count: 5 } })
    await expect(client.get(C!.port, '/count')).resolves.toMatchObject({ body: { count: 6 } })
  })

  test('a forged hint breaks the signature: a fresh stash, and the record stays where it was', async () => {
    const { A, B, C } = nodes
    const client = new CookieJar()
    await client.get(B!.port, '/count')
    await client.get(B!.port, '/count')
    const { id, hint, mac } = partsOf(client.cookie!)
    for (const forgedHint of [nodeHint(KEYS, endpoint(C!.port)), nodeHint(derivePeerKeys(['guess']), endpoint(B!.port))]) {
      const forged = `stash=${encodeURIComponent(`s:${id}~${forgedHint}.${mac}`)}`
      const answer = await get(C!.port, '/count', forged)
      expect(answer.body.count).toBe(1)
      expect(partsOf(answer.cookie!).id).not.toBe(id) // a new ID: the forged one is never adopted
    }
    expect(hint).toBe(nodeHint(KEYS, endpoint(B!.port)))
    await expect(client.get(A!.port, '/count')).resolves.toMatchObject({ body: { count: 3 } })
  })

  test('an unauthenticated caller of the peer endpoint gets a 401 and takes nothing', async () => {
    const { A, B } = nodes
    const client = new CookieJar()
    await client.get(B!.port, '/count')
    const { createHash } = await import('node:crypto')
    const record = createHash('sha256').update(partsOf(client.cookie!).id).digest('base64url')
    const hintB = nodeHint(KEYS, endpoint(B!.port))
    for (const body of ['', 'x', sealRequest(derivePeerKeys(['not the secret']), hintB, record).text]) {
      const res = await fetch(endpoint(B!.port), { method: 'POST', body })
      expect({ status: res.status, body: await res.text() }).toEqual({
        status: 401,
        body: 'express-stash: unauthenticated peer request\n',
      })
    }
    await expect(client.get(A!.port, '/count')).resolves.toMatchObject({ body: { count: 2 } })
  })

  test('a silent peer costs at most the timeout, and so does a killed hinted peer', async () => {
    const { A, B, C } = nodes
    // A cookie nobody holds a record for: every peer is asked, the silent one never answers.
    const orphan = `stash=${encodeURIComponent(signId('Q'.repeat(32), SECRET, { hint: nodeHint(KEYS, endpoint(B!.port)) }))}`
    const miss = await get(A!.port, '/count', orphan)
    expect(miss.body.count).toBe(1)
    expect(miss.ms).toBeGreaterThanOrEqual(PEER_TIMEOUT - 5)
    expect(miss.ms).toBeLessThan(PEER_TIMEOUT + 3000) // a bound: without the timeout it would hang
    // State on a killed node is lost with it; a request hinting it is answered, not held.
    const client = new CookieJar()
    await client.get(C!.port, '/count')
    await client.get(B!.port, '/count')
    await B!.kill()
    const after = await client.get(A!.port, '/count')
    expect(after.body.count).toBe(1)
    expect(after.ms).toBeLessThan(PEER_TIMEOUT + 3000)
    process.stdout.write(
      `silent peer: miss answered in ${miss.ms.toFixed(0)} ms; killed hinted peer: ${after.ms.toFixed(0)} ms\n`,
    )
  })
})

/** A cookie pair for a validly signed ID that no node holds a record for, hinting `hintUrl`. */
const orphanCookie = (fill: string, hintUrl?: string) =>
  `stash=${encodeURIComponent(signId(fill.repeat(32), SECRET, { hint: hintUrl === undefined ? undefined : nodeHint(KEYS, hintUrl) }))}`
const peek = async (node: NodeProcess) => (await get(node.port, '/peek')).body as { peerRequests: number; rss: number }

describe('a stale cookie replayed by a client that ignores the Set-Cookie clearing it', () => {
  const STALE_TIMEOUT = 500
  const REQUESTS = 50
  let silent: FakePeer
  afterAll(() => silent?.close())

  test(`4 nodes (one silent), ${REQUESTS} requests with the cookie: the peers are asked once, not on every request`, async () => {
    silent = await silentPeer()
    const { A, B, C } = await group(['A', 'B', 'C'], [silent.url], STALE_TIMEOUT)
    const stale = orphanCookie('S', endpoint(B!.port))
    const times: number[] = []
    for (let i = 0; i < REQUESTS; i++) {
      const answer = await get(A!.port, '/count', stale) // the cookie it was given is dropped
      expect(answer.body.count).toBe(1)
      times.push(answer.ms)
    }
    const asked = (await peek(B!)).peerRequests + (await peek(C!)).peerRequests + silent.requests
    const later = times.slice(1).reduce((sum, ms) => sum + ms, 0) / (REQUESTS - 1)
    process.stdout.write(
      `stale cookie: ${asked} peer requests for ${REQUESTS} requests; first ${times[0]!.toFixed(0)} ms, then ${later.toFixed(1)} ms on average\n`,
    )
    expect(asked).toBe(3) // one search: B, C and the silent peer, once each
    expect(times[0]).toBeGreaterThanOrEqual(STALE_TIMEOUT - 5) // the one search waited for the silent peer
  }, 60_000)
})

describe('the peer endpoint against oversized and slow requests', () => {
  let A: NodeProcess
  beforeAll(async () => ({ A } = (await group(['A'])) as { A: NodeProcess }))
  const head = (length: string) => `POST /_stash/peer HTTP/1.1\r\nhost: 127.0.0.1\r\n${length}\r\n`

  test('a declared Content-Length of 10,000,000 gets 413 at once, unread, and the connection is closed', async () => {
    const outcome = await rawRequest(A.port, head('content-length: 10000000\r\n'), () => {}, 5000)
    process.stdout.write(`Content-Length 10000000: ${outcome.status} after ${outcome.answeredMs?.toFixed(0)} ms\n`)
    expect({ status: outcome.status, closedByServer: outcome.closedByServer }).toEqual({ status: 413, closedByServer: true })
    expect(outcome.answeredMs).toBeLessThan(1000)
  })

  test('a chunked body past the cap is cut off: 413 and the connection closed while the client is still sending', async () => {
    const piece = Buffer.alloc(16 * 1024, 'x')
    const chunk = Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')])
    const budget = 256 * 1024 * 1024 // what the client would send at most: far past any buffer
    const outcome = await rawRequest(
      A.port,
      head('transfer-encoding: chunked\r\n'),
      (write, socket) => {
        let sent = 0
        const pump = () => {
          while (sent < budget) {
            sent += chunk.length
            if (!write(chunk)) return void socket.once('drain', pump)
          }
        }
        pump()
      },
      10_000,
    )
    process.stdout.write(
      `chunked flood: ${outcome.status}; the client wrote ${(outcome.written / 2 ** 20).toFixed(1)} MiB before the close\n`,
    )
    // The server hangs up on a client still sending, which may reset the connection before the 413 is read.
    expect([0, 413]).toContain(outcome.status)
    expect(outcome.closedByServer).toBe(true)
    expect(outcome.written).toBeLessThan(32 * 1024 * 1024) // the kernel's buffers, not the body
  })

  test(`a body trickling in at 1 byte a second is cut off within ${BODY_TIMEOUT_MS} ms`, async () => {
    let trickle: NodeJS.Timeout | undefined
    const outcome = await rawRequest(
      A.port,
      head('content-length: 1000\r\n'),
      (write) => (trickle = setInterval(() => write('x'), 1000)),
      BODY_TIMEOUT_MS + 5000,
    )
    clearInterval(trickle)
    process.stdout.write(`trickle: ${outcome.status}, closed after ${outcome.closedMs.toFixed(0)} ms\n`)
    expect({ status: outcome.status, closedByServer: outcome.closedByServer }).toEqual({ status: 408, closedByServer: true })
    expect(outcome.closedMs).toBeLessThan(BODY_TIMEOUT_MS + 2000)
  })
})

describe('peers that redirect or flood their replies', () => {
  const FLOOD = 256 * 1024 * 1024
  const fakes: FakePeer[] = []
  afterAll(() => Promise.all(fakes.map((fake) => fake.close())))

  test('the asking node neither follows a 307 nor buffers a huge reply: it reads at most the cap and moves on', async () => {
    const target = await floodingPeer(FLOOD) // where the redirect points: it floods too
    const redirector = await redirectingPeer(target.url)
    const chunked = await floodingPeer(FLOOD)
    const declared = await floodingPeer(FLOOD, 400 * 1024 * 1024)
    fakes.push(target, redirector, chunked, declared)
    const { A } = await group(['A'], [redirector.url, chunked.url, declared.url])
    const before = (await peek(A!)).rss
    const miss = await get(A!.port, '/count', orphanCookie('F')) // no hint: every peer is asked at once
    await new Promise((resolve) => setTimeout(resolve, 500)) // what a node would go on reading would arrive now
    const after = (await peek(A!)).rss
    const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1)
    process.stdout.write(
      `flooding peers: answered in ${miss.ms.toFixed(0)} ms; redirect followed ${target.requests}x; ` +
        `chunked peer sent ${mib(chunked.sent)} MiB, declared-length peer ${mib(declared.sent)} MiB; ` +
        `RSS ${mib(before)} -> ${mib(after)} MiB\n`,
    )
    expect(miss.body.count).toBe(1)
    expect(miss.ms).toBeLessThan(PEER_TIMEOUT)
    expect({ redirector: redirector.requests, target: target.requests }).toEqual({ redirector: 1, target: 0 })
    // Sent is what the sockets took: the cap read, plus the kernel's buffers on both ends.
    expect(chunked.sent).toBeLessThan(MAX_REPLY_BYTES + 24 * 1024 * 1024)
    expect(declared.sent).toBeLessThan(24 * 1024 * 1024)
    expect(after - before).toBeLessThan(128 * 1024 * 1024)
  })
})
