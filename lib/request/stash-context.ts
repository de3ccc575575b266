/**
 * What a request's state needs of the stash instance that serves it: the options, the adapter
 * and its call wrapper, the codec, and the instance-wide helpers. The middleware implements it;
 * the request files depend on this interface only.
 * @module
 */
import type { Codec } from '../values/codec.js'
import type { VerifiedCookies } from '../cookie/verified-cookies.js'
import type { DevWarnings } from './dev-warnings.js'
import type { KeepAlive } from './keep-alive.js'
import type { ResolvedOptions } from '../options.js'
import type { StashAdapter } from '../store/adapter.js'
import type { StoreCalls } from '../store/store-calls.js'

/** One stash instance, as its requests see it. */
export interface StashContext {
  /** The validated options of the instance. */
  readonly options: ResolvedOptions
  /** The adapter (call it through {@link StashContext.store}). */
  readonly adapter: StashAdapter
  /** The secrets: the first signs, all verify. */
  readonly secrets: readonly string[]
  /** Encodes and authenticates stored values. */
  readonly codec: Codec
  /** Every adapter call goes through it: breaker, stats, events, reports. */
  readonly store: StoreCalls
  /** Slides the expiry of stashes whose responses stay open. */
  readonly keepAlive: KeepAlive
  /** Warnings of mistakes that would lose data without a sign (development, `DEBUG`). */
  readonly warnings: DevWarnings
  /** Cookie values known to verify: those clients sent, and those re-signed for them. */
  readonly verifiedCookies: VerifiedCookies
  /** Every stored key of the instance and of its routes. */
  readonly declaredKeys: ReadonlySet<string>
}
