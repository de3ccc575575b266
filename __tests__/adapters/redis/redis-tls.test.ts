import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { redisAdapter, StashUnavailableError } from '../../../lib/index.js'
import { startRedis, type RedisServer } from '../../support/redis-server.js'

// rediss:// against a real TLS listener, with a certificate made for this run.
let server: RedisServer
let tlsPort: number
let dir: string
let ca: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'express-stash-tls-'))
  const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')]
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  )
  ca = readFileSync(cert, 'utf8')
  tlsPort = await freePort()
  server = await startRedis({
    args: [
      '--tls-port',
      String(tlsPort),
      '--tls-cert-file',
      cert,
      '--tls-key-file',
      key,
      '--tls-ca-cert-file',
      cert,
      '--tls-auth-clients',
      'no',
    ],
  })
})

afterAll(async () => {
  await server?.stop()
  rmSync(dir, { recursive: true, force: true })
})

it('connects over TLS with a rediss:// URL and client options', async () => {
  const adapter = redisAdapter({ url: `rediss://127.0.0.1:${tlsPort}`, socket: { tls: true, ca } })
  await adapter.write('tls', { set: { a: '1' }, del: [], expiresAt: { a: Date.now() + 60_000 } })
  expect((await adapter.load('tls', ['a']))?.values).toEqual(['1'])
  expect(await server.cli('HGET', 'stash:tls', 'a')).toBe('1')
  await adapter.close()
})

it('refuses a server whose certificate it cannot verify, as unavailable', async () => {
  const adapter = redisAdapter(`rediss://127.0.0.1:${tlsPort}`, { timeout: 500 })
  const err = await adapter.load('tls', ['a']).catch((e: unknown) => e)
  expect(err).toBeInstanceOf(StashUnavailableError)
  expect((err as Error).message).toMatch(/self.signed|certificate/i)
  await adapter.close()
})

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number }
      probe.close(() => resolve(port))
    })
    probe.on('error', reject)
  })
}
