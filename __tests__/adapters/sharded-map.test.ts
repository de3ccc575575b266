import { ShardedMap } from '../../lib/adapters/sharded-map.js'

const entry = () => ({ used: 0 })

describe('ShardedMap', () => {
  it('counts entries across shards, replacing without double counting', () => {
    const map = new ShardedMap<{ used: number }>()
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
    const map = new ShardedMap<{ used: number }>()
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
