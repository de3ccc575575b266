/**
 * What one mount point of a stash (the instance itself, or one `stash.route()`) asks of a
 * request: the keys it loads, the ttl of each, and whether its loads slide expiries.
 * @module
 */
import type { ResolvedOptions, ResolvedRouteOptions } from '../options.js'

/** One mount point's plan, computed once when the middleware is created. */
export interface RoutePlan {
  /** Every stored key it loads: the instance's and the route's own. */
  readonly keys: readonly string[]
  /** The keys whose ttl it decides: the route's own (every key it loads when it declares none but a ttl). */
  readonly own: readonly string[]
  /** The ttl of `own`, in seconds. */
  readonly ttl: number
  /** The instance's ttl, for the instance's keys. */
  readonly instanceTtl: number
  /** Whether its loads slide expiries; `undefined`: it leaves the request's as it is (the instance's at first). */
  readonly touch: boolean | undefined
  /** The ttl of each of `keys` on a request that passes this mount point alone, shared by those requests. */
  readonly ttls: ReadonlyMap<string, number>
}

/** The plan of `app.use(stash)`: the instance's keys, its ttl and its `touch`. */
export function instancePlan(options: ResolvedOptions): RoutePlan {
  return plan({ keys: options.storedKeys, own: options.storedKeys, ttl: options.ttl, instanceTtl: options.ttl, touch: undefined })
}

/**
 * The plan of `stash.route(route)`: the instance's keys at the instance's ttl, the route's own
 * at the route's. A route that declares no keys but a ttl gives its ttl to the instance's keys
 * (so `stash.route({ ttl })` keeps meaning what it says).
 */
export function routePlan(options: ResolvedOptions, route: ResolvedRouteOptions): RoutePlan {
  const keys = [...new Set([...options.storedKeys, ...route.storedKeys])]
  const own = route.storedKeys.length > 0 ? route.storedKeys : route.ttl === undefined ? [] : keys
  return plan({ keys, own, ttl: route.ttl ?? options.ttl, instanceTtl: options.ttl, touch: route.touch })
}

/** A plan with its `ttls`: the instance's ttl for its keys, the mount point's for its own. */
function plan(parts: Omit<RoutePlan, 'ttls'>): RoutePlan {
  const ttls = new Map<string, number>()
  for (const key of parts.keys) ttls.set(key, parts.instanceTtl)
  for (const key of parts.own) ttls.set(key, parts.ttl)
  return { ...parts, ttls }
}
