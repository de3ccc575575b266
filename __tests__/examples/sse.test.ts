import http from 'node:http'
import type { AddressInfo } from 'node:net'
import request from 'supertest'
import { createApp, type Tick } from '../../examples/sse.js'
import { memoryAdapter } from '../../lib/index.js'
import { cookiePair } from '../support/http.js'

const TTL = 1 // seconds: the keep-alive slides the expiry every 250 ms

/** Opens `/events` with `cookie` and calls `onTick` for each event until it returns true. */
function streamUntil(port: number, cookie: string, onTick: (tick: Tick) => boolean): Promise<http.ClientRequest> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/events', headers: { cookie } }, (res) => {
      if (res.headers['content-type'] !== 'text/event-stream')
        reject(new Error(`not an event stream: ${res.headers['content-type']}`))
      let buffer = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        buffer += chunk
        let end: number
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const event = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const data = event.split('\n').find((line) => line.startsWith('data: '))
          if (event.startsWith('event: tick\n') && data !== undefined && onTick(JSON.parse(data.slice(6)) as Tick)) {
            return resolve(req)
          }
        }
      })
      res.on('error', reject)
      res.on('end', () => reject(new Error('the event stream ended')))
    })
    req.on('error', reject)
  })
}

/** Sweeps the memory adapter until it holds `count` records, or fails after 5 s. */
async function waitForRecords(adapter: ReturnType<typeof memoryAdapter>, count: number): Promise<void> {
  for (const deadline = Date.now() + 5000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
    await adapter.sweep()
    if (adapter.size === count) return
  }
  throw new Error(`the memory adapter holds ${adapter.size} records, expected ${count}`)
}

/** The example on a free loopback port, with its own memory adapter (swept every 100 ms). */
async function startExample() {
  const adapter = memoryAdapter({ cleanupInterval: 100 })
  const { app, stash } = createApp({ adapter, secret: 'sse test', ttl: TTL, tickInterval: 100 })
  const server = http.createServer(app)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  running.push(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    await stash.close()
  })
  return { server, adapter, port: (server.address() as AddressInfo).port }
}
const running: (() => Promise<void>)[] = []
afterEach(() => Promise.all(running.splice(0).map((stop) => stop())))

describe('examples/sse', () => {
  test('the page counts visits and opens an EventSource', async () => {
    const { server } = await startExample()
    const first = await request(server).get('/').expect(200).expect('content-type', /html/)
    expect(first.text).toContain('<strong id="visits">1</strong>')
    expect(first.text).toContain("new EventSource('/events')")
    const second = await request(server).get('/').set('cookie', cookiePair(first)).expect(200)
    expect(second.text).toContain('<strong id="visits">2</strong>')
  })

  test('an open stream keeps the stash alive past its ttl; once closed, the stash expires', async () => {
    const { server, adapter, port } = await startExample()
    const cookie = cookiePair(await request(server).get('/').expect(200))
    expect(adapter.size).toBe(1)
    const visits: (number | null)[] = []
    // Stream for three ttls while the adapter sweeps expired records every 100 ms.
    const stream = await streamUntil(port, cookie, (tick) => {
      visits.push(tick.visits)
      return tick.elapsed > 3 * TTL * 1000
    })
    expect(visits.length).toBeGreaterThan(1)
    expect(new Set(visits)).toEqual(new Set([1]))
    await adapter.sweep()
    expect(adapter.size).toBe(1)
    stream.destroy()
    await request(server).get('/state').set('cookie', cookie).expect(200, { visits: 1 })

    await waitForRecords(adapter, 0) // expires one ttl after the last request
    await request(server).get('/state').set('cookie', cookie).expect(200, { visits: null })
  })
})
