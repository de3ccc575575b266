/**
 * Flash messages and `reload()` on the cookie adapter, over HTTP: the messages ride in the sealed
 * cookie, are shown once and are gone after; a route without stored keys reads them too; reload()
 * gives back what the request's own cookie holds, dropping unsaved changes.
 */
import express from 'express'
import request from 'supertest'
import { cookieAdapter, createStash } from '../../../lib/index.js'
import { Jar, SECRET } from './cookie-app.js'

function flashApp() {
  const stash = createStash({ secret: SECRET, adapter: cookieAdapter(), storedKeys: ['memo'] })
  const app = express().use(express.urlencoded({ extended: false }))
  app.post('/login', stash, (req, res) => {
    req.stash.flash('error', 'wrong password')
    req.stash.flash('error', 'try again')
    res.redirect('/login')
  })
  app.get('/login', stash, (req, res) => void res.json({ error: req.stash.flash('error') }))
  app.get('/bare', stash.route({}), (req, res) => void res.json({ all: req.stash.flash() }))
  app.post('/memo', stash, async (req, res) => {
    req.stash.memo = 'saved'
    await req.stash.save()
    req.stash.memo = 'unsaved'
    await req.stash.reload()
    res.json({ memo: req.stash.memo })
  })
  return { app, stash }
}

it('carries flash messages in the sealed cookie: shown once, then gone', async () => {
  const { app, stash } = flashApp()
  const jar = new Jar()
  jar.take(await request(app).post('/login').expect(302))
  const shown = jar.take(await request(app).get('/login').set('Cookie', jar.header()).expect(200))
  expect(shown.body).toEqual({ error: ['wrong password', 'try again'] })
  await request(app).get('/login').set('Cookie', jar.header()).expect(200, { error: [] })
  await stash.close()
})

it('lets a route without stored keys read what waits, and reload() returns to what the cookie holds', async () => {
  const { app, stash } = flashApp()
  const jar = new Jar()
  jar.take(await request(app).post('/login').expect(302))
  jar.take(
    await request(app)
      .get('/bare')
      .set('Cookie', jar.header())
      .expect(200, { all: { error: ['wrong password', 'try again'] } }),
  )
  await request(app).get('/login').set('Cookie', jar.header()).expect(200, { error: [] })
  await request(app).post('/memo').set('Cookie', jar.header()).expect(200, { memo: 'saved' })
  await stash.close()
})
