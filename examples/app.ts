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
import { serveExample, type ExampleApp } from './serve'

declare module 'express-stash' {
  interface StashData {
    count: number
    cart: string[]
  }
}

/** Options of the main example. */
export interface AppOptions {
  /** Keep the state in this Redis instead of memory. @default process.env.REDIS_URL (none: memory) */
  redisUrl?: string
  /** @default process.env.STASH_SECRET or an example secret */
  secret?: string
}

/** Builds the counter-and-cart app; it listens only when this file is run directly. */
export function createApp({ redisUrl, secret }: AppOptions = {}): ExampleApp & { app: express.Express } {
  const stash = createStash({
    adapter: redisUrl ? redisAdapter(redisUrl) : memoryAdapter(),
    secret: secret ?? process.env.STASH_SECRET ?? 'example secret: set STASH_SECRET in production',
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

  app.post('/cart', cart, async (req, res) => {
    const item: unknown = req.body?.item
    if (typeof item !== 'string' || item === '') return void res.status(400).json({ error: 'send {"item": "a name"}' })
    // update() is atomic in the store: parallel requests (two tabs, a double click) keep every item.
    const items = await req.stash.update('cart', (items = []) => [...items, item])
    res.status(201).json({ cart: items })
  })

  app.delete('/cart', cart, (req, res) => {
    delete req.stash.cart
    res.json({ cart: [] })
  })

  return { app, stash }
}

if (require.main === module) {
  const redisUrl = process.env.REDIS_URL || undefined
  serveExample('counter', createApp({ redisUrl }), ` (${redisUrl ? `Redis at ${redisUrl}` : 'memory'})`)
}
