/**
 * The complete app of the README, to paste into an app of your own: a cart, a login with
 * "remember me", a logout, an error handler, a boot check and a clean shutdown. In memory, or on
 * Redis when REDIS_URL is set.
 *
 *   npm run example:shop    # http://localhost:3000 (PORT to change)
 *   curl -c jar -b jar -H 'content-type: application/json' -d '{"item":"apple"}' localhost:3000/cart
 *   curl -c jar -b jar -H 'content-type: application/json' -d '{"user":"ada","remember":true}' localhost:3000/login
 *   curl -c jar -b jar localhost:3000/cart     # {"user":"ada","cart":["apple"]}
 */
import type { AddressInfo } from 'node:net'
import express, { type ErrorRequestHandler } from 'express'
import { createStash, memoryAdapter, redisAdapter, StashError } from 'express-stash'

declare module 'express-stash' {
  interface StashData {
    user: string
    cart: string[]
  }
}

const stash = createStash({
  secret: process.env.STASH_SECRET, // required in production (32+ characters); a warning and a development secret elsewhere
  adapter: process.env.REDIS_URL ? redisAdapter(process.env.REDIS_URL) : memoryAdapter(),
  storedKeys: ['user'], // kept on every route
  ttl: 7 * 24 * 3600, // a week of inactivity
})

const app = express()
app.use(express.json())
app.use(stash)

// The cart is kept on the routes that declare it, for an hour of inactivity.
const cart = stash.route({ storedKeys: ['cart'], ttl: 3600 })

app.get('/cart', cart, (req, res) => {
  res.json({ user: req.stash.user ?? null, cart: req.stash.cart ?? [] })
})

app.post('/cart', cart, async (req, res) => {
  const item: unknown = req.body?.item
  if (typeof item !== 'string' || item === '') return void res.status(400).json({ error: 'send {"item": "..."}' })
  // update() is atomic in the store: two tabs adding at once keep both items.
  const items = await req.stash.update('cart', (items = []) => [...items, item])
  res.status(201).json({ cart: items })
})

app.post('/login', async (req, res) => {
  const user: unknown = req.body?.user
  if (typeof user !== 'string' || !/^\w{1,40}$/.test(user)) return void res.status(400).json({ error: 'send {"user": "..."}' })
  // Check the password first. Then a new stash ID: an ID planted before the login is worthless.
  await req.stash.rotate()
  req.stash.user = user
  if (req.body?.remember === true) req.stash.cookie.maxAge = 7 * 24 * 3600 // the cookie survives browser restarts
  res.json({ user })
})

app.post('/logout', async (req, res) => {
  await req.stash.reset() // deletes the stash and clears the cookie
  res.json({ user: null })
})

// Store failures arrive here: a 503 StashUnavailableError when the store is down.
const onError: ErrorRequestHandler = (err, _req, res, _next) => {
  const status = err instanceof StashError ? err.status : 500
  if (status >= 500) console.error(err)
  res.status(status).json({ error: status === 503 ? 'try again in a moment' : 'something went wrong' })
}
app.use(onError)

// A wrong Redis URL or password fails here, at boot, instead of at the first request.
stash.ready().then(
  () => {
    const server = app.listen(Number(process.env.PORT ?? 3000), () => {
      console.log(`listening on http://localhost:${(server.address() as AddressInfo).port}`)
    })
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        server.close(() => void stash.close()) // then nothing is left running: the process exits
        server.closeIdleConnections()
      })
    }
  },
  (err: unknown) => {
    console.error(err)
    process.exitCode = 1
    void stash.close()
  },
)
