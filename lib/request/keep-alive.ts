/**
 * The shared timer that slides the expiry of stashes whose responses stay open.
 * @module
 */
import type { ServerResponse } from 'node:http'

/** A stash whose expiry slides while its response stays open. */
export interface KeptAlive {
  /** The response: once it has finished or its connection is gone, the stash is let go. */
  readonly res: ServerResponse
  /** Milliseconds between two touches (a quarter of the stash's current ttl). */
  readonly keepAliveInterval: number
  /** Slides the expiry now; reports its own failures. */
  keepAliveTouch(): void
}

/**
 * Slides the expiry of stashes whose responses stay open (server-sent events, streaming, long
 * polling) on one shared timer per stash instance, instead of a timer and a `close` listener per
 * request: a request that ends at once costs two map operations. The timer runs only while some
 * response is open, ticks at the shortest interval among them, and never keeps the process alive.
 * A stash is touched at most two intervals (half a ttl) after its last touch, so it never expires
 * while its response is open, and expires one ttl after the response ends.
 */
export class KeepAlive {
  /** Each open stash, with the time of its next touch. */
  private readonly due = new Map<KeptAlive, number>()
  private timer: NodeJS.Timeout | undefined
  private period = Infinity

  /** Starts sliding `entry`'s expiry, until its response ends or {@link KeepAlive.delete}. */
  add(entry: KeptAlive): void {
    const interval = entry.keepAliveInterval
    this.due.set(entry, Date.now() + interval)
    if (interval < this.period) this.schedule(interval)
  }

  /** Stops sliding `entry`'s expiry (the timer stops at its next tick when no stash is left). */
  delete(entry: KeptAlive): void {
    this.due.delete(entry)
  }

  /** Stashes kept alive now. */
  get size(): number {
    return this.due.size
  }

  private tick(): void {
    const now = Date.now()
    let shortest = Infinity
    for (const [entry, due] of this.due) {
      if (entry.res.writableFinished || entry.res.destroyed) {
        this.due.delete(entry)
        continue
      }
      const interval = entry.keepAliveInterval
      shortest = Math.min(shortest, interval)
      if (due <= now) {
        this.due.set(entry, now + interval)
        entry.keepAliveTouch()
      }
    }
    if (this.due.size === 0) this.stop()
    else if (shortest !== this.period) this.schedule(shortest)
  }

  private schedule(period: number): void {
    clearInterval(this.timer)
    this.period = period
    this.timer = setInterval(() => this.tick(), period)
    this.timer.unref()
  }

  private stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
    this.period = Infinity
  }
}
