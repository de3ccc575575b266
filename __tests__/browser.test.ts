/**
 * End-to-end in a real browser: Debian's Chromium (headless, through playwright-core) against
 * the example apps, the main one in a child process (memory and Redis), the others in process.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { createApp as createSseApp } from '../examples/sse.js'
import { createApp as createWizardApp } from '../examples/wizard.js'
import { memoryAdapter } from '../lib/index.js'
import { launchChromium } from './support/chromium.js'
import { startExample, type ExampleProcess } from './support/example-process.js'
import { startRedis, type RedisServer } from './support/redis-server.js'

let browser: Browser
let context: BrowserContext
let page: Page
beforeAll(async () => {
  browser = await launchChromium()
})
afterAll(() => browser?.close())
beforeEach(async () => {
  context = await browser.newContext()
  page = await context.newPage()
})
afterEach(() => context?.close())

/** Loads `url` (or reloads the page) and returns the JSON it shows, failing on any error status. */
async function count(url?: string): Promise<number> {
  const response = url === undefined ? await page.reload() : await page.goto(url)
  if (response === null || response.status() !== 200) throw new Error(`GET ${page.url()}: status ${response?.status()}`)
  return ((await response.json()) as { count: number }).count
}

/** The stash cookie the browser holds for `url`. */
async function stashCookie(url: string) {
  const cookie = (await context.cookies(url)).find(({ name }) => name === 'stash')
  if (cookie === undefined) throw new Error(`the browser holds no stash cookie for ${url}`)
  return cookie
}

describe('the example app on memory, in Chromium', () => {
  let app: ExampleProcess
  beforeAll(async () => {
    app = await startExample('app.ts')
  })
  afterAll(() => app?.kill())

  test('the counter survives reloads; the cookie is HttpOnly', async () => {
    expect(await count(`${app.url}/count`)).toBe(1)
    expect(await count()).toBe(2)
    expect(await count()).toBe(3)

    const cookie = await stashCookie(app.url)
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', secure: false, path: '/', domain: '127.0.0.1', expires: -1 })
    // Scripts see the page's other cookies, never the stash one.
    await context.addCookies([{ name: 'visible', value: 'yes', url: app.url }])
    const seenByScripts = await page.evaluate('document.cookie')
    expect(seenByScripts).toBe('visible=yes')
  })

  test('a tampered cookie gets a fresh stash, and leaves the real one intact', async () => {
    expect(await count(`${app.url}/count`)).toBe(1)
    expect(await count()).toBe(2)
    const genuine = await stashCookie(app.url)
    const value = decodeURIComponent(genuine.value) // s:<id>.<mac>
    const dot = value.lastIndexOf('.')
    const flip = (text: string, at: number) => text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1)
    const tampered = [
      flip(value, dot + 1), // signature changed
      flip(value, 2), // ID changed
      value.slice(2, dot), // the bare ID, unsigned
      `s:${value.slice(2, dot)}.`, // empty signature
      'garbage',
    ]
    for (const forged of tampered) {
      await context.addCookies([{ ...genuine, value: encodeURIComponent(forged) }])
      expect({ forged, count: await count() }).toEqual({ forged, count: 1 })
      const issued = await stashCookie(app.url)
      expect(issued.value).not.toBe(encodeURIComponent(forged))
      expect(issued.value).not.toBe(genuine.value)
    }
    await context.addCookies([genuine])
    expect(await count()).toBe(3)
  })
})

describe('the example app on Redis, in Chromium', () => {
  let redis: RedisServer
  let app: ExampleProcess | undefined
  beforeAll(async () => {
    redis = await startRedis()
  })
  afterAll(async () => {
    await app?.kill()
    await redis?.stop()
  })

  test('the counter survives a restart of the app process', async () => {
    const env = { REDIS_URL: redis.url, STASH_SECRET: 'browser test secret' }
    app = await startExample('app.ts', env)
    expect(await count(`${app.url}/count`)).toBe(1)
    expect(await count()).toBe(2)

    const { pid, port } = app
    await app.kill()
    app = await startExample('app.ts', env, port)
    expect(app.pid).not.toBe(pid)
    expect(await count()).toBe(3)
    expect(await count()).toBe(4)
  }, 60_000) // two app start-ups: a bound for a loaded machine
})

/** Serves `app` on a free loopback port for the tests of this describe block; returns its URL. */
function serveInProcess(app: http.RequestListener, stash: { close(): Promise<void> }): () => string {
  const server = http.createServer(app)
  let url = ''
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    await stash.close()
  })
  return () => url
}

describe('the wizard example, in Chromium', () => {
  const { app, stash } = createWizardApp({ secret: 'browser wizard' })
  const url = serveInProcess(app, stash)

  test('plain HTML forms: two steps, a summary that survives a reload, start over', async () => {
    await page.goto(url())
    expect(new URL(page.url()).pathname).toBe('/step/1')
    await page.fill('input[name=name]', 'Ada <Lovelace>')
    await Promise.all([page.waitForURL('**/step/2'), page.click('button[type=submit]')])
    expect(await page.textContent('strong')).toBe('Ada <Lovelace>')
    await page.fill('input[name=address]', "12 St James's Square")
    await Promise.all([page.waitForURL('**/summary'), page.click('button[type=submit]')])
    await page.reload()
    expect([await page.textContent('#name'), await page.textContent('#address')]).toEqual([
      'Ada <Lovelace>',
      "12 St James's Square",
    ])

    await Promise.all([page.waitForURL('**/step/1'), page.click('text=Start over')])
    expect(await page.inputValue('input[name=name]')).toBe('')
    await page.goto(`${url()}summary`)
    expect(new URL(page.url()).pathname).toBe('/step/1')
  })
})

describe('the server-sent events example, in Chromium', () => {
  const TTL = 1
  const adapter = memoryAdapter({ cleanupInterval: 100 })
  const { app, stash } = createSseApp({ adapter, secret: 'browser sse', ttl: TTL, tickInterval: 200 })
  const url = serveInProcess(app, stash)

  test('EventSource receives events, and the stash outlives its ttl while the stream is open', async () => {
    await page.goto(url())
    expect(await page.textContent('#visits')).toBe('1')
    await page.locator('#status', { hasText: /^open$/ }).waitFor()
    // Stream for more than twice the ttl (the adapter sweeps expired records every 100 ms).
    await page.waitForFunction(`Number(document.getElementById('elapsed').textContent) > ${2 * TTL}`)
    await page.click('#check')
    await page.locator('#state', { hasText: /./ }).waitFor()
    expect(await page.textContent('#state')).toBe('The stash is alive: visit 1.')

    // Without the stream, the stash expires one ttl after the last request.
    await page.click('#stop')
    expect(await page.textContent('#status')).toBe('stopped')
    for (const deadline = Date.now() + 5000; adapter.size > 0 && Date.now() < deadline;) {
      await adapter.sweep()
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(adapter.size).toBe(0)
    await page.click('#check')
    await page.locator('#state', { hasText: 'The stash has expired.' }).waitFor()
    await page.reload()
    expect(await page.textContent('#visits')).toBe('1')
  })
})
