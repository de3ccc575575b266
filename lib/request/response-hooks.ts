/**
 * The hooks on `res.writeHead` and `res.end` that add the cookie and commit before a response finishes.
 * @module
 */
import { ServerResponse } from 'node:http'

/** What the stash needs to know when the application ends a response. */
export interface EndHooks {
  /**
   * Called when the application ends the response. Returns `undefined` when there is nothing
   * to persist (the response ends at once), else a promise the end waits for.
   */
  beforeEnd(): Promise<void> | undefined
  /**
   * The persisted write failed. `finish` ends the response as the application asked; the hook
   * decides whether to call it (headers already sent) or to hand the error on.
   */
  endFailed(err: unknown, finish: () => void): void
}

/** What the stash needs to know before a response's headers go out. */
export interface HeaderHooks {
  /** Called once, just before the headers go out (explicit `writeHead`, first `write`, or `end`). */
  beforeHeaders(writeHeadHeaders: unknown): void
}

type Variadic = (this: ServerResponse, ...args: unknown[]) => unknown

// Express swaps the prototype of every response, which gives each one a hidden class of its
// own: a property added to it copies that class (about 1 KB of old-generation garbage and a few
// microseconds per request). So `end` and `writeHead` are wrapped once, on
// ServerResponse.prototype, and look up the hooks of the response at hand in a WeakMap whose
// entry is deleted as soon as it has served. A response whose method someone already replaced
// (a middleware that wrapped it first, a response that is no ServerResponse) gets a wrapper of
// its own instead.
const endHooks = new WeakMap<ServerResponse, EndHooks>()
const headerHooks = new WeakMap<ServerResponse, HeaderHooks>()
/** Stands in for the hooks of a response whose commit is in progress: a second `end()` is ignored. */
const COMMITTING: EndHooks = { beforeEnd: () => undefined, endFailed: () => {} }

let shared: { readonly end: Variadic; readonly writeHead: Variadic } | undefined

/**
 * Hooks `res.end` of one response so that state is committed to the store before the response
 * finishes. A second `end()` while the first is still committing is ignored, as Node ignores it
 * after the response has finished; once the commit is done, calls pass through.
 */
export function hookEnd(res: ServerResponse, hooks: EndHooks): void {
  shared ??= wrapPrototype()
  if (res.end === (shared.end as unknown)) return void endHooks.set(res, hooks)
  const end = res.end as unknown as Variadic
  let stage: 'open' | 'committing' | 'done' = 'open'
  res.end = function stashEnd(this: ServerResponse, ...args: unknown[]) {
    if (stage === 'done') return end.apply(this, args)
    if (stage === 'committing') return this
    stage = 'committing'
    return endThrough(res, hooks, end, args, () => (stage = 'done'))
  } as ServerResponse['end']
}

/**
 * Hooks `res.writeHead` of one response (which Node also calls for implicit headers, on the
 * first `write` or on `end`), so that the cookie is added while headers can still change.
 */
export function hookHeaders(res: ServerResponse, hooks: HeaderHooks): void {
  shared ??= wrapPrototype()
  if (res.writeHead === (shared.writeHead as unknown)) return void headerHooks.set(res, hooks)
  const writeHead = res.writeHead as unknown as Variadic
  let headersHandled = false
  res.writeHead = function stashWriteHead(this: ServerResponse, ...args: unknown[]) {
    if (!headersHandled && !this.headersSent) {
      headersHandled = true
      hooks.beforeHeaders(args[args.length - 1])
    }
    return writeHead.apply(this, args)
  } as ServerResponse['writeHead']
}

/** Installs the shared wrappers on ServerResponse.prototype (once per copy of this module). */
function wrapPrototype(): { end: Variadic; writeHead: Variadic } {
  const proto = ServerResponse.prototype as unknown as Record<'end' | 'writeHead', Variadic>
  const { end, writeHead } = proto
  const wrapped = {
    end: function stashEnd(this: ServerResponse, ...args: unknown[]) {
      const hooks = endHooks.get(this)
      if (hooks === undefined) return end.apply(this, args)
      if (hooks === COMMITTING) return this
      endHooks.set(this, COMMITTING)
      return endThrough(this, hooks, end, args, () => endHooks.delete(this))
    },
    writeHead: function stashWriteHead(this: ServerResponse, ...args: unknown[]) {
      const hooks = headerHooks.get(this)
      if (hooks !== undefined) {
        headerHooks.delete(this)
        if (!this.headersSent) hooks.beforeHeaders(args[args.length - 1])
      }
      return writeHead.apply(this, args)
    },
  }
  proto.end = wrapped.end
  proto.writeHead = wrapped.writeHead
  return wrapped
}

/** Asks `hooks` before ending: ends at once, or once the commit settles (`done` runs first). */
function endThrough(res: ServerResponse, hooks: EndHooks, end: Variadic, args: unknown[], done: () => void): unknown {
  const pending = hooks.beforeEnd()
  if (pending === undefined) {
    done()
    return end.apply(res, args)
  }
  const finish = (): void => void end.apply(res, args)
  pending
    .then(
      () => {
        done()
        finish()
      },
      (err: unknown) => {
        done()
        hooks.endFailed(err, finish)
      },
    )
    // An `end` that throws (another middleware's wrapper, a destroyed socket) must not become an
    // unhandled rejection that takes the process down: it goes where a failed commit goes.
    .catch((err: unknown) => hooks.endFailed(err, () => {}))
  return res
}
