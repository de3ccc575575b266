import request from 'supertest'
import { memoryAdapter, StashError, StashUnavailableError, type StashMiddleware } from 'express-stash'
import { failingAdapter } from '../support/adapters.js'
import { cookiePair, idOf, sleep } from '../support/http.js'
import { counterApp, namesOf, recordEvents, type Published } from './support.js'

// The two tracing channels as a subscriber sees them, on the memory adapter: which events each
// load and commit publishes, in which order, and what their context says.
const opened: StashMiddleware[] = []
afterAll(() => Promise.all(opened.map((stash) => stash.close())))

let recorder: ReturnType<typeof recordEvents>
beforeEach(() => (recorder = recordEvents()))
afterEach(() => recorder.stop())

/** The one operation of `channel` that was published, after checking that there was exactly one. */
function onlyOperation(channel: Published['channel']): Published[] {
  const operations = recorder.operations(channel)
  expect(operations).toHaveLength(1)
  return operations[0]!
}

/** The outcome each event of an operation saw. */
const outcomes = (operation: Published[]) => operation.map((published) => published.seen.outcome)

describe('express-stash:load', () => {
  it('publishes a load answered from memory as start and end, its outcome known on end', async () => {
    const { app, stash } = counterApp({}, opened)
    const cookie = cookiePair(await request(app).get('/count').expect(200, { count: 1 }))
    recorder.events.length = 0
    await request(app).get('/peek').set('Cookie', cookie).expect(200, { count: 1, available: true })
    const load = onlyOperation('load')
    expect(namesOf(load)).toEqual(['start', 'end'])
    expect(outcomes(load)).toEqual([undefined, 'hit'])
    const [record] = await stash.ids()
    expect(load[0]!.context).toEqual({
      recordLabel: record!.slice(-8),
      adapter: 'memory',
      keys: ['count'],
      outcome: 'hit',
      error: undefined,
    })
    expect(recorder.operations('commit')).toEqual([]) // nothing changed, no slide due: no store call
  })

  it('publishes a load that waits for the store with asyncStart and asyncEnd', async () => {
    const { app } = counterApp({ adapter: failingAdapter(memoryAdapter()) }, opened) // no loadNow: every load is a promise
    const cookie = cookiePair(await request(app).get('/count').expect(200, { count: 1 }))
    recorder.events.length = 0
    await request(app).get('/peek').set('Cookie', cookie).expect(200, { count: 1, available: true })
    const load = onlyOperation('load')
    expect(namesOf(load)).toEqual(['start', 'end', 'asyncStart', 'asyncEnd'])
    expect(outcomes(load)).toEqual([undefined, undefined, 'hit', 'hit'])
  })

  it('reports a miss when the record is gone, and publishes nothing for a request without a cookie', async () => {
    const { app, stash } = counterApp({}, opened)
    await request(app).get('/peek').expect(200, { count: null, available: true })
    expect(recorder.events).toEqual([])
    const cookie = cookiePair(await request(app).get('/count').expect(200))
    await stash.clear()
    recorder.events.length = 0
    await request(app).get('/peek').set('Cookie', cookie).expect(200, { count: null, available: true })
    expect(outcomes(onlyOperation('load'))).toEqual([undefined, 'miss'])
  })

  it('publishes a failed load with error before asyncStart, and the error the request got', async () => {
    const adapter = failingAdapter(memoryAdapter())
    const { app } = counterApp({ adapter }, opened)
    const cookie = cookiePair(await request(app).get('/count').expect(200))
    adapter.failing.add('load')
    recorder.events.length = 0
    await request(app).get('/peek').set('Cookie', cookie).expect(503, { code: 'ERR_STASH_UNAVAILABLE' })
    const load = onlyOperation('load')
    expect(namesOf(load)).toEqual(['start', 'end', 'error', 'asyncStart', 'asyncEnd'])
    expect(load[2]!.context.outcome).toBe('error')
    expect(load[2]!.context.error).toBeInstanceOf(StashUnavailableError)
    expect((load[2]!.context.error as Error).message).toContain('store down')
  })

  it('publishes a synchronous load that throws as start, error and end', async () => {
    const inner = failingAdapter(memoryAdapter())
    const broken = Object.assign(inner, {
      loadNow: () => {
        throw new Error('memory broke')
      },
    })
    const { app } = counterApp({ adapter: broken }, opened)
    const cookie = cookiePair(await request(app).get('/count').expect(200))
    recorder.events.length = 0
    await request(app).get('/peek').set('Cookie', cookie).expect(503, { code: 'ERR_STASH_UNAVAILABLE' })
    const load = onlyOperation('load')
    expect(namesOf(load)).toEqual(['start', 'error', 'end'])
    expect(outcomes(load)).toEqual([undefined, 'error', 'error'])
    expect((load[1]!.context.error as Error).message).toContain('memory broke')
  })
})

