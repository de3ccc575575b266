/**
 * A multi-step form (wizard) with plain server-rendered HTML forms: step 1 stores `name`, step 2
 * `address`, a summary shows both, and "Start over" resets the stash. Each route declares its
 * own stored keys and ttl: the name alone is kept for a short while (an abandoned step 1 soon
 * expires); step 2's route declares the name too, with its longer ttl, so once the visitor
 * reaches it the name is kept as long as the address.
 *
 *   npm run example:wizard            # http://localhost:3000 (PORT to change)
 */
import express from 'express'
import { createStash, type StashAdapter } from 'express-stash'
import { escapeHtml, htmlPage } from './html'
import { serveExample, type ExampleApp } from './serve'

declare module 'express-stash' {
  interface StashData {
    name: string
    address: string
  }
}

/** Options of the wizard example (tests shorten the ttls). */
export interface WizardOptions {
  /** @default memoryAdapter() */
  adapter?: StashAdapter
  /** @default process.env.STASH_SECRET or an example secret */
  secret?: string
  /** Seconds step 1's name is kept when the visitor goes no further. @default 120 */
  nameTtl?: number
  /** Seconds the name and the address are kept from step 2 on. @default 1800 */
  wizardTtl?: number
}

const MAX_LENGTH = 200

/** Builds the wizard app; it listens only when this file is run directly. */
export function createApp(options: WizardOptions = {}): ExampleApp & { app: express.Express } {
  const stash = createStash({
    adapter: options.adapter,
    secret: options.secret ?? process.env.STASH_SECRET ?? 'example secret: set STASH_SECRET in production',
  })
  const step1 = stash.route({ storedKeys: ['name'], ttl: options.nameTtl ?? 120 })
  const later = stash.route({ storedKeys: ['name', 'address'], ttl: options.wizardTtl ?? 1800 })
  const app = express()
  app.use(express.urlencoded({ extended: false, limit: '4kb' }))

  app.get('/', (_req, res) => res.redirect(303, '/step/1'))

  app.get('/step/1', step1, (req, res) => {
    res.send(nameForm(req.stash.name ?? '', req.query.expired === '1' ? 'Your answers expired: please start again.' : ''))
  })
  app.post('/step/1', step1, (req, res) => {
    const name = field(req.body, 'name')
    if (name === undefined) return void res.status(400).send(nameForm('', `Please enter a name (1–${MAX_LENGTH} characters).`))
    req.stash.name = name
    res.redirect(303, '/step/2')
  })

  app.get('/step/2', later, (req, res) => {
    if (req.stash.name === undefined) return res.redirect(303, '/step/1?expired=1')
    res.send(addressForm(req.stash.name, req.stash.address ?? ''))
  })
  app.post('/step/2', later, (req, res) => {
    if (req.stash.name === undefined) return res.redirect(303, '/step/1?expired=1')
    const address = field(req.body, 'address')
    if (address === undefined) {
      return void res.status(400).send(addressForm(req.stash.name, '', `Please enter an address (1–${MAX_LENGTH} characters).`))
    }
    req.stash.address = address
    res.redirect(303, '/summary')
  })

  app.get('/summary', later, (req, res) => {
    const { name, address } = req.stash
    if (name === undefined) return res.redirect(303, '/step/1?expired=1')
    if (address === undefined) return res.redirect(303, '/step/2')
    res.send(summary(name, address))
  })

  app.post('/reset', stash.route(), async (req, res) => {
    await req.stash.reset()
    res.redirect(303, '/step/1')
  })

  return { app, stash }
}

/** A trimmed, non-empty form field of at most MAX_LENGTH characters, or undefined. */
function field(body: unknown, name: string): string | undefined {
  const value: unknown = (body as Record<string, unknown> | undefined)?.[name]
  if (typeof value !== 'string') return undefined
  const trimmed = value.trim()
  return trimmed === '' || trimmed.length > MAX_LENGTH ? undefined : trimmed
}

const error = (message: string): string => (message === '' ? '' : `<p class="error" role="alert">${escapeHtml(message)}</p>`)

function nameForm(name: string, message = ''): string {
  return htmlPage(
    'Step 1 of 2',
    `<h1>Step 1 of 2: your name</h1>${error(message)}
<form method="post" action="/step/1">
<label>Name <input name="name" value="${escapeHtml(name)}" maxlength="${MAX_LENGTH}" required autofocus></label>
<button type="submit">Next</button>
</form>`,
  )
}

function addressForm(name: string, address: string, message = ''): string {
  return htmlPage(
    'Step 2 of 2',
    `<h1>Step 2 of 2: your address</h1><p>Hello, <strong>${escapeHtml(name)}</strong>.</p>${error(message)}
<form method="post" action="/step/2">
<label>Address <input name="address" value="${escapeHtml(address)}" maxlength="${MAX_LENGTH}" required autofocus></label>
<button type="submit">Next</button>
</form>
<p><a href="/step/1">Back</a></p>`,
  )
}

function summary(name: string, address: string): string {
  return htmlPage(
    'Summary',
    `<h1>Summary</h1>
<dl><dt>Name</dt><dd id="name">${escapeHtml(name)}</dd><dt>Address</dt><dd id="address">${escapeHtml(address)}</dd></dl>
<p><a href="/step/1">Edit name</a> · <a href="/step/2">Edit address</a></p>
<form method="post" action="/reset"><button type="submit">Start over</button></form>`,
  )
}

if (require.main === module) serveExample('wizard', createApp())
