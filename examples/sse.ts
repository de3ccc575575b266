/**
 * Server-sent events that keep the stash alive. The page counts the visitor's visits in the
 * stash (ttl 10 s, to see it work) and opens an EventSource on `/events`, a stream that stays
 * open for as long as the page does. While a response is open, express-stash slides the stash's
 * expiry every ttl/4 by itself, so the visit count outlives its ttl for as long as the stream
 * runs; close the stream, wait past the ttl, and the stash is gone.
 *
 *   npm run example:sse               # http://localhost:3000 (PORT to change)
 */
import express from 'express'
import { createStash, type StashAdapter } from 'express-stash'
import { htmlPage } from './html'
import { serveExample, type ExampleApp } from './serve'

declare module 'express-stash' {
  interface StashData {
    visits: number
  }
}

/** Options of the server-sent events example (tests shorten the times). */
export interface SseOptions {
  /** @default memoryAdapter() */
  adapter?: StashAdapter
  /** @default process.env.STASH_SECRET or an example secret */
  secret?: string
  /** Seconds of inactivity before the stash expires. @default 10 */
  ttl?: number
  /** Milliseconds between two events of the stream. @default 1000 */
  tickInterval?: number
}

/** One event of the `/events` stream. */
export interface Tick {
  /** Milliseconds since the stream opened. */
  elapsed: number
  /** The visit count the stream's request loaded (null: no stash). */
  visits: number | null
}

/** Builds the SSE app; it listens only when this file is run directly. */
export function createApp(options: SseOptions = {}): ExampleApp & { app: express.Express } {
  const ttl = options.ttl ?? 10
  const tickInterval = options.tickInterval ?? 1000
  const stash = createStash({
    adapter: options.adapter,
    secret: options.secret ?? process.env.STASH_SECRET ?? 'example secret: set STASH_SECRET in production',
    storedKeys: ['visits'],
    ttl,
  })
  const app = express()
  app.use(stash)
  const streams = new Set<express.Response>()

  app.get('/', (req, res) => {
    req.stash.visits = (req.stash.visits ?? 0) + 1
    res.send(page(req.stash.visits, ttl))
  })

  // Reads the stash without changing it (the read itself slides the expiry, as every load does).
  app.get('/state', (req, res) => {
    res.json({ visits: req.stash.visits ?? null })
  })

  app.get('/events', (req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' })
    const opened = Date.now()
    const send = (): void => {
      const tick: Tick = { elapsed: Date.now() - opened, visits: req.stash.visits ?? null }
      res.write(`event: tick\ndata: ${JSON.stringify(tick)}\n\n`)
    }
    send()
    const timer = setInterval(send, tickInterval)
    streams.add(res)
    res.once('close', () => {
      clearInterval(timer)
      streams.delete(res)
    })
  })

  // At shutdown: the streams end (the page's EventSource then says "reconnecting").
  const endStreams = (): void => streams.forEach((res) => res.end())
  return { app, stash, endStreams }
}

function page(visits: number, ttl: number): string {
  return htmlPage(
    'Server-sent events',
    `<h1>Server-sent events keep the stash alive</h1>
<p>Visit <strong id="visits">${visits}</strong> of this browser (stored in the stash, ttl ${ttl} s).</p>
<p>Stream: <span id="status">connecting</span>, open for <span id="elapsed">0</span> s
(<span id="beyond">not yet</span> beyond the ttl).</p>
<p><button id="check" type="button">Check the stash</button> <button id="stop" type="button">Stop the stream</button></p>
<p id="state" aria-live="polite"></p>
<p>While the stream is open the stash stays alive however long you wait. Stop it, wait more
than ${ttl} s, and check again: the stash has expired, and a reload starts again at visit 1.</p>
<script>
const ttl = ${ttl}
const $ = (id) => document.getElementById(id)
const events = new EventSource('/events')
events.onopen = () => ($('status').textContent = 'open')
events.onerror = () => ($('status').textContent = events.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting')
events.addEventListener('tick', (event) => {
  const tick = JSON.parse(event.data)
  const seconds = Math.floor(tick.elapsed / 1000)
  $('elapsed').textContent = String(seconds)
  $('beyond').textContent = seconds > ttl ? (seconds - ttl) + ' s' : 'not yet'
})
$('stop').onclick = () => {
  events.close()
  $('status').textContent = 'stopped'
}
$('check').onclick = async () => {
  const { visits } = await (await fetch('/state')).json()
  $('state').textContent = visits === null ? 'The stash has expired.' : 'The stash is alive: visit ' + visits + '.'
}
</script>`,
  )
}

if (require.main === module) serveExample('server-sent events', createApp())