describe('express-stash:commit', () => {
  it('publishes each write with the keys it sets and removes', async () => {
    const { app, stash } = counterApp({}, opened)
    const cookie = cookiePair(await request(app).get('/count').expect(200, { count: 1 }))
    const [record] = await stash.ids()
    await request(app).post('/update').set('Cookie', cookie).expect(200, { count: 2 })
    await request(app).post('/drop').set('Cookie', cookie).expect(200)
    const commits = recorder.operations('commit')
    expect(commits.map(namesOf)).toEqual(Array(3).fill(['start', 'end', 'asyncStart', 'asyncEnd']))
    expect(commits.map((commit) => commit[1]!.seen.outcome)).toEqual([undefined, undefined, undefined]) // a commit always waits
    const label = record!.slice(-8)
    const base = { recordLabel: label, adapter: 'memory', outcome: 'written', error: undefined }
    expect(commits.map((commit) => commit[0]!.context)).toEqual([
      { ...base, operation: 'write', written: ['count'], removed: [] },
      { ...base, operation: 'update', written: ['count'], removed: [] },
      { ...base, operation: 'write', written: [], removed: ['count'] },
    ])
  })

  it('publishes a slide of a read-only request as unchanged', async () => {
    const { app } = counterApp({ ttl: 1 }, opened) // a slide is due after 1 % of the ttl: 10 ms
    const cookie = cookiePair(await request(app).get('/count').expect(200))
    await sleep(50)
    recorder.events.length = 0
    await request(app).get('/peek').set('Cookie', cookie).expect(200, { count: 1, available: true })
    const commit = onlyOperation('commit')
    expect(commit[0]!.context).toMatchObject({ operation: 'write', written: [], removed: [], outcome: 'unchanged' })
  })

  it('publishes a write to a record deleted meanwhile as gone, then the write of a new stash', async () => {
    const { app, stash } = counterApp({}, opened)
    let resume: () => void = () => {}
    app.get('/slow', async (req, res) => {
      await new Promise<void>((resolve) => (resume = resolve))
      res.json({ count: (req.stash.count = (req.stash.count ?? 0) + 1) })
    })
    const cookie = cookiePair(await request(app).get('/count').expect(200))
    const [old] = await stash.ids()
    recorder.events.length = 0
    const slow = request(app)
      .get('/slow')
      .set('Cookie', cookie)
      .then((res) => res)
    while (recorder.operations('load').length === 0) await sleep(5)
    await stash.clear()
    resume()
    expect((await slow).body).toEqual({ count: 2 })
    const [gone, written] = recorder.operations('commit').map((commit) => commit[0]!.context)
    expect(gone).toMatchObject({ recordLabel: old!.slice(-8), outcome: 'gone', written: ['count'] })
    const [fresh] = await stash.ids()
    expect(written).toMatchObject({ recordLabel: fresh!.slice(-8), outcome: 'written', written: ['count'] })
    expect(fresh).not.toBe(old)
  })

  it('publishes an update() that lost a race as conflict, then its retry', async () => {
    const { app } = counterApp({}, opened)
    let raced = false
    app.post('/racy', async (req, res) => {
      const count = await req.stash.update('count', async (n) => {
        if (!raced) {
          raced = true // another request changes the key between this read and the swap
          await request(app).get('/count').set('Cookie', req.headers.cookie!).expect(200, { count: 2 })
        }
        return ((n as number) ?? 0) + 10
      })
      res.json({ count })
    })
    const cookie = cookiePair(await request(app).get('/count').expect(200, { count: 1 }))
    recorder.events.length = 0
    await request(app).post('/racy').set('Cookie', cookie).expect(200, { count: 12 })
    const updates = recorder.operations('commit').filter((commit) => commit[0]!.seen.operation === 'update')
    expect(updates.map((commit) => commit[0]!.context.outcome)).toEqual(['conflict', 'written'])
  })

  it('publishes a failed write with its error', async () => {
    const adapter = failingAdapter(memoryAdapter())
    const { app } = counterApp({ adapter }, opened)
    const cookie = cookiePair(await request(app).get('/count').expect(200, { count: 1 }))
    adapter.failing.add('write')
    recorder.events.length = 0
    await request(app).get('/count').set('Cookie', cookie).expect(503, { code: 'ERR_STASH_WRITE' })
    const commit = onlyOperation('commit')
    expect(namesOf(commit)).toEqual(['start', 'end', 'error', 'asyncStart', 'asyncEnd'])
    expect(commit[2]!.context).toMatchObject({ outcome: 'error', written: ['count'] })
    expect((commit[2]!.context.error as StashError).code).toBe('ERR_STASH_WRITE')
  })
})

describe('the channels', () => {
  it('never carry the ID or the cookie', async () => {
    const { app } = counterApp({ ttl: 1 }, opened)
    const cookie = cookiePair(await request(app).get('/count').expect(200))
    await sleep(50)
    await request(app).get('/peek').set('Cookie', cookie).expect(200)
    await request(app).post('/update').set('Cookie', cookie).expect(200)
    await request(app).get('/count').set('Cookie', cookie).expect(200)
    expect(new Set(recorder.events.map((published) => `${published.channel}:${published.event}`)).size).toBeGreaterThanOrEqual(6)
    const published = JSON.stringify(recorder.events.map((one) => one.seen))
    for (const secret of [idOf(cookie), cookie.slice(cookie.indexOf('=') + 1), decodeURIComponent(cookie)]) {
      expect(published).not.toContain(secret)
    }
  })

  it('publish nothing once the subscriber is gone', async () => {
    const { app } = counterApp({}, opened)
    recorder.stop()
    const cookie = cookiePair(await request(app).get('/count').expect(200, { count: 1 }))
    await request(app).get('/count').set('Cookie', cookie).expect(200, { count: 2 })
    expect(recorder.events).toEqual([])
  })
})
