/**
 * Development warnings of mistakes that would lose data without a sign.
 * @module
 */
import type { IncomingMessage } from 'node:http'
import { message } from '../errors.js'
import { log } from '../log.js'

/** Most distinct warnings remembered (and so shown) per stash instance. */
const REMEMBERED = 1000

/**
 * Warnings about mistakes that would otherwise lose data without a sign: each is shown once per
 * kind, key and route as a process warning outside production, and logged under
 * `DEBUG=express-stash` always. In production without `DEBUG`, checking costs nothing.
 */
export class DevWarnings {
  private readonly shown = new Set<string>()
  private readonly production = process.env.NODE_ENV === 'production'

  /** Whether anything would be shown now (outside production, or with the debug log on). */
  get enabled(): boolean {
    return log.enabled || !this.production
  }

  /** A key assigned on a route that does not store it, while another route of the instance does. */
  unstoredKey(req: IncomingMessage, key: string): void {
    const route = routeOf(req)
    this.warn(
      `unstored:${route}:${key}`,
      'EXPRESS_STASH_UNSTORED_KEY',
      `req.stash.${key} was assigned on ${route}, which does not store "${key}" (another route of this stash does): ` +
        `the value lives for this request only. Add "${key}" to this route's storedKeys to keep it.`,
    )
  }

  /** The session value changed during a request that did not rotate its stash. */
  bindingChanged(req: IncomingMessage): void {
    const route = routeOf(req)
    this.warn(
      `binding:${route}`,
      'EXPRESS_STASH_UNBOUND_LOGIN',
      `the sessionKey value changed on ${route} without req.stash.rotate(): the stash stays bound to the previous ` +
        'value and this client will not find it on its next request. Call await req.stash.rotate() after login and logout.',
    )
  }

  private warn(id: string, code: string, text: string): void {
    if (log.enabled) log('warning: %s', text)
    if (this.production || this.shown.has(id) || this.shown.size >= REMEMBERED) return
    this.shown.add(id)
    process.emitWarning(message(text), { code })
  }
}

/** A request's route for messages: method and route pattern (Express), else the path. */
function routeOf(req: IncomingMessage): string {
  const { baseUrl, route, originalUrl } = req as { baseUrl?: string; route?: { path?: unknown }; originalUrl?: string }
  const pattern = typeof route?.path === 'string' ? (baseUrl ?? '') + route.path : (originalUrl ?? req.url ?? '').split('?')[0]
  return `${req.method ?? 'GET'} ${pattern}`
}
