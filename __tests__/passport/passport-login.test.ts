/**
 * passport-local on `req.stash` alone (`stashSession()`, no express-session), over HTTP: login,
 * the protected route, wrong passwords, session fixation, logout and a replayed cookie,
 * `keepSessionInfo`, the login's ttl; on the memory adapter and on a real Redis.
 */
import { randomBytes } from 'node:crypto'
import request from 'supertest'
import {
  createStash,
  memoryAdapter,
  redisAdapter,
  type StashAdapter,
  type StashMiddleware,
  type StashOptions,
} from '../../lib/index.js'
import { readStash } from '../../lib/testing/index.js'
import { cookiePair, idOf, noStashCookie, setCookie, sleep } from '../support/http.js'
import { useRedis } from '../support/redis-client.js'
import { deleteAccount, PASSWORDS, passportApp, type PassportAppOptions } from './passport-app.js'

const redis = useRedis()
const ADAPTERS: [string, () => StashAdapter][] = [
  ['memory', () => memoryAdapter()],
  ['redis', () => redisAdapter({ client: redis().client, prefix: `passport:${randomBytes(6).toString('base64url')}:` })],
]

const form = (username: string, password = PASSWORDS[username]!) => ({ username, password })

describe.each(ADAPTERS)('passport-local on req.stash (%s)', (_name, makeAdapter) => {
  const opened: StashMiddleware[] = []
  afterAll(() => Promise.all(opened.map((stash) => stash.close())))

  function setup(options: PassportAppOptions = {}, stashOptions: StashOptions = {}) {
    const stash = createStash({ secret: 'passport test secret', adapter: makeAdapter(), storedKeys: ['visits'], ...stashOptions })
    opened.push(stash)
    return { stash, app: passportApp(stash, options) }
  }

  /** Logs in with `cookie` (if any) and returns the login's stash cookie. */
  async function login(app: Parameters<typeof request>[0], cookie?: string, name = 'ada'): Promise<string> {
    const req = request(app).post('/login').type('form').send(form(name))
    const res = await (cookie === undefined ? req : req.set('Cookie', cookie)).expect(200, { user: { id: name } })
    return cookiePair(res)
  }

  it('logs in with the right password: the user on later requests, req.isAuthenticated(), the login in the store', async () => {
    const { app, stash } = setup()
    await request(app).get('/me').expect(401, { authenticated: false })
    const cookie = await login(app)
    await request(app)
      .get('/me')
      .set('Cookie', cookie)
      .expect(200, { authenticated: true, user: { id: 'ada' } })
    expect(await readStash(stash, cookie)).toEqual({ passport: { user: 'ada' } })
    await request(app).get('/me').expect(401) // another client
  })

  it('a wrong password or an unknown user gets 401: no login, no cookie, the visitor keeps the stash', async () => {
    const { app, stash } = setup()
    const visitor = cookiePair(await request(app).get('/visit').expect(200, { visits: 1 }))
    for (const attempt of [form('ada', 'wrong'), form('bob', PASSWORDS.ada), form('mallory', 'x')]) {
      await request(app).post('/login').type('form').set('Cookie', visitor).send(attempt).expect(noStashCookie).expect(401)
    }
    await request(app).get('/me').set('Cookie', visitor).expect(401, { authenticated: false, visits: 1 })
    expect(await readStash(stash, visitor)).toEqual({ visits: 1 })
  })

  it('session fixation: a stash ID planted before the login is worthless after it, and the data is dropped', async () => {
    const { app, stash } = setup()
    // The attacker gets a genuine stash cookie and plants it in the victim's browser.
    const planted = cookiePair(await request(app).get('/visit').expect(200, { visits: 1 }))
    const victim = await login(app, planted)
    expect(idOf(victim)).not.toBe(idOf(planted))
    await request(app)
      .get('/me')
      .set('Cookie', victim)
      .expect(200, { authenticated: true, user: { id: 'ada' } }) // regenerate: the visit count is not carried over
    // The attacker's cookie reaches neither the login nor anything else: its record is gone.
    expect(await readStash(stash, planted)).toBeUndefined()
    await request(app).get('/me').set('Cookie', planted).expect(401, { authenticated: false })
    const fresh = await request(app).get('/visit').set('Cookie', planted).expect(200, { visits: 1 })
    expect(idOf(cookiePair(fresh))).not.toBe(idOf(planted))
  })

  it('logging in again (as someone else, without logout) issues another ID and ends the first login', async () => {
    const { app } = setup()
    const ada = await login(app)
    const bob = await login(app, ada, 'bob')
    expect(idOf(bob)).not.toBe(idOf(ada))
    await request(app)
      .get('/me')
      .set('Cookie', bob)
      .expect(200, { authenticated: true, user: { id: 'bob' } })
    await request(app).get('/me').set('Cookie', ada).expect(401)
  })

  it('logout: req.logout(cb) ends the login and clears the cookie; the logged-in cookie replayed gets no user', async () => {
    const { app, stash } = setup()
    const cookie = await login(app)
    const logout = await request(app).post('/logout').set('Cookie', cookie).expect(200, { authenticated: false })
    expect(setCookie(logout)).toMatch(/^stash=;.*Expires=Thu, 01 Jan 1970/)
    await request(app).get('/me').set('Cookie', cookie).expect(401, { authenticated: false })
    expect(await readStash(stash, cookie)).toBeUndefined()
    expect(await stash.length()).toBe(0)
  })

  it('keepSessionInfo: true keeps the data through login and logout, each under a new ID', async () => {
    const { app, stash } = setup({ keepSessionInfo: true })
    const agent = request.agent(app)
    const anonymous = cookiePair(await agent.get('/visit').expect(200, { visits: 1 }))
    await agent.get('/visit').expect(200, { visits: 2 })
    await agent.get('/visit').expect(200, { visits: 3 })
    const loggedIn = cookiePair(await agent.post('/login').type('form').send(form('ada')).expect(200))
    expect(idOf(loggedIn)).not.toBe(idOf(anonymous))
    await agent.get('/me').expect(200, { authenticated: true, user: { id: 'ada' }, visits: 3 })
    expect(await readStash(stash, anonymous)).toBeUndefined()

    const logout = await agent.post('/logout').expect(200, { authenticated: false })
    const after = cookiePair(logout)
    expect(idOf(after)).not.toBe(idOf(loggedIn))
    await agent.get('/me').expect(401, { authenticated: false, visits: 3 })
    expect(await readStash(stash, after)).toEqual({ passport: {}, visits: 3 })
    await request(app).get('/me').set('Cookie', loggedIn).expect(401, { authenticated: false })
  })

  it('works mounted after app.use(stash) too, with passport in the instance storedKeys', async () => {
    const { app } = setup({ stashFirst: true }, { storedKeys: ['visits', 'passport'] })
    const cookie = await login(app)
    await request(app)
      .get('/me')
      .set('Cookie', cookie)
      .expect(200, { authenticated: true, user: { id: 'ada' } })
  })

  it('a user whose account is gone is logged out on the next request (deserializeUser gives false)', async () => {
    const { app, stash } = setup()
    const cookie = await login(app, undefined, 'bob')
    const restore = deleteAccount('bob')
    try {
      await request(app).get('/me').set('Cookie', cookie).expect(401)
      expect(await readStash(stash, cookie)).toEqual({ passport: {} })
    } finally {
      restore()
    }
  })

  it("the login lives as long as stashSession's ttl of inactivity", async () => {
    const { app } = setup({ session: { ttl: 1 } })
    const cookie = await login(app)
    await sleep(600)
    await request(app).get('/me').set('Cookie', cookie).expect(200) // slides the login by 1 s
    await sleep(600)
    await request(app).get('/me').set('Cookie', cookie).expect(200)
    await sleep(1300)
    await request(app).get('/me').set('Cookie', cookie).expect(401)
  })
})
