/**
 * Debian's Chromium driven by playwright-core, for the end-to-end tests. The browser is never
 * downloaded: it must be installed (`apt-get install -y chromium`; jest's global setup does it when
 * it runs as root with apt-get); without it the tests fail.
 */
import { accessSync, constants } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'

/** Where Debian's `chromium` package puts the browser. */
export const CHROMIUM_PATH = '/usr/bin/chromium'

/** Launches headless Chromium; throws naming the package to install when it is missing. */
export async function launchChromium(): Promise<Browser> {
  try {
    accessSync(CHROMIUM_PATH, constants.X_OK)
  } catch {
    throw new Error(`${CHROMIUM_PATH} not found: the browser tests need Debian's chromium (apt-get install -y chromium)`)
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking'],
    timeout: 20_000,
  })
}
