import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import connect from 'connect'
import express5 from 'express'
import express4 from 'express4'
import type { Stash } from '../../lib/index.js'

type Next = (err?: unknown) => void
/** A request that went through a stash middleware. */
export type StashedRequest = IncomingMessage & { stash: Stash }
/** A handler every framework accepts; async ones must not reject (Connect would not catch it). */
export type Handler = (req: StashedRequest, res: ServerResponse, next: Next) => void | Promise<void>

/** The few routing features the shared suites need, on Express 5, Express 4 or Connect. */
export interface TestApp {
  readonly listener: RequestListener
  use(...handlers: Handler[]): void
  route(method: 'GET' | 'POST', path: string, ...handlers: Handler[]): void
}

/** A framework under test. */
export interface Framework {
  readonly name: string
  create(): TestApp
}

/** Answers errors as JSON `{ code, message }` with the error's status, the way apps usually do. */
function errorHandler(
  err: { status?: number; code?: string; message?: string },
  _req: IncomingMessage,
  res: ServerResponse,
  _next: Next,
): void {
  sendJson(res, { code: err.code, message: err.message }, err.status ?? 500)
}

/** Express 4 or 5: `express4` is typed as Express 5 (support/express4.d.ts), so one type covers both. */
function expressApp(factory: typeof express5): () => TestApp {
  return () => {
    const app = factory()
    const routes = factory.Router()
    let mounted = false
    const mount = () => {
      if (mounted) return
      mounted = true
      app.use(routes)
      app.use(errorHandler)
    }
    return {
      get listener() {
        mount()
        return app as unknown as RequestListener
      },
      use: (...handlers) => void routes.use(...(handlers as never[])),
      route: (method, path, ...handlers) => void routes[method === 'GET' ? 'get' : 'post'](path, ...(handlers as never[])),
    }
  }
}

function connectApp(): TestApp {
  const app = connect()
  const stack: Handler[] = []
  let mounted = false
  const run = (handlers: Handler[], req: StashedRequest, res: ServerResponse, done: Next): void => {
    let i = 0
    const next: Next = (err) => {
      if (err !== undefined) return done(err)
      const handler = handlers[i++]
      if (handler === undefined) return done()
      void handler(req, res, next)
    }
    next()
  }
  return {
    get listener() {
      if (!mounted) {
        mounted = true
        for (const handler of stack) app.use(handler as connect.NextHandleFunction)
        app.use(errorHandler as unknown as connect.ErrorHandleFunction)
      }
      return app as unknown as RequestListener
    },
    use: (...handlers) => void stack.push(...handlers),
    route: (method, path, ...handlers) =>
      void stack.push((req, res, next) => {
        if (req.method !== method || req.url?.split('?')[0] !== path) return next()
        run(handlers, req, res, next)
      }),
  }
}

/** Express 5, Express 4 and Connect. */
export const FRAMEWORKS: readonly Framework[] = [
  { name: 'express 5', create: expressApp(express5) },
  { name: 'express 4', create: expressApp(express4) },
  { name: 'connect', create: connectApp },
]

/** Sends JSON without framework helpers, so handlers run unchanged everywhere. */
export function sendJson(res: ServerResponse, body: unknown, status = 200): void {
  const text = JSON.stringify(body)
  res.statusCode = status
  res.setHeader('Content-Type', 'application/json')
  res.end(text)
}

/** Sends `body` as JSON with the headers out before the end: an explicit writeHead, a write, then end. */
export function streamJson(res: ServerResponse, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(200, { 'Content-Type': 'application/json' })
  res.write(text.slice(0, 1))
  res.end(text.slice(1))
}
