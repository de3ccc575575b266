/**
 * The cookie adapter of one request (what `cookieAdapter().forRequest()` returns): a
 * `StashAdapter` whose records come from the request's sealed cookie, opened when a call first
 * names their record key, and whose changes go out in the response's sealed cookie. A change is
 * sealed when it is made, so a record too large for a cookie fails its write and changes nothing;
 * a change the response can no longer carry (its headers went out) fails the same way.
 * @module
 */
import type {
  AdapterRequest,
  CompareAndSetResult,
  FieldSwap,
  LoadedRecord,
  RecordChange,
  StashAdapter,
  StoredRecord,
  WriteReceipt,
} from '../../store/adapter.js'
import { StashError } from '../../errors.js'
import { log } from '../../log.js'
import { clearingLine, cookieBytes, sealedCandidates, sealedLine } from './cookie-lines.js'
import { applyChange, changeOfSwap, liveAt, loadedFrom, recordOfStored, storedFrom, type CookieRecord } from './cookie-record.js'
import { seal, sealKeys, unseal } from './seal.js'

/** The settings of a cookie adapter, as its requests use them. */
export interface CookieSettings {
  /** The sealed cookie's name; `undefined`: the ID cookie's name + `.data`. */
  readonly name: string | undefined
  /** Most bytes of the sealed cookie's name and value; `Infinity` only where no browser is involved (tests of the record contract). */
  readonly maxSize: number
}

/** What a request knows of one record key. */
interface Held {
  /** The record; `undefined` when there is none (never sealed for this key, expired, deleted). */
  record: CookieRecord | undefined
  /** `record` sealed under the current secret, when known: what the response sends as it is. */
  sealed: string | undefined
  /** The highest version this key had: the next change gets a higher one. */
  version: number
  /** How this request changed the record: its data (or its existence), or only expiries. */
  changed: 'data' | 'slide' | undefined
}

/** The request-bound adapter of {@link cookieAdapter}. @internal */
export class RequestRecords implements StashAdapter {
  readonly kind = 'cookie'
  /** Values leave the process only inside the seal (see `cookieAdapter`). */
  readonly inProcess = true
  private readonly held = new Map<string, Held>()
  private candidates: string[] | undefined

  constructor(
    private readonly request: AdapterRequest,
    private readonly settings: CookieSettings,
    /** Throws `ERR_STASH_CLOSED` once the adapter is closed. */
    private readonly assertOpen: () => void,
  ) {}

  /** The name of the sealed cookie. */
  get cookieName(): string {
    return this.settings.name ?? `${this.request.cookieName}.data`
  }

  loadNow(key: string, fields: readonly string[], seen?: number): LoadedRecord | null {
    this.assertOpen()
    const record = liveAt(this.hold(key, seen).record, Date.now())
    return record === undefined ? null : loadedFrom(record, fields)
  }

  async load(key: string, fields: readonly string[], seen?: number): Promise<LoadedRecord | undefined> {
    return this.loadNow(key, fields, seen) ?? undefined
  }

  async write(key: string, change: RecordChange): Promise<void | 'gone' | WriteReceipt> {
    this.assertOpen()
    const now = Date.now()
    const held = this.hold(key)
    const current = liveAt(held.record, now)
    if (change.existing === true && current === undefined) return 'gone'
    const next = applyChange(current, change, now, held.version + 1)
    if (next === current) return current === undefined ? undefined : { version: current.version }
    const slide = change.del.length === 0 && Object.keys(change.set).length === 0
    if (slide && this.request.headersSent()) {
      // Only expiries, and no header can carry them any more (an open response's keep-alive, the
      // end of a streamed response): the stash expires one ttl after the last response that sent it.
      log('cookie: a slide after the response headers were sent is skipped')
      return undefined
    }
    return this.commit(key, next, slide ? 'slide' : 'data', 'store the stash')
  }

  async compareAndSet(key: string, swap: FieldSwap): Promise<CompareAndSetResult> {
    this.assertOpen()
    const now = Date.now()
    const held = this.hold(key)
    const current = liveAt(held.record, now)
    if (swap.existing === true && current === undefined) return { ok: false, current: undefined, gone: true }
    const value = current?.fields.get(swap.field)?.value
    if (value !== swap.expected) return { ok: false, current: value }
    const next = applyChange(current, changeOfSwap(swap), now, held.version + 1)
    if (next === current) return current === undefined ? { ok: true } : { ok: true, version: current.version }
    return { ok: true, version: this.commit(key, next, 'data', 'update the stash').version }
  }

  async readAll(key: string): Promise<StoredRecord | undefined> {
    this.assertOpen()
    const record = liveAt(this.hold(key).record, Date.now())
    return record === undefined ? undefined : storedFrom(record)
  }

