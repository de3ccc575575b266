import '../../support/stash-data.js'
import express from 'express'
import { createClient } from 'redis'
import request from 'supertest'
import { createStash, redisAdapter, type NodeRedisClient, type StashMiddleware } from '../../../lib/index.js'
import { cookiePair, noStashCookie } from '../../support/http.js'
import { startRedis, type RedisServer } from '../../support/redis-server.js'

// The cost model of DESIGN §3, measured twice: commands and round trips counted at the client,
// and commands counted by Redis itself (INFO commandstats, which includes the commands scripts run).
let server: RedisServer
let client: ReturnType<typeof createClient>
let stash: StashMiddleware
let app: express.Express
const roundTrips: string[][] = []
/** How many replies had come back when each command of `roundTrips` was sent. */
const repliesBefore: number[] = []
let replies = 0

beforeAll(async () => {
  server = await startRedis()
  client = createClient({ url: server.url })
  client.on('error', () => {})
  await client.connect()
  const counting: NodeRedisClient = {
    get isReady() {
      return client.isReady
    },
    sendCommand: (args) => {
      roundTrips.push(args)
      repliesBefore.push(replies)
      return client.sendCommand(args).finally(() => replies++)
    },
  }
  stash = createStash({ secret: 's', storedKeys: ['a', 'b', 'c'], adapter: redisAdapter({ client: counting }) })
  app = express()
  app.use(stash)
  app.get('/read', (req, res) => res.json(req.stash))
  app.get('/set-a', (req, res) => {
    req.stash.a = (req.stash.a ?? 0) + 1
    res.json(req.stash)
  })
  app.get('/slow/:key', async (req, res) => {
    await new Promise((resolve) => setTimeout(resolve, 100)) // both requests load before either writes
    req.stash[req.params.key] = req.params.key
    res.json({})
  })
  // Warm up: the first use of each script after a Redis start costs an extra EVAL.
  const warm = await request(app).get('/set-a')
  await request(app).get('/read').set('Cookie', cookiePair(warm))
})

afterAll(async () => {
  await stash?.close()
  await client?.close()
  await server?.stop()
})

/**
 * Runs `action` and returns the commands it sent, grouped by round trip (the commands sent before
 * any of them was answered travel together), and Redis's own command counts.
 */
async function measure(action: () => Promise<unknown>): Promise<{ trips: string[][]; commands: Record<string, number> }> {
  await client.sendCommand(['CONFIG', 'RESETSTAT'])
  roundTrips.splice(0)
  repliesBefore.splice(0)
  replies = 0
  await action()
  const trips: string[][] = []
  roundTrips.forEach((args, i) => {
    if (i === 0 || repliesBefore[i] !== repliesBefore[i - 1]) trips.push([])
    trips[trips.length - 1]!.push(args[0]!)
  })
  const info = String(await client.sendCommand<string>(['INFO', 'commandstats']))
  const commands: Record<string, number> = {}
  for (const [, name, calls] of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (!/^(config|info)\b/.test(name!)) commands[name!] = Number(calls) // the measurement's own commands
  }
  return { trips, commands }
}

it('costs zero commands for a visitor without cookie who stores nothing', async () => {
  const { trips, commands } = await measure(() => request(app).get('/read').expect(200, {}).expect(noStashCookie))
  expect(trips).toEqual([])
  expect(commands).toEqual({})
})

it('costs one round trip for a new visitor who stores something', async () => {
  const { trips, commands } = await measure(() => request(app).get('/set-a').expect(200, { a: 1 }))
  expect(trips).toEqual([['EVALSHA']])
  expect(commands).toEqual({ evalsha: 1, hget: 1, pttl: 1, hset: 1, pexpire: 1 })
})

it('costs one round trip, one command and no write for a read-only request', async () => {
  const first = await request(app).get('/set-a')
  const { trips, commands } = await measure(() =>
    request(app).get('/read').set('Cookie', cookiePair(first)).expect(200, { a: 1 }),
  )
  // No script: HMGET of the marker (each key's expiry) and the keys; nothing slides this soon.
  expect(trips).toEqual([['HMGET']])
  expect(commands).toEqual({ hmget: 1 })
})

it('costs two round trips for a change, writing only the changed field', async () => {
  const first = await request(app).get('/set-a')
  await request(app).get('/slow/b').set('Cookie', cookiePair(first))
  const { trips, commands } = await measure(() =>
    request(app).get('/set-a').set('Cookie', cookiePair(first)).expect(200, { a: 2, b: 'b' }),
  )
  expect(trips).toEqual([['HMGET'], ['EVALSHA']])
  // The write, worked out on the client from the marker the load read (every field's expiry and
  // size, so no field is measured): the script checks that the marker is still the one stored
  // (HGET), then sets the field and the new marker (HSET) and the key's expiry (PEXPIRE), without
  // decoding anything. The other key, b, is not read.
  expect(commands).toEqual({ hmget: 1, evalsha: 1, hget: 1, hset: 1, pexpire: 1 })
  const write = roundTrips[1]!
  // EVALSHA sha 1 key, then the marker expected and the one the write makes.
  const [expected, next] = [JSON.parse(write[4]!) as { v: number }, JSON.parse(write[5]!) as { v: number }]
  expect(next).toMatchObject({ v: expected.v + 1, f: { a: expect.any(Array), b: expect.any(Array) } })
  // Eight arguments in all (each one costs Redis): the markers, the key's lifetime, how many
  // fields to remove and to set, the numbers only the full path reads (in one), the field and value.
  expect(write.slice(4)).toHaveLength(8)
  expect(write).toContain('a')
  expect(write).not.toContain('b')
})

it('keeps the writes of concurrent requests that change different keys', async () => {
  const owner = await request(app).get('/set-a')
  const cookie = cookiePair(owner)
  await Promise.all([request(app).get('/slow/b').set('Cookie', cookie), request(app).get('/slow/c').set('Cookie', cookie)])
  const both = createStash({ secret: 's', storedKeys: ['a', 'b', 'c'], adapter: redisAdapter({ client }) })
  const reader = express().use(both, (req, res) => res.json(req.stash))
  await request(reader).get('/').set('Cookie', cookie).expect(200, { a: 1, b: 'b', c: 'c' })
  await both.close()
})
