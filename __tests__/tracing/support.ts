/**
 * Helpers of the tracing tests: a subscriber that records every event of the two tracing
 * channels (`express-stash:load`, `express-stash:commit`), and a small Express app.
 * @module
 */
import '../support/stash-data.js'
import { tracingChannel } from 'node:diagnostics_channel'
import express from 'express'
import {
  createStash,
  type StashCommitContext,
  type StashLoadContext,
  type StashMiddleware,
  type StashOptions,
} from 'express-stash'

/** The events of a TracingChannel, in the order Node defines them. */
export const EVENTS = ['start', 'end', 'asyncStart', 'asyncEnd', 'error'] as const

/** One event a subscriber received: the channel, the event, and the context as it was then. */
export interface Published {
  channel: 'load' | 'commit'
  event: (typeof EVENTS)[number]
  /** The context object itself: every event of one operation carries the same one. */
  context: StashLoadContext | StashCommitContext
  /** A copy of the context as it was at this event. */
  seen: Record<string, unknown>
}

/** Subscribes to every event of both channels and records them, until `stop()`. */
export function recordEvents(): { events: Published[]; stop(): void; operations(channel: Published['channel']): Published[][] } {
  const events: Published[] = []
  const handlers = (channel: Published['channel']) =>
    Object.fromEntries(
      EVENTS.map((event) => [
        event,
        (context: StashLoadContext | StashCommitContext) => events.push({ channel, event, context, seen: { ...context } }),
      ]),
    ) as never
  const load = handlers('load')
  const commit = handlers('commit')
  tracingChannel('express-stash:load').subscribe(load)
  tracingChannel('express-stash:commit').subscribe(commit)
  return {
    events,
    stop() {
      tracingChannel('express-stash:load').unsubscribe(load)
      tracingChannel('express-stash:commit').unsubscribe(commit)
    },
    /** The events of each operation of `channel`, grouped by their context, in the order they started. */
    operations(channel) {
      const groups = new Map<object, Published[]>()
      for (const published of events.filter((one) => one.channel === channel)) {
        groups.set(published.context, [...(groups.get(published.context) ?? []), published])
      }
      return [...groups.values()]
    },
  }
}

/** The event names of one operation. */
export const namesOf = (operation: Published[]): string[] => operation.map((published) => published.event)

/**
 * An app on a stash storing `count` (and `other` on the `/both` routes): `GET /count` increments
 * it, `GET /peek` reads it, `POST /drop` removes it, `POST /update` increments it with `update()`.
 * Errors answer `{ code }` with their status.
 */
export function counterApp(options: StashOptions = {}, opened: StashMiddleware[] = []) {
  const stash = createStash({ secret: 'tracing test secret', storedKeys: ['count'], ...options })
  opened.push(stash)
  const app = express()
  app.use(stash)
  app.get('/count', (req, res) => res.json({ count: (req.stash.count = (req.stash.count ?? 0) + 1) }))
  app.get('/peek', (req, res) => res.json({ count: req.stash.count ?? null, available: req.stash.available }))
  app.post('/drop', (req, res) => {
    delete req.stash.count
    res.json({})
  })
  app.post('/update', async (req, res) => res.json({ count: await req.stash.update('count', (n) => ((n as number) ?? 0) + 1) }))
  app.use(
    (
      err: Error & { status?: number; code?: string },
      _req: express.Request,
      res: express.Response,
      _next: express.NextFunction,
    ) => {
      res.status(err.status ?? 500).json({ code: err.code ?? err.message })
    },
  )
  return { app, stash }
}
