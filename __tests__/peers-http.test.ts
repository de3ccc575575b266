/**
 * Cross-node recovery between independent server processes over HTTP peers (support/peer-app.cjs
 * on the built package): state follows a client across nodes, a killed or silent peer costs at
 * most the timeout, and forged hints or unauthenticated callers of the peer endpoint get nothing.
 */
import net from 'node:net'
import { sealRequest } from '../lib/adapters/peer-protocol.js'
import { signId } from '../lib/cookie.js'
import { derivePeerKeys, nodeHint } from '../lib/node-hint.js'
import { CookieJar, freePort, get, partsOf, startFixture, type NodeProcess } from './support/peer-nodes.js'

const SECRET = 'multi-process test secret'
const KEYS = derivePeerKeys([SECRET])
/** Generous for a loaded machine; the silent-peer test measures against it. */
const PEER_TIMEOUT = 1500
const endpoint = (port: number) => `http://127.0.0.1:${port}/_stash/peer`
const started: NodeProcess[] = []

/** Starts one process per name, all knowing each other and `extra` peer URLs. */
async function group(names: string[], extra: string[] = []): Promise<Record<string, NodeProcess>> {
  const ports = await Promise.all(names.map(() => freePort()))
  const peers = [...ports.map(endpoint), ...extra].join(',')
  const nodes = await Promise.all(
    names.map((name, i) =>
      startFixture('peer-app.cjs', ports[i]!, { NODE_NAME: name, PEERS: peers, PEER_TIMEOUT: String(PEER_TIMEOUT) }),
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
    const orphan = `stash=${encodeURIComponent(signId('Q'.repeat(32), SECRET, nodeHint(KEYS, endpoint(B!.port))))}`
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
