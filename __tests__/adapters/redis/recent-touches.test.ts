import { RecentTouches } from '../../../lib/adapters/redis/recent-touches.js'

describe('RecentTouches', () => {
  const TTL = 300_000

  it('asks for a touch of a record it never touched', () => {
    expect(new RecentTouches().due('a', TTL, 0)).toBe(true)
  })

  it('skips the touch until 1 % of the ttl has passed since the last one', () => {
    const touches = new RecentTouches()
    touches.touched('a', TTL, 1_000)
    expect(touches.due('a', TTL, 1_000)).toBe(false)
    expect(touches.due('a', TTL, 1_000 + TTL / 100)).toBe(false)
    expect(touches.due('a', TTL, 1_000 + TTL / 100 + 1)).toBe(true)
    expect(touches.due('b', TTL, 1_000)).toBe(true)
  })

  it('asks for a touch when a longer ttl would push the expiry further', () => {
    const touches = new RecentTouches()
    touches.touched('a', TTL, 0)
    expect(touches.due('a', TTL / 2, 10)).toBe(false)
    expect(touches.due('a', TTL * 2, 10)).toBe(true)
  })

  it('forgets the record touched longest ago beyond its capacity', () => {
    const touches = new RecentTouches(2)
    touches.touched('a', TTL, 0)
    touches.touched('b', TTL, 0)
    touches.touched('a', TTL, 1) // a is now the most recent
    touches.touched('c', TTL, 2)
    expect(touches.size).toBe(2)
    expect(touches.due('b', TTL, 3)).toBe(true)
    expect(touches.due('a', TTL, 3)).toBe(false)
    expect(touches.due('c', TTL, 3)).toBe(false)
  })
})
