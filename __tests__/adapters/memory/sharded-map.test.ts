import { ShardedMap } from '../../../lib/adapters/memory/sharded-map.js'

const entry = () => ({ used: 0, bytes: 0 })

describe('ShardedMap', () => {
  it('counts entries across shards, replacing without double counting', () => {
    const map = new ShardedMap<{ used: number; bytes: number }>()
    const keys = Array.from({ length: 500 }, (_, i) => `key-${i}-${(i * 7919).toString(36)}`)
    for (const key of keys) map.set(key, entry())
    for (const key of keys.slice(0, 100)) map.set(key, entry())
    expect(map.size).toBe(500)
    for (const key of keys.slice(0, 200)) map.delete(key)
    expect(map.delete('missing')).toBe(false)
    expect(map.size).toBe(300)
    expect([...map].map(([key]) => key).sort()).toEqual(keys.slice(200).sort())
    map.clear()
    expect(map.size).toBe(0)
    expect(map.oldest()).toBeUndefined()
  })

  it('finds the least recently used entry whatever shard holds it', () => {
    const map = new ShardedMap<{ used: number; bytes: number }>()
    const keys = Array.from({ length: 200 }, (_, i) => `k${i}x${i % 7}`)
    const values = keys.map(() => entry())
    keys.forEach((key, i) => map.set(key, values[i]!))
    expect(map.oldest()).toBe(keys[0])
    map.refresh(keys[0]!, values[0]!)
    expect(map.oldest()).toBe(keys[1])
    for (const key of keys.slice(1, 150)) map.delete(key)
    expect(map.oldest()).toBe(keys[150])
  })
})

describe('ShardedMap: bytes', () => {
  it('sums the bytes of the entries through set, replace, refresh, delete and clear', () => {
    const map = new ShardedMap<{ used: number; bytes: number }>()
    const keys = Array.from({ length: 300 }, (_, i) => `b${i}y${(i * 31).toString(36)}`)
    keys.forEach((key, i) => map.set(key, { used: 0, bytes: i }))
    let expected = keys.reduce((sum, _key, i) => sum + i, 0)
    expect(map.bytes).toBe(expected)
    map.set(keys[10]!, { used: 0, bytes: 1000 }) // replaces 10
    expected += 1000 - 10
    map.refresh(keys[20]!, map.get(keys[20]!)!)
    expect(map.bytes).toBe(expected)
    expect(map.delete(keys[30]!)).toBe(true)
    expect(map.delete(keys[30]!)).toBe(false) // already gone: not subtracted twice
    expected -= 30
    expect(map.bytes).toBe(expected)
    expect(map.bytes).toBe([...map].reduce((sum, [, value]) => sum + value.bytes, 0))
    map.clear()
    expect(map.bytes).toBe(0)
  })
})
