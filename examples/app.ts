/**
 * The express-stash example: a per-client counter and a small cart with its own TTL, on the
 * embedded memory adapter, or on Redis when REDIS_URL is set.
 *
 *   npm run example                                  # http://localhost:3000, memory
 *   REDIS_URL=redis://localhost:6379 npm run example # the same app on Redis
 *   curl -c jar -b jar localhost:3000/count
 *
 * PORT (default 3000; 0 for any free port) and HOST (default: every interface) choose where it listens.
 */
import express from 'express'
import { createStash, memoryAdapter, redisAdapter } from 'express-stash'

declare module 'express-stash' {
  interface StashData {
    count: number
    cart: string[]
  }
}

const redisUrl = process.env.REDIS_URL
const stash = createStash({
  adapter: redisUrl ? redisAdapter(redisUrl) : memoryAdapter(),
  secret: process.env.STASH_SECRET ?? 'example secret: set STASH_SECRET in production',
  storedKeys: ['count'], // persisted on every route
  ttl: 300, // seconds of inactivity
})

const app = express()
app.use(express.json())
app.use(stash)

app.get('/', (_req, res) => {
  res.type('text').send('GET /count · GET /cart · POST /cart {"item":"..."} · DELETE /cart\n')
})

app.get('/count', (req, res) => {
  req.stash.count = (req.stash.count ?? 0) + 1
  res.json({ count: req.stash.count })
})

// The cart lives an hour: its keys and TTL are declared on these routes only.
const cart = stash.route({ storedKeys: ['cart'], ttl: 3600 })

app.get('/cart', cart, (req, res) => {
  res.json({ cart: req.stash.cart ?? [] })
})

app.post('/cart', cart, (req, res) => {
  const item: unknown = req.body?.item
  if (typeof item !== 'string' || item === '') return void res.status(400).json({ error: 'send {"item": "a name"}' })
  req.stash.cart = [...(req.stash.cart ?? []), item]
  res.status(201).json({ cart: req.stash.cart })
})

app.delete('/cart', cart, (req, res) => {
  delete req.stash.cart
  res.json({ cart: [] })
})

const port = Number(process.env.PORT ?? 3000) // 0: any free port
const host = process.env.HOST || undefined // default: every interface
const onListening = (): void => {
  const address = server.address()
  const bound = typeof address === 'object' && address !== null ? address.port : port
  console.log(
    `express-stash example listening on http://${host ?? 'localhost'}:${bound} (${redisUrl ? `Redis at ${redisUrl}` : 'memory'})`,
  )
}
const server = host === undefined ? app.listen(port, onListening) : app.listen(port, host, onListening)

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    server.close()
    void stash.close()
  })
}
