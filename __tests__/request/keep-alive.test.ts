import { IncomingMessage, ServerResponse } from 'node:http'
import { Socket } from 'node:net'
import { KeepAlive, type KeptAlive } from '../../lib/request/keep-alive.js'

/** A stash kept alive: counts its touches; its response is a real, unsent ServerResponse. */
function entry(interval: number): KeptAlive & { touches: number } {
  const res = new ServerResponse(new IncomingMessage(new Socket()))
  return {
    res,
    keepAliveInterval: interval,
    touches: 0,
    keepAliveTouch() {
      this.touches++
    },
  }
}

describe('the shared keep-alive', () => {
  beforeEach(() => jest.useFakeTimers({ now: 0 }))
  afterEach(() => jest.useRealTimers())

  it('touches each open stash once per interval, on one timer at the shortest interval', () => {
    const keepAlive = new KeepAlive()
    const slow = entry(1000)
    const fast = entry(250)
    keepAlive.add(slow)
    keepAlive.add(fast)
    expect(jest.getTimerCount()).toBe(1)
    jest.advanceTimersByTime(1000)
    expect(fast.touches).toBe(4)
    expect(slow.touches).toBe(1)
    jest.advanceTimersByTime(1000)
    expect(fast.touches).toBe(8)
    expect(slow.touches).toBe(2)
  })

  it('lets a stash go when it is deleted, when its response finished or when its connection is gone', () => {
    const keepAlive = new KeepAlive()
    const [deleted, destroyed, open] = [entry(100), entry(100), entry(100)]
    for (const e of [deleted, destroyed, open]) keepAlive.add(e)
    keepAlive.delete(deleted)
    destroyed.res.destroy()
    jest.advanceTimersByTime(500)
    expect([deleted.touches, destroyed.touches, open.touches]).toEqual([0, 0, 5])
    expect(keepAlive.size).toBe(1)
  })

  it('stops its timer once no stash is left, and starts it again for the next one', () => {
    const keepAlive = new KeepAlive()
    const first = entry(100)
    keepAlive.add(first)
    keepAlive.delete(first)
    jest.advanceTimersByTime(100)
    expect(jest.getTimerCount()).toBe(0)
    const next = entry(100)
    keepAlive.add(next)
    jest.advanceTimersByTime(300)
    expect(next.touches).toBe(3)
  })

  it('follows a stash whose interval shrinks (a route with a shorter ttl) from its next touch on', () => {
    const keepAlive = new KeepAlive()
    const changing = { ...entry(1000), keepAliveInterval: 1000 }
    keepAlive.add(changing)
    jest.advanceTimersByTime(1000)
    expect(changing.touches).toBe(1)
    changing.keepAliveInterval = 100
    // Due at 2000 still (the stored expiry never shrinks, so the old due is safe), then every 100 ms.
    jest.advanceTimersByTime(2000)
    expect(changing.touches).toBe(12)
  })
})
