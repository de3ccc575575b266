import { EventEmitter } from 'node:events'
import { StashError, StashUnavailableError } from '../../lib/errors.js'
import type { StashAdapter } from '../../lib/store/adapter.js'
import { StoreCalls } from '../../lib/store/store-calls.js'

/** Store calls over an adapter that is only a label: the calls under test are passed in. */
function storeCalls(): { store: StoreCalls; events: EventEmitter } {
  const events = new EventEmitter()
  return { store: new StoreCalls({ kind: 'test' } as StashAdapter, events), events }
}

describe('the store call wrapper', () => {
  it('counts answered calls and writes', async () => {
    const { store } = storeCalls()
    await expect(store.call(async () => 1)).resolves.toBe(1)
    await expect(store.call(async () => 2, 'write')).resolves.toBe(2)
    const stats = store.stats.snapshot()
    expect(stats.writes).toBe(1)
    expect(stats.errors).toBe(0)
    expect(stats.latency.calls).toBe(2)
  })

  it('turns a failed read into StashUnavailableError, emits unavailable once, then available', async () => {
    const { store, events } = storeCalls()
    const seen: string[] = []
    events.on('unavailable', () => seen.push('unavailable'))
    events.on('available', () => seen.push('available'))
    await expect(store.call(() => Promise.reject(new Error('down')))).rejects.toBeInstanceOf(StashUnavailableError)
    // While the breaker is open, calls are refused at once, without reaching the adapter.
    const operation = jest.fn(async () => 'x')
    await expect(store.call(operation)).rejects.toBeInstanceOf(StashUnavailableError)
    expect(operation).not.toHaveBeenCalled()
    await new Promise((resolve) => setTimeout(resolve, 60))
    await expect(store.call(operation)).resolves.toBe('x')
    expect(seen).toEqual(['unavailable', 'available'])
    expect(store.stats.snapshot().errors).toBe(2)
  })

  it('turns a failed write into ERR_STASH_WRITE and an adapter that throws into a rejection', async () => {
    const { store } = storeCalls()
    const failure = await store.call(() => Promise.reject(new Error('refused')), 'write').catch((err: unknown) => err)
    expect(failure).toBeInstanceOf(StashError)
    expect((failure as StashError).code).toBe('ERR_STASH_WRITE')
    const thrown = await store
      .call(() => {
        throw new StashError('ERR_STASH_TOO_LARGE', 'too large')
      }, 'write')
      .catch((err: unknown) => err)
    expect((thrown as StashError).code).toBe('ERR_STASH_TOO_LARGE')
  })

  it('reports errors to the error listener, and counts expiries and evictions', () => {
    const { store, events } = storeCalls()
    const reported: unknown[] = []
    const expired: unknown[] = []
    events.on('error', (err) => reported.push(err))
    events.on('expired', (event) => expired.push(event))
    events.on('evicted', () => {
      throw new Error('listener failed')
    })
    store.expired('record')
    store.evicted({ records: 2, bytes: 10 })
    expect(expired).toEqual([{ record: 'record' }])
    expect(reported).toHaveLength(1) // the throwing eviction listener
    expect(store.stats.snapshot()).toMatchObject({ misses: 1, evictions: 2 })
  })
})
