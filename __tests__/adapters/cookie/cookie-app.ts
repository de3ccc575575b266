/**
 * What the cookie adapter's HTTP tests share: a browser-like cookie jar (so a test can keep,
 * alter or replay what a response set), and the shop app they drive: a cart, login with
 * `rotate()` (and remember me), logout with `reset()`.
 */
import express from 'express'
import type { Response } from 'supertest'
import { cookieAdapter, createStash, StashError, type CookieAdapterOptions, type StashOptions } from '../../../lib/index.js'

declare module '../../../lib/types' {
  interface StashData {
    cart: string[]
    memo: string
  }
}

export const SECRET = 'cookie adapter test secret, 32 characters or more'
export const ID = 'stash'
export const SEALED = 'stash.data'

/** The `Set-Cookie` lines of a response. */
export function setCookies(res: Response): string[] {
  const header = res.headers['set-cookie'] as string[] | string | undefined
  return header === undefined ? [] : Array.isArray(header) ? header : [header]
}

/** The `Set-Cookie` line of cookie `name`, if the response has one. */
export function lineOf(res: Response, name: string): string | undefined {
  return setCookies(res).find((line) => line.startsWith(`${name}=`))
}

/** The cookies a browser holds: what each response set replaces, what it cleared goes. */
export class Jar {
  readonly cookies = new Map<string, string>()

  /** Takes what `res` set, and returns it for chaining. */
  take(res: Response): Response {
    for (const line of setCookies(res)) {
      const pair = line.split(';')[0]!
      const name = pair.slice(0, pair.indexOf('='))
      const value = pair.slice(pair.indexOf('=') + 1)
      if (value === '' || /expires=thu, 01 jan 1970/i.test(line)) this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
    return res
  }

  /** The `Cookie` header the browser sends. */
  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ')
  }

  /** A copy of the jar as it is now (to replay later). */
  copy(): Jar {
    const jar = new Jar()
    for (const [name, value] of this.cookies) jar.cookies.set(name, value)
    return jar
  }
}

const errorJson: express.ErrorRequestHandler = (err: StashError, _req, res, _next) => {
  res.status(err.status ?? 500).json({ code: err.code, message: err.message })
}

/** Options of {@link shop}: the stash's, and the cookie adapter's. */
export interface ShopOptions extends StashOptions {
  cookieOptions?: CookieAdapterOptions
}

/**
 * The app of the tests: `POST /cart` (`update()` adds an item), `GET /cart`, `PUT /memo`
 * (assigns a key whose ttl is 1 s), `POST /login` (`rotate()`, remember me on request),
 * `POST /logout` (`reset()`), `GET /stream` (assigns, then streams), `GET /stream-saved`
 * (assigns, `save()`, then streams). Failed writes that cannot reach a response are collected in `errors`.
 */
export function shop({ cookieOptions, ...options }: ShopOptions = {}) {
  const stash = createStash({ secret: SECRET, adapter: cookieAdapter(cookieOptions), ...options })
  const errors: unknown[] = []
  stash.on('error', (err) => errors.push(err))
  const cart = stash.route({ storedKeys: ['cart'], ttl: 3600 })
  const memo = stash.route({ storedKeys: ['memo'], ttl: 1 })
  const app = express()
  app.use(express.json())
  app.use(stash)
  app.post('/cart', cart, async (req, res) => {
    const items = await req.stash.update('cart', (items: string[] = []) => [...items, String(req.body.item)])
    res.json({ cart: items })
  })
  app.get('/cart', cart, memo, (req, res) => void res.json({ cart: req.stash.cart ?? [], memo: req.stash.memo ?? null }))
  app.put('/memo', memo, (req, res) => {
    req.stash.memo = String(req.body.memo)
    res.json({ memo: req.stash.memo })
  })
  app.post('/login', async (req, res) => {
    if (req.body.remember === true) req.stash.cookie.maxAge = 7 * 24 * 3600
    await req.stash.rotate()
    res.json({ ok: true })
  })
  app.post('/logout', async (req, res) => {
    await req.stash.reset()
    res.json({ ok: true })
  })
  app.get('/stream', cart, (req, res) => {
    req.stash.cart = ['streamed']
    res.write('one,')
    res.end('two')
  })
  app.get('/stream-saved', cart, async (req, res) => {
    req.stash.cart = ['saved first']
    await req.stash.save()
    res.write('one,')
    res.end('two')
  })
  app.use(errorJson)
  return { app, stash, errors }
}
