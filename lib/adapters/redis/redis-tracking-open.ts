/**
 * Which clients can carry the near cache's invalidation channel, and opening the channel that fits
 * the adapter's client: two connections of its own for a single client (redis-tracking.ts), one
 * subscriber per master for a cluster (redis-tracking-cluster.ts).
 * @module
 */
import type { RedisClientLike } from './redis-client.js'
import { driverFor, type RedisDriver } from './redis-driver.js'
import { openTracking, type Tracking, type TrackingOptions } from './redis-tracking.js'
import { openClusterTracking } from './redis-tracking-cluster.js'
import { trackableClient } from './redis-tracking-clients.js'

/**
 * Whether `client` can carry a near cache's invalidation channel: a node-redis (v4 and later) or
 * ioredis (v5 and later) client or cluster.
 */
export function canTrack(client: unknown): boolean {
  if (trackableClient(client) !== undefined) return true
  try {
    return driverFor(client as RedisClientLike).cluster
  } catch {
    return false
  }
}

/** Opens the invalidation channel of the adapter's client: {@link openTracking}, or its cluster form. */
export function openChannel(driver: RedisDriver, options: TrackingOptions): Tracking {
  return driver.cluster ? openClusterTracking(driver, options) : openTracking(driver.client, options)
}
