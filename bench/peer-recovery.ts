/**
 * Cross-node recovery, a measurement (not a test): the latency of a request whose stash is on
 * another node (moved here first) against one whose stash is already local, for HTTP peers
 * (two processes) and for four `node:cluster` workers. Every request opens a new connection.
 *
 * Run: npm run build && npx tsx bench/peer-recovery.ts   (about half a minute)
 */
import { CookieJar, freePort, startFixture, type NodeProcess } from '../__tests__/support/peer-nodes.js'

const REQUESTS = 300
const endpoint = (port: number) => `http://127.0.0.1:${port}/_stash/peer`

function summary(label: string, samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(2)
  return `| ${label} | ${samples.length} | ${at(0.5)} | ${at(0.95)} | ${at(0.99)} |`
}

async function timed(jar: CookieJar, ports: readonly number[]): Promise<number[]> {
  const samples: number[] = []
  await jar.get(ports[0]!, '/count') // creates the stash
  for (let i = 0; i < REQUESTS; i++) {
    const answer = await jar.get(ports[(i + 1) % ports.length]!, '/count')
    if (answer.body.count !== i + 2) throw new Error(`count ${String(answer.body.count)} at request ${i + 2}`)
    samples.push(answer.ms)
  }
  return samples
}

async function main(): Promise<void> {
  const started: NodeProcess[] = []
  try {
    const ports = [await freePort(), await freePort()]
    const env = { PEERS: ports.map(endpoint).join(','), PEER_TIMEOUT: '500' }
    for (const [i, port] of ports.entries())
      started.push(await startFixture('peer-app.cjs', port, { ...env, NODE_NAME: `n${i}` }))
    const local = await timed(new CookieJar(), [ports[0]!])
    const hops = await timed(new CookieJar(), ports)
    const clusterPort = await freePort()
    started.push(await startFixture('cluster-app.cjs', clusterPort, { WORKERS: '4' }))
    const cluster = await timed(new CookieJar(), [clusterPort])
    console.log('| request (GET /count, new connection each) | n | p50 ms | p95 ms | p99 ms |\n|---|---|---|---|---|')
    console.log(summary('HTTP peers: stash already on this node', local))
    console.log(summary('HTTP peers: stash moved from the other node', hops))
    console.log(summary('cluster, 4 workers round-robin (a move almost every request)', cluster))
  } finally {
    await Promise.all(started.map((node) => node.kill()))
  }
}

void main()
