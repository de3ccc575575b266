import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

// The built package, consumed by name through its `exports` map, as an installed dependency.
// `npm test` builds first; run `npm run build` before running this file alone.
const root = resolve(__dirname, '..')
let consumer: string

beforeAll(() => {
  if (!existsSync(join(root, 'dist/cjs/index.js')) || !existsSync(join(root, 'dist/esm/index.js'))) {
    throw new Error('dist/ is missing: run `npm run build` (npm test does it first)')
  }
  consumer = mkdtempSync(join(tmpdir(), 'express-stash-consumer-'))
  mkdirSync(join(consumer, 'node_modules'))
  symlinkSync(root, join(consumer, 'node_modules/express-stash'), 'dir')
  // The consumer resolves express from the project's own node_modules.
  symlinkSync(join(root, 'node_modules/express'), join(consumer, 'node_modules/express'), 'dir')
})

afterAll(() => rmSync(consumer, { recursive: true, force: true }))

function run(file: string, source: string): string {
  writeFileSync(join(consumer, file), source)
  return execFileSync(process.execPath, [file], { cwd: consumer, encoding: 'utf8', timeout: 20_000 }).trim()
}

// Starts an app on the built package, makes two requests with one cookie, prints the counts.
const roundTrip = `
const app = express()
const stash = createStash({ secret: 's', storedKeys: ['count'] })
app.use(stash)
app.get('/', (req, res) => { req.stash.count = (req.stash.count ?? 0) + 1; res.json(req.stash.count) })
const server = app.listen(0, async () => {
  const url = 'http://127.0.0.1:' + server.address().port + '/'
  const first = await fetch(url)
  const cookie = first.headers.get('set-cookie').split(';')[0]
  const second = await fetch(url, { headers: { cookie } })
  console.log(JSON.stringify([typeof memoryAdapter, new StashError('ERR_STASH_WRITE', 'x').code, await first.json(), await second.json()]))
  server.close(); await stash.close()
})`

const expected = JSON.stringify(['function', 'ERR_STASH_WRITE', 1, 2])

it('works through require()', () => {
  const out = run(
    'consumer.cjs',
    `const express = require('express')\nconst { createStash, memoryAdapter, StashError } = require('express-stash')\n${roundTrip}`,
  )
  expect(out).toBe(expected)
})

it('works through import', () => {
  const out = run(
    'consumer.mjs',
    `import express from 'express'\nimport { createStash, memoryAdapter, StashError } from 'express-stash'\n${roundTrip}`,
  )
  expect(out).toBe(expected)
})

it('ships type declarations for both entry points', () => {
  for (const file of ['dist/cjs/index.d.ts', 'dist/esm/index.d.ts']) expect(existsSync(join(root, file))).toBe(true)
  expect(run('format.cjs', `console.log(require('express-stash/package.json').exports['.'].require.types)`)).toBe(
    './dist/cjs/index.d.ts',
  )
})

it('with a URL but neither redis nor ioredis installed: requests fail clearly, the process does not crash', () => {
  // Resolution of both packages fails, as on a machine where neither is installed.
  writeFileSync(
    join(consumer, 'uninstall-redis.cjs'),
    `const Module = require('module')
const resolve = Module._resolveFilename
Module._resolveFilename = function (request, ...rest) {
  if (request === 'redis' || request === 'ioredis') throw Object.assign(new Error('not installed'), { code: 'MODULE_NOT_FOUND' })
  return resolve.call(this, request, ...rest)
}`,
  )
  writeFileSync(
    join(consumer, 'no-client.cjs'),
    `const { redisAdapter } = require('express-stash')
const adapter = redisAdapter('redis://127.0.0.1:1')
setTimeout(() => adapter.load('x', ['a']).catch((err) => console.log(err.code, err.message)), 100)`,
  )
  const out = execFileSync(process.execPath, ['-r', './uninstall-redis.cjs', 'no-client.cjs'], {
    cwd: consumer,
    encoding: 'utf8',
  })
  expect(out.trim()).toBe(
    'ERR_STASH_UNAVAILABLE express-stash: cannot create a Redis client: redisAdapter with a URL needs the `redis` (node-redis) or `ioredis` package: npm install redis',
  )
})
