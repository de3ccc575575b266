/**
 * Cross-node recovery between four workers of `node:cluster` (support/cluster-app.cjs on the
 * built package): every request opens a new connection, so the primary's round-robin spreads one
 * client's requests over the workers, and the count must still go up by one each time.
 */
import { CookieJar, freePort, startFixture, type NodeProcess } from '../support/peer-nodes.js'

const REQUESTS = 100
let app: NodeProcess | undefined

afterAll(() => app?.kill())

test('four cluster workers: a client counter keeps increasing over 100 requests landing on different workers', async () => {
  app = await startFixture('cluster-app.cjs', await freePort(), { WORKERS: '4', PEER_TIMEOUT: '2000' })
  const client = new CookieJar()
  const workers: number[] = []
  const counts: number[] = []
  const failures: unknown[] = []
  for (let i = 0; i < REQUESTS; i++) {
    const answer = await client.get(app.port, '/count')
    if (answer.status !== 200) failures.push(answer.body)
    counts.push(answer.body.count as number)
    workers.push(answer.body.worker as number)
  }
  expect(failures).toEqual([])
  expect(counts).toEqual(Array.from({ length: REQUESTS }, (_, i) => i + 1))
  const hops = workers.filter((worker, i) => i > 0 && worker !== workers[i - 1]).length
  expect(new Set(workers).size).toBe(4)
  expect(hops).toBeGreaterThanOrEqual(REQUESTS / 2)
  process.stdout.write(`cluster: ${hops} of ${REQUESTS - 1} requests landed on another worker than the one before\n`)
  expect(app.exited()).toBe(false)
})
