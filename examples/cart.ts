/**
 * A cart on Redis: quantities change with `req.stash.update()`, an atomic read-modify-write
 * against Redis, so concurrent requests (two tabs, double clicks) never lose a change; a fake
 * login calls `req.stash.rotate()` (a new stash ID, same cart: against session fixation). The
 * state survives restarts of the app and is shared by every process on the same Redis.
 *
 *   REDIS_URL=redis://localhost:6379 npm run example:cart     # http://localhost:3000
 *   curl -c jar -b jar -X POST localhost:3000/cart/items/apple                 # {"basket":{"apple":1}}
 *   curl -c jar -b jar -H 'content-type: application/json' -d '{"quantity":-1}' localhost:3000/cart/items/apple
 *   curl -c jar -b jar -H 'content-type: application/json' -d '{"user":"ada"}' localhost:3000/login
 *   curl -c jar -b jar localhost:3000/cart                                     # {"user":"ada","basket":{...}}
 */
import express from 'express'
import { createStash, redisAdapter } from 'express-stash'
import { serveExample, type ExampleApp } from './serve'

declare module 'express-stash' {
  interface StashData {
    /** Quantity per item name. */
    basket: Record<string, number>
    user: string
  }
}

/** Options of the cart example. */
export interface CartOptions {
  /** The Redis to keep carts in, e.g. `redis://localhost:6379`. */
  redisUrl: string
  /** @default process.env.STASH_SECRET or an example secret */
  secret?: string
}

const ITEM = /^[a-z0-9-]{1,40}$/
const MAX_QUANTITY = 99
const MAX_ITEMS = 50

/** Builds the cart app; it listens only when this file is run directly. */
export function createApp({ redisUrl, secret }: CartOptions): ExampleApp & { app: express.Express } {
  const stash = createStash({
    adapter: redisAdapter(redisUrl, { prefix: 'cart-example:' }),
    secret: secret ?? process.env.STASH_SECRET ?? 'example secret: set STASH_SECRET in production',
    storedKeys: ['basket', 'user'],
    ttl: 3600,
  })
  const app = express()
  app.use(express.json({ limit: '1kb' }))
  app.use(stash)

  app.get('/', (_req, res) => {
    res
      .type('text')
      .send(
        'GET /cart · POST /cart/items/:item {"quantity":n} · DELETE /cart/items/:item · POST /login {"user":"..."} · POST /logout\n',
      )
  })

  app.get('/cart', (req, res) => {
    res.json({ user: req.stash.user ?? null, basket: req.stash.basket ?? {} })
  })

  // Adds `quantity` (default 1, negative to remove some) atomically: N concurrent adds give N.
  app.post('/cart/items/:item', async (req, res) => {
    const item = String(req.params.item)
    const quantity: unknown = req.body?.quantity ?? 1
    if (!ITEM.test(item)) return void res.status(400).json({ error: 'item names are 1-40 of a-z, 0-9 and -' })
    if (!Number.isInteger(quantity) || Math.abs(quantity as number) > MAX_QUANTITY) {
      return void res.status(400).json({ error: `quantity must be an integer between -${MAX_QUANTITY} and ${MAX_QUANTITY}` })
    }
    let full = false
    const basket = await req.stash.update('basket', (current = {}) => {
      full = !Object.hasOwn(current, item) && Object.keys(current).length >= MAX_ITEMS
      if (full) return current
      const next = Math.min(MAX_QUANTITY, (Object.hasOwn(current, item) ? current[item]! : 0) + (quantity as number))
      return next > 0 ? { ...current, [item]: next } : withoutItem(current, item)
    })
    if (full) return void res.status(409).json({ error: `a cart holds at most ${MAX_ITEMS} different items` })
    res.json({ basket: basket ?? {} })
  })

  app.delete('/cart/items/:item', async (req, res) => {
    const item = String(req.params.item)
    const basket = await req.stash.update('basket', (current = {}) => withoutItem(current, item))
    res.json({ basket: basket ?? {} })
  })

  // A fake login: whoever posts a name is that user. A real one checks a password first.
  app.post('/login', async (req, res) => {
    const user: unknown = req.body?.user
    if (typeof user !== 'string' || !/^\w{1,40}$/.test(user))
      return void res.status(400).json({ error: 'send {"user": "a name"}' })
    await req.stash.rotate() // a new ID for the new privilege level; the cart comes along
    req.stash.user = user
    res.json({ user, basket: req.stash.basket ?? {} })
  })

  app.post('/logout', async (req, res) => {
    await req.stash.reset()
    res.json({ user: null, basket: {} })
  })

  return { app, stash }
}

/** The basket without `item`; `undefined` (the key is removed) when nothing is left. */
function withoutItem(basket: Record<string, number>, item: string): Record<string, number> | undefined {
  const rest = Object.fromEntries(Object.entries(basket).filter(([name]) => name !== item))
  return Object.keys(rest).length === 0 ? undefined : rest
}

if (require.main === module) {
  const redisUrl = process.env.REDIS_URL
  if (!redisUrl) {
    console.error(`The cart example keeps its state in Redis: set REDIS_URL, e.g.

  REDIS_URL=redis://localhost:6379 npm run example:cart

No Redis yet? Start one with \`redis-server --port 6379\` (Debian: apt-get install redis-server),
or \`docker run --rm -p 6379:6379 redis\`.`)
    process.exit(1)
  }
  serveExample('cart', createApp({ redisUrl }), ` (Redis at ${redisUrl})`)
}
