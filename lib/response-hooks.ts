import type { ServerResponse } from 'node:http'

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

// Every own property added to a response costs several microseconds on each request once
// Express has swapped the response's prototype (its hidden class is no longer shared), so the
// two hooks are separate: `end` is always needed, `writeHead` only when a cookie may be sent.

/**
 * Wraps `res.end` of one response so that state is committed to the store before the response
 * finishes. A second `end()` while the first is still committing is ignored, as Node ignores it
 * after the response has finished. Once the commit is done the wrapper passes every call
 * through (restoring `res.end` would be one more property store on the response).
 */
export function hookEnd(res: ServerResponse, hooks: EndHooks): void {
  const end = res.end as unknown as Variadic
  let stage: 'open' | 'committing' | 'done' = 'open'
  res.end = function stashEnd(this: ServerResponse, ...args: unknown[]) {
    if (stage === 'done') return end.apply(this, args)
    if (stage === 'committing') return this
    const pending = hooks.beforeEnd()
    if (pending === undefined) {
      stage = 'done'
      return end.apply(this, args)
    }
    stage = 'committing'
    const finish = (): void => {
      stage = 'done'
      end.apply(res, args)
    }
    pending.then(finish, (err: unknown) => {
      stage = 'done'
      hooks.endFailed(err, finish)
    })
    return this
  } as ServerResponse['end']
}

/**
 * Wraps `res.writeHead` of one response (which Node also calls for implicit headers, on the
 * first `write` or on `end`), so that the cookie is added while headers can still change.
 */
export function hookHeaders(res: ServerResponse, hooks: HeaderHooks): void {
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
