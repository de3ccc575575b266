/**
 * The README's complete app (examples/shop.ts), run as a user runs it: its own process, real
 * HTTP, a cookie jar per browser. Anonymous cart, login with remember me, the old cookie
 * worthless, logout; a wrong Redis fails at boot.
 */
import { findFreePort } from '../support/redis-process.js'
import { launchExample, type LaunchedExample } from '../support/example-process.js'

let shop: LaunchedExample | undefined
afterEach(() => shop?.kill())

/** A browser with one cookie jar (the stash cookie only). */
function browser(base: string) {
  let cookie: string | undefined
  const send = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(base + path, {
      method,
      headers: { ...(cookie ? { cookie } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const line = res.headers.getSetCookie().find((l) => l.startsWith('stash='))
    if (line !== undefined) cookie = line.split(';')[0]!.endsWith('=') ? undefined : line.split(';')[0]
    return { status: res.status, body: await res.json(), setCookie: line }
  }
  return { send, cookie: () => cookie, use: (value: string | undefined) => void (cookie = value) }
}

test('anonymous cart, login with remember me keeps it under a new cookie, the old one is worthless, logout ends it', async () => {
  shop = await launchExample('shop.ts', { sources: true })
  const ada = browser(shop.url)
  expect(await ada.send('POST', '/cart', { item: 'apple' })).toMatchObject({ status: 201, body: { cart: ['apple'] } })
  const before = ada.cookie()
  const login = await ada.send('POST', '/login', { user: 'ada', remember: true })
  expect(login).toMatchObject({ status: 200, body: { user: 'ada' } })
  expect(login.setCookie).toMatch(/Max-Age=604800/)
  expect(ada.cookie()).not.toBe(before)
  expect(await ada.send('GET', '/cart')).toMatchObject({ body: { user: 'ada', cart: ['apple'] } })

  const attacker = browser(shop.url)
  attacker.use(before) // the ID from before the login
  expect(await attacker.send('GET', '/cart')).toMatchObject({ body: { user: null, cart: [] } })

  expect(await ada.send('POST', '/logout')).toMatchObject({ status: 200, body: { user: null } })
  expect(ada.cookie()).toBeUndefined()
  expect(await ada.send('GET', '/cart')).toMatchObject({ body: { user: null, cart: [] } })
  expect(await ada.send('POST', '/login', { user: '' })).toMatchObject({ status: 400 })
})

test('an unreachable Redis fails at boot with a clear error and exit code 1', async () => {
  const port = await findFreePort()
  await expect(launchExample('shop.ts', { sources: true, env: { REDIS_URL: `redis://127.0.0.1:${port}` } })).rejects.toThrow(
    /exited \(code 1.*\)[\s\S]*ERR_STASH_UNAVAILABLE|exited \(code 1[\s\S]*ECONNREFUSED/,
  )
}, 20_000)
