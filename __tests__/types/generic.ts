/**
 * `createStash<Data>()`: the generic types the instance (`route()` keys, `update()`), but a
 * global `req.stash` cannot follow it, so its handlers take `StashRequest<Data, Request>`.
 */
import express, { type Request, type Response } from 'express'
import { createStash, type Stash, type StashDataOf, type StashRequest } from 'express-stash'
import { assertType, type Equal } from './helpers.js'

interface Preferences {
  theme: 'dark' | 'light'
  fontSize: number
}

const prefs = createStash<Preferences>({ storedKeys: ['theme'] })
assertType<Equal<StashDataOf<typeof prefs>, Preferences>>()
prefs.route({ storedKeys: ['fontSize'] })
// @ts-expect-error a key Preferences does not declare
prefs.route({ storedKeys: ['font'] })
// @ts-expect-error a key Preferences does not declare
createStash<Preferences>({ storedKeys: ['colour'] })

const app = express()
app.get('/prefs', prefs, (req: StashRequest<Preferences, Request>, res: Response) => {
  assertType<Equal<typeof req.stash, Stash<Preferences>>>()
  assertType<Equal<typeof req.stash.theme, 'dark' | 'light' | undefined>>()
  req.stash.theme = 'dark'
  req.stash.fontSize = 14
  void req.query // still express's request
  // @ts-expect-error a value outside the union
  req.stash.theme = 'blue'
  // @ts-expect-error a value of the wrong type
  req.stash.fontSize = '14px'
  // @ts-expect-error a key Preferences does not declare
  req.stash.count = 1
  // @ts-expect-error update() of an undeclared key
  void req.stash.update('font', () => 1)
  res.json(req.stash)
})

// The same through the instance's type.
app.post('/prefs', prefs, (req: StashRequest<StashDataOf<typeof prefs>, Request>, res: Response) => {
  req.stash.fontSize = (req.stash.fontSize ?? 12) + 1
  res.end()
})
