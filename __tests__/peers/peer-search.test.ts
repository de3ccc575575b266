/**
 * The search order of cross-node recovery (`searchPeers`: hinted peer first, hedge, deadline)
 * and the limits on searching (`SearchGate`), without any transport.
 */
import type { Peer } from '../../lib/peers/peer-link.js'
import { searchPeers } from '../../lib/peers/peer-search.js'
import { DEFAULT_SEARCH_LIMITS, SearchGate } from '../../lib/peers/search-gate.js'

const peer = (hint: string): Peer => ({ hint, ask: async () => undefined })
/** An `ask` that answers per peer after `ms`, recording the order peers were asked in. */
function asker(answers: Record<string, { found: boolean; ms: number }>) {
  const asked: string[] = []
  const ask = (p: Peer) => {
    asked.push(p.hint)
    const { found, ms } = answers[p.hint]!
    return new Promise<boolean>((resolve) => setTimeout(() => resolve(found), ms).unref())
  }
  return { asked, ask }
}

describe('searchPeers', () => {
  const peers = [peer('a'), peer('b'), peer('c')]

  test('asks the hinted peer alone first; found there, the others are never asked', async () => {
    const { asked, ask } = asker({ a: { found: false, ms: 1 }, b: { found: true, ms: 1 }, c: { found: false, ms: 1 } })
    expect(await searchPeers(peers, 'b', 1000, ask)).toBe(true)
    expect(asked).toEqual(['b'])
  })

  test('the hinted peer answering none: every other is asked; found by one of them', async () => {
    const { asked, ask } = asker({ a: { found: false, ms: 1 }, b: { found: false, ms: 1 }, c: { found: true, ms: 5 } })
    expect(await searchPeers(peers, 'b', 1000, ask)).toBe(true)
    expect(asked).toEqual(['b', 'a', 'c'])
  })

  test('no hinted peer: all are asked at once; none has it: false once all answered', async () => {
    const { asked, ask } = asker({ a: { found: false, ms: 1 }, b: { found: false, ms: 2 }, c: { found: false, ms: 3 } })
    const started = Date.now()
    expect(await searchPeers(peers, 'unknown', 1000, ask)).toBe(false)
    expect(Date.now() - started).toBeLessThan(500)
    expect(asked).toEqual(['a', 'b', 'c'])
  })

  test('a silent hinted peer: the others are asked after half the timeout', async () => {
    const { asked, ask } = asker({ a: { found: true, ms: 1 }, b: { found: false, ms: 10_000 }, c: { found: false, ms: 1 } })
    const started = Date.now()
    expect(await searchPeers(peers, 'b', 400, ask)).toBe(true)
    expect(Date.now() - started).toBeGreaterThanOrEqual(190)
    expect(asked).toEqual(['b', 'a', 'c'])
  })

  test('nobody answers: false at the timeout; no peers: false at once', async () => {
    const { ask } = asker({ a: { found: true, ms: 10_000 }, b: { found: true, ms: 10_000 }, c: { found: true, ms: 10_000 } })
    const started = Date.now()
    expect(await searchPeers(peers, undefined, 200, ask)).toBe(false)
    expect(Date.now() - started).toBeGreaterThanOrEqual(190)
    expect(await searchPeers([], 'a', 10_000, ask)).toBe(false)
  })
})

describe('SearchGate', () => {
  test('a key searched in vain is refused under the same hint, allowed under another, and again once found', () => {
    const gate = new SearchGate()
    expect(gate.allows('k', 'h1')).toBe(true)
    gate.missed('k', 'h1')
    expect(gate.allows('k', 'h1')).toBe(false)
    expect(gate.allows('k', 'h2')).toBe(true)
    gate.found('k')
    expect(gate.allows('k', 'h1')).toBe(true)
  })

  test('allows a burst of searchBurst searches, then refuses', () => {
    const gate = new SearchGate({ searchBurst: 5, searchesPerSecond: 1 })
    const allowed = Array.from({ length: 8 }, (_, i) => gate.allows(`k${i}`, undefined)).filter(Boolean).length
    expect(allowed).toBe(5)
    expect(DEFAULT_SEARCH_LIMITS.searchBurst).toBeGreaterThan(DEFAULT_SEARCH_LIMITS.searchesPerSecond)
  })
})
