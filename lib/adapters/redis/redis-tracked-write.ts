/**
 * The write script as the near cache's data connection runs it: the same script, then a read of
 * the record's key, inside the same atomic run.
 *
 * The data connection tracks in default mode with NOLOOP (redis-tracking.ts): Redis reports a
 * change of a key the connection read, except a change the connection makes itself, and after a
 * change it forgets the key for every connection (so it would report no later one). Reading the
 * key back as the script's last step makes Redis track it again for the connection that ran the
 * script (Redis counts a read inside a script as its caller's): the writer keeps its own copy, so
 * a cached counter++ costs one round trip, and still hears of the next change by anyone else.
 * @module
 */
import { script, WRITE, type RedisScript } from './redis-scripts.js'

/** WRITE run as a function, then `HEXISTS` of its key (a read that changes nothing). */
const WRITE_READING_BACK = script(
  `local function run()\n${WRITE.source}\nend\nlocal reply = run()\nredis.call('HEXISTS', KEYS[1], '')\nreturn reply\n`,
)

/**
 * The script to run on a connection that tracks in default mode: WRITE, whose result the near
 * cache keeps, reads its key back last; any other script runs as it is (the cache forgets what
 * the others change).
 */
export function trackedVariant(called: RedisScript): RedisScript {
  return called === WRITE ? WRITE_READING_BACK : called
}
