import { AsyncLocalStorage } from 'node:async_hooks'
import { randomBytes } from 'node:crypto'
import { tracingChannel } from 'node:diagnostics_channel'
import request from 'supertest'
import { redisAdapter, type StashMiddleware, type StashOptions } from 'express-stash'
import { cookiePair, sleep } from '../support/http.js'
import { useRedis } from '../support/redis-client.js'
import { counterApp, EVENTS } from './support.js'

// A subscriber that throws never reaches the request: Node catches what a subscriber (or the
// transform of a store bound to `start`) throws and raises it again as an uncaught exception on
// the next tick (diagnostics_channel's own rule). The requests answer, and store, as without it.
const redis = useRedis()
const opened: StashMiddleware[] = []
afterAll(() => Promise.all(opened.map((stash) => stash.close())))

/**
 * Runs `requests` with a subscriber that throws on every event of both channels, and a store
 * bound to each `start` whose transform throws; resolves to the messages Node raised.
 */
async function withThrowingSubscribers(requests: () => Promise<void>): Promise<string[]> {
  const raised: string[] = []
  const storage = new AsyncLocalStorage()
  const channels = [tracingChannel('express-stash:load'), tracingChannel('express-stash:commit')]
  const subscribers = Object.fromEntries(
    EVENTS.map((event) => [
      event,
      () => {
        throw new Error(`subscriber broke on ${event}`)
      },
    ]),
  ) as never
  // Node raises these as uncaught exceptions; this process-wide hook takes them instead (jest's own handler would fail the test).
  process.setUncaughtExceptionCaptureCallback((err) => raised.push(err.message))
  try {
    for (const channel of channels) {
      channel.subscribe(subscribers)
      channel.start.bindStore(storage, () => {
        throw new Error('store transform broke')
      })
    }
    await requests()
    await sleep(20) // the errors are raised on the next tick
  } finally {
    for (const channel of channels) {
      channel.unsubscribe(subscribers)
      channel.start.unbindStore(storage)
    }
    storage.disable()
    process.setUncaughtExceptionCaptureCallback(null)
  }
  return raised
}

/** The counter app, recording the instance's `'error'` events. */
function appWith(options: StashOptions) {
  const { app, stash } = counterApp(options, opened)
  const errors: unknown[] = []
  stash.on('error', (err) => errors.push(err))
  return { app, stash, errors }
}

const tally = (messages: string[]) =>
  messages.reduce<Record<string, number>>((counts, message) => ({ ...counts, [message]: (counts[message] ?? 0) + 1 }), {})

it('memory: requests answer and store as usual, and Node raises each error of the subscriber', async () => {
  const { app, stash, errors } = appWith({})
  let cookie = ''
  const raised = await withThrowingSubscribers(async () => {
    cookie = cookiePair(await request(app).get('/count').expect(200, { count: 1 })) // a commit
    await request(app).get('/count').set('Cookie', cookie).expect(200, { count: 2 }) // a load from memory, a commit
    await request(app).post('/update').set('Cookie', cookie).expect(200, { count: 3 }) // a load, an update
    await request(app).get('/peek').set('Cookie', cookie).expect(200, { count: 3, available: true }) // a load
  })
  // Loads from memory: start and end. Commits: start, end, asyncStart, asyncEnd. Each start also runs the store's transform.
  expect(tally(raised)).toEqual({
    'store transform broke': 6,
    'subscriber broke on start': 6,
    'subscriber broke on end': 6,
    'subscriber broke on asyncStart': 3,
    'subscriber broke on asyncEnd': 3,
  })
  expect(errors).toEqual([])
  expect(stash.stats()).toMatchObject({ loads: 3, hits: 3, errors: 0 })
  await request(app).get('/peek').set('Cookie', cookie).expect(200, { count: 3, available: true })
})

it('Redis: requests answer and store as usual, and Node raises each error of the subscriber', async () => {
  const prefix = `tracing-throw:${randomBytes(6).toString('base64url')}:`
  const { app, stash, errors } = appWith({ adapter: redisAdapter({ client: redis().client, prefix }) })
  let cookie = ''
  const raised = await withThrowingSubscribers(async () => {
    cookie = cookiePair(await request(app).get('/count').expect(200, { count: 1 }))
    await request(app).get('/count').set('Cookie', cookie).expect(200, { count: 2 })
    await request(app).get('/peek').set('Cookie', cookie).expect(200, { count: 2, available: true })
  })
  // Every load and commit waits for Redis: start, end, asyncStart, asyncEnd each.
  expect(tally(raised)).toEqual({
    'store transform broke': 4,
    'subscriber broke on start': 4,
    'subscriber broke on end': 4,
    'subscriber broke on asyncStart': 4,
    'subscriber broke on asyncEnd': 4,
  })
  expect(errors).toEqual([])
  expect(stash.stats()).toMatchObject({ loads: 2, hits: 2, errors: 0 })
  expect(await redis().client.keys(`${prefix}*`)).toHaveLength(1)
  await request(app).get('/peek').set('Cookie', cookie).expect(200, { count: 2, available: true })
})
