/** `req.stash.flash` typed through declaration merging of `StashFlash`, and `reload()`. */
import express from 'express'
import { createStash, type StashFlashMessages, type StashRequest } from 'express-stash'
import { assertType, type Equal } from './helpers.js'

declare module 'express-stash' {
  interface StashFlash {
    error: string
    info: { text: string }
  }
}

const stash = createStash()
const app = express()
app.use(stash)

app.post('/login', async (req, res) => {
  const queued = req.stash.flash('error', 'bad password')
  assertType<Equal<typeof queued, number>>()
  req.stash.flash('error', ['first', 'second'])
  req.stash.flash('info', { text: 'saved' })
  req.stash.flash('info', [{ text: 'one' }, { text: 'two' }])
  const errors = req.stash.flash('error')
  assertType<Equal<typeof errors, string[]>>()
  const infos = req.stash.flash('info')
  assertType<Equal<typeof infos, { text: string }[]>>()
  const all = req.stash.flash()
  assertType<Equal<typeof all, StashFlashMessages>>()
  assertType<Equal<typeof all.error, string[] | undefined>>()
  assertType<Equal<typeof all.info, { text: string }[] | undefined>>()
  const reloaded = req.stash.reload()
  assertType<Equal<typeof reloaded, Promise<void>>>()
  await reloaded

  // @ts-expect-error a key StashFlash does not declare
  req.stash.flash('warning', 'careful')
  // @ts-expect-error reading a key StashFlash does not declare
  req.stash.flash('warning')
  // @ts-expect-error a message of the wrong type
  req.stash.flash('error', 42)
  // @ts-expect-error a message of the wrong shape
  req.stash.flash('info', { title: 'saved' })
  // @ts-expect-error an array of messages of the wrong type
  req.stash.flash('error', [1, 2])
  res.redirect(303, '/login')
})

// A Connect handler reaches the same typed flash through StashRequest.
app.use((req, _res, next) => {
  const { stash } = req as unknown as StashRequest
  assertType<Equal<ReturnType<typeof stash.flash>, StashFlashMessages>>() // the last overload: flash()
  const errors = stash.flash('error')
  assertType<Equal<typeof errors, string[]>>()
  next()
})