  async move(from: string, to: string, stored: StoredRecord): Promise<void | 'gone' | WriteReceipt> {
    this.assertOpen()
    const now = Date.now()
    const source = this.hold(from)
    if (liveAt(source.record, now) === undefined) return 'gone'
    const target = this.hold(to)
    const version = Math.max(source.version, target.version) + 1
    const record = recordOfStored(stored, now, version)
    this.assertHeadersOpen('rotate the stash')
    const sealed = record === undefined ? undefined : this.sealWithin(to, record)
    Object.assign(source, { record: undefined, sealed: undefined, version: source.version + 1, changed: 'data' })
    Object.assign(target, { record, sealed, version, changed: 'data' })
    return record === undefined ? undefined : { version }
  }

  async delete(key: string): Promise<void> {
    this.assertOpen()
    const held = this.hold(key)
    if (liveAt(held.record, Date.now()) === undefined) return
    this.assertHeadersOpen('reset the stash')
    Object.assign(held, { record: undefined, sealed: undefined, version: held.version + 1, changed: 'data' })
  }

  async close(): Promise<void> {}

  /**
   * The sealed cookie's `Set-Cookie` line, with the attributes of the ID cookie's `idLine` (see
   * `StashAdapter.responseCookies`): the record `record` names, sealed under the current secret, or
   * a line clearing the cookie the client sent when there is no such record any more.
   */
  responseCookies(record: string | undefined, idLine: string | undefined): readonly string[] {
    if (idLine === undefined) {
      const held = record === undefined ? undefined : this.held.get(record)
      if (held?.changed === 'data' && held.record !== undefined) {
        throw new StashError(
          'ERR_STASH_WRITE',
          'the stash changed, but this response does not send its ID cookie, so it cannot send its sealed cookie either: the change is lost (a sealed cookie older than its ID cookie was presented)',
        )
      }
      return []
    }
    const held = record === undefined ? undefined : this.hold(record)
    const live = liveAt(held?.record, Date.now())
    const name = this.cookieName
    if (live === undefined) return this.candidatesOf().length > 0 ? [clearingLine(name, idLine)] : []
    const value = (live === held!.record ? held!.sealed : undefined) ?? this.sealWithin(record!, live)
    return [sealedLine(name, value, idLine)]
  }

  /** Applies a change the caller has checked: sealed first (the size), then kept; its receipt. */
  private commit(key: string, next: CookieRecord | undefined, how: 'data' | 'slide', action: string): WriteReceipt {
    this.assertHeadersOpen(action)
    const held = this.held.get(key)!
    const sealed = next === undefined || this.settings.maxSize === Infinity ? undefined : this.sealWithin(key, next)
    held.record = next
    held.sealed = sealed
    held.version++
    held.changed = how === 'data' || held.changed === 'data' ? 'data' : 'slide'
    return { version: held.version }
  }

  /** What this request knows of `key`: on first mention, the record the request's sealed cookie holds for it. */
  private hold(key: string, seen?: number): Held {
    let held = this.held.get(key)
    if (held !== undefined) return held
    const cookieVersion = seen !== undefined && Number.isSafeInteger(seen) && seen > 0 ? seen : undefined
    const opened = this.open(key)
    // The ID cookie names the version its response sealed: a sealed cookie of another response does not pair with it.
    const record = cookieVersion === undefined || opened?.record.version === cookieVersion ? opened?.record : undefined
    held = {
      record,
      sealed: record !== undefined && opened!.current ? opened!.value : undefined,
      version: Math.max(opened?.record.version ?? 0, cookieVersion ?? 0),
      changed: undefined,
    }
    this.held.set(key, held)
    return held
  }

  /** The record the request's sealed cookie holds for `key`, from the first of its values that opens for it. */
  private open(key: string): { record: CookieRecord; current: boolean; value: string } | undefined {
    const candidates = this.candidatesOf()
    if (candidates.length === 0) return undefined
    const keys = sealKeys(this.request.secrets)
    for (const value of candidates) {
      const opened = unseal(value, key, keys)
      if (opened !== undefined) return { ...opened, value }
    }
    return undefined
  }

  private candidatesOf(): string[] {
    return (this.candidates ??= sealedCandidates(this.request.cookieHeader, this.cookieName))
  }

  /** `record` sealed for `key` under the current secret; `ERR_STASH_TOO_LARGE` when the cookie would exceed `maxSize`. */
  private sealWithin(key: string, record: CookieRecord): string {
    const value = seal(record, key, sealKeys(this.request.secrets)[0]!)
    const bytes = cookieBytes(this.cookieName, value)
    if (bytes > this.settings.maxSize) {
      throw new StashError(
        'ERR_STASH_TOO_LARGE',
        `the stash's sealed cookie would be ${bytes} bytes, over the ${this.settings.maxSize} bytes a browser keeps of one cookie (name and value); nothing was written`,
      )
    }
    return value
  }

  /** Throws `ERR_STASH_HEADERS_SENT` once the response headers went out: no cookie can change any more. */
  private assertHeadersOpen(action: string): void {
    if (!this.request.headersSent()) return
    throw new StashError(
      'ERR_STASH_HEADERS_SENT',
      `cannot ${action} after the response headers were sent: the cookie adapter keeps the stash in a cookie, which this response can no longer set; nothing was written (call req.stash.save() before streaming)`,
    )
  }
}
