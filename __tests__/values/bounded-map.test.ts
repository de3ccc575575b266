import { BoundedMap } from '../../lib/values/bounded-map.js'

const keysOf = <K, V>(map: BoundedMap<K, V>) => [...map].map(([key]) => key)

describe('BoundedMap', () => {
  it('forgets the oldest entry beyond its capacity; a replaced entry keeps its place', () => {
    const map = new BoundedMap<string, number>({ capacity: 3 })
    for (const key of ['a', 'b', 'c']) expect(map.set(key, 1)).toBe(true)
    expect(map.full).toBe(true)
    map.set('a', 2) // replaced in place: still the oldest
    map.set('d', 1)
    expect(keysOf(map)).toEqual(['b', 'c', 'd'])
    expect(map.get('a')).toBeUndefined()
    expect(map.size).toBe(3)
  })

  it('moves a refreshed entry to the end, making it the last to go', () => {
    const map = new BoundedMap<string, number>({ capacity: 3 })
    for (const key of ['a', 'b', 'c']) map.set(key, 1)
    map.refresh('a', 2)
    expect(map.oldest()).toEqual(['b', 1])
    map.set('d', 1)
    map.set('e', 1)
    expect(keysOf(map)).toEqual(['a', 'd', 'e'])
    expect(map.get('a')).toBe(2)
    expect(map.refresh('f', 1)).toBe(true) // a new key: room is made
    expect(keysOf(map)).toEqual(['d', 'e', 'f'])
  })

  it('keeps evicting in order through deletes, refreshes and many rehashes', () => {
    const map = new BoundedMap<number, number>({ capacity: 100 })
    const expected: number[] = []
    for (let i = 0; i < 20_000; i++) {
      if (expected.length === 100) expected.shift() // full: the oldest goes first
      map.set(i, i)
      expected.push(i)
      if (i % 7 === 0 && map.delete(i - 3)) expected.splice(expected.indexOf(i - 3), 1)
      if (i % 11 === 0 && map.has(i - 50)) {
        map.refresh(i - 50, -1)
        expected.splice(expected.indexOf(i - 50), 1)
        expected.push(i - 50)
      }
    }
    expect(keysOf(map)).toEqual(expected)
    expect(map.oldest()?.[0]).toBe(expected[0])
  })

  it('starts over after being emptied or cleared', () => {
    const map = new BoundedMap<string, number>({ capacity: 2 })
    map.set('a', 1)
    map.set('b', 1)
    map.set('c', 1) // the kept iterator is in use
    map.delete('b')
    map.delete('c')
    expect(map.oldest()).toBeUndefined()
    map.set('d', 1)
    map.set('e', 1)
    map.set('f', 1)
    expect(keysOf(map)).toEqual(['e', 'f'])
    map.clear()
    expect(map.size).toBe(0)
    map.set('g', 1)
    map.set('h', 1)
    map.set('i', 1)
    expect(keysOf(map)).toEqual(['h', 'i'])
  })

  it('refuses new keys when full in refusing mode, but still replaces held ones', () => {
    const map = new BoundedMap<string, number>({ capacity: 2, whenFull: 'refuse' })
    expect(map.set('a', 1)).toBe(true)
    expect(map.set('b', 1)).toBe(true)
    expect(map.set('c', 1)).toBe(false)
    expect(map.refresh('c', 1)).toBe(false)
    expect(map.set('a', 2)).toBe(true)
    expect(map.refresh('b', 2)).toBe(true)
    expect(keysOf(map)).toEqual(['a', 'b'])
    expect(map.get('c')).toBeUndefined()
    map.delete('a')
    expect(map.set('c', 1)).toBe(true)
  })

  it('expires entries: on a read of the live value, at the front, or in a sweep', () => {
    const map = new BoundedMap<string, number>({ expiresAt: (until) => until })
    map.set('a', 10)
    map.set('b', 30) // a later expiry ahead of an earlier one: only a sweep finds `c`
    map.set('c', 20)
    map.set('d', 40)
    expect(map.live('a', 9)).toBe(10)
    expect(map.get('a')).toBe(10)
    expect(map.live('a', 10)).toBeUndefined() // expired once `now` reaches it
    expect(map.has('a')).toBe(false)
    map.set('a', 10)
    map.refresh('a', 10) // now last
    map.pruneFront(25)
    expect(keysOf(map)).toEqual(['b', 'c', 'd', 'a']) // stops at the live `b`
    map.sweep(25)
    expect(keysOf(map)).toEqual(['b', 'd'])
    map.pruneFront(35)
    expect(keysOf(map)).toEqual(['d'])
    map.pruneFront(50)
    expect(map.size).toBe(0)
  })

  it('never expires entries without `expiresAt`', () => {
    const map = new BoundedMap<string, number>()
    map.set('a', 0)
    map.pruneFront(Infinity)
    map.sweep(Infinity)
    expect(map.live('a', Infinity)).toBe(0)
    expect(map.full).toBe(false)
  })

  it('reports the oldest entry with its current value', () => {
    const map = new BoundedMap<string, number>()
    expect(map.oldest()).toBeUndefined()
    map.set('a', 1)
    map.set('b', 2)
    expect(map.oldest()).toEqual(['a', 1])
    map.set('a', 3)
    expect(map.oldest()).toEqual(['a', 3])
    map.delete('a')
    expect(map.oldest()).toEqual(['b', 2])
  })
})
