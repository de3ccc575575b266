/**
 * What the near-cache tests read off the cache-app.cjs nodes: Redis's own command counts, the
 * version a cookie signs, the cache counters of an answer, and waiting until a read is cached.
 * @module
 */
import { CookieJar, get, type NodeProcess } from './peer-nodes.js'

/** Commands a Redis node ran since its last `CONFIG RESETSTAT`, by name, from its `INFO commandstats` text. */
export function commandCounts(info: string): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const match of info.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) counts[match[1]!] = Number(match[2])
  return counts
}

/** Polls `check` every 10 ms until it holds, at most `ms`. */
export async function eventually(check: () => Promise<boolean>, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not so within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** The record version a stash cookie pair signs (`*<base 36>`), 0 without one. */
export function versionIn(pair: string): number {
  const found = /\*([0-9a-z]+)\./.exec(decodeURIComponent(pair))
  return found === null ? 0 : Number.parseInt(found[1]!, 36)
}

/** The near cache's counters in an answer of cache-app.cjs. */
export type CacheStats = { hits: number; misses: number; invalidations: number; flushes: number; entries: number }

/** The cache counters of an answer of cache-app.cjs. */
export const cacheOf = (body: Record<string, unknown>): CacheStats => body.cache as CacheStats

/**
 * Reads with `cookie` on the node at `port` until a read is answered from its cache: once its
 * channel is confirmed and no invalidation of the last write overtook a read (a cluster reports a
 * process's own writes back to it).
 */
export async function untilCached(port: number, cookie: string, ms?: number): Promise<void> {
  let hits = -1
  await eventually(async () => {
    const { hits: now } = cacheOf((await get(port, '/peek', cookie)).body)
    return hits >= 0 && now > hits ? true : ((hits = now), false)
  }, ms)
}

/**
 * One client increments its counter `rounds` times on two nodes, each write followed by a
 * request that may land on either: every answer counts every earlier write (never an older cached
 * copy), and the version its cookie signs rises with each write.
 */
export async function expectOwnWritesEverywhere(a: NodeProcess, b: NodeProcess, rounds: number): Promise<void> {
  const jar = new CookieJar()
  let version = 0
  for (let i = 1; i <= rounds; i++) {
    const node = i % 2 === 0 ? a : b
    const next = i % 3 === 0 ? (node === a ? b : a) : node
    expect((await jar.get(node.port, '/count')).body.count).toBe(2 * i - 1)
    expect((await jar.get(next.port, '/count')).body.count).toBe(2 * i)
    const signed = versionIn(jar.cookie!)
    expect(signed).toBeGreaterThan(version)
    version = signed
  }
}

/**
 * Sends SIGTERM to an app on the near cache whose client has a cached record, and expects it to
 * exit by itself within 8 s (the app closes its stash, which closes the cache's connections).
 */
export async function expectExitOnSigterm(node: NodeProcess): Promise<void> {
  const jar = new CookieJar()
  await jar.get(node.port, '/count')
  await untilCached(node.port, jar.cookie!)
  const exited = node.signal('SIGTERM')
  const timer = new Promise((resolve) => setTimeout(() => resolve('still running'), 8000))
  expect(await Promise.race([exited, timer])).toBe(0)
}
