/**
 * Jest's global setup: makes sure Debian's Chromium is there for the browser tests. On a machine
 * without it where the tests run as root with apt-get (a fresh Debian machine or container), it
 * installs the `chromium` package once, before any test starts, so that `npm ci && npm test` is
 * all a newcomer runs. Elsewhere it does nothing: the browser tests then fail naming the package.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
// Without `.js`: the global setup is loaded outside jest's moduleNameMapper.
import { CHROMIUM_PATH } from './chromium'

export default function globalSetup(): void {
  if (existsSync(CHROMIUM_PATH) || process.getuid?.() !== 0 || !existsSync('/usr/bin/apt-get')) return
  console.log(`\n${CHROMIUM_PATH} is missing: installing Debian's chromium for the browser tests (apt-get, about 30 s)`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const install = () =>
    spawnSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: ['ignore', 'ignore', 'inherit'], env })
  // A fresh machine may have no package lists yet: fetch them and try once more.
  if (install().status !== 0 && spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env }).status === 0) install()
}
