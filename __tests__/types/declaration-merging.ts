/** `req.stash` typed through declaration merging of `StashData`, in Express and Connect handlers. */
import connect from 'connect'
import express from 'express'
import { createStash, type Stash, type StashRequest } from 'express-stash'
import { assertType, type Equal } from './helpers.js'

declare module 'express-stash' {
  interface StashData {
    count: number
    cart: { sku: string; qty: number }[]
  }
}

const stash = createStash({ storedKeys: ['count'] })
const app = express()
app.use(stash)

app.get('/count', stash.route({ storedKeys: ['cart'], ttl: 60 }), async (req, res) => {
  assertType<Equal<typeof req.stash, Stash>>()
  assertType<Equal<typeof req.stash.count, number | undefined>>()
  assertType<Equal<typeof req.stash.cart, { sku: string; qty: number }[] | undefined>>()
  req.stash.count = (req.stash.count ?? 0) + 1
  req.stash.cart = [{ sku: 'a', qty: 1 }]
  delete req.stash.cart
  const next = await req.stash.update('count', (n) => (n ?? 0) + 1)
  assertType<Equal<typeof next, number | undefined>>()
  await req.stash.save()
  assertType<Equal<typeof req.stash.available, boolean>>()

  // @ts-expect-error a key StashData does not declare
  req.stash.coutn = 1
  // @ts-expect-error reading an undeclared key
  void req.stash.theme
  // @ts-expect-error a value of the wrong type
  req.stash.count = '1'
  // @ts-expect-error a value of the wrong shape
  req.stash.cart = [{ sku: 'a' }]
  // @ts-expect-error update() of an undeclared key
  void req.stash.update('nope', () => 1)
  // @ts-expect-error update() returning the wrong type
  void req.stash.update('count', () => 'one')
  // @ts-expect-error methods are read from the stash, not replaced
  req.stash.available = false
  res.json(req.stash.count)
})

// @ts-expect-error storedKeys of createStash are keys of StashData
createStash({ storedKeys: ['counts'] })
// @ts-expect-error storedKeys of route() are keys of StashData
stash.route({ storedKeys: ['carts'] })
// @ts-expect-error an option createStash does not have
createStash({ storedkeys: ['count'] })
// @ts-expect-error ttl is a number of seconds
stash.route({ ttl: '1h' })

// Connect hands plain IncomingMessage objects: StashRequest adds the typed stash.
connect()
  .use(stash)
  .use((req, _res, next) => {
    const { stash } = req as StashRequest
    assertType<Equal<typeof stash.count, number | undefined>>()
    // @ts-expect-error a value of the wrong type
    stash.count = 'two'
    next()
  })
