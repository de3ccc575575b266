import { execFileSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
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
  // The consumer resolves its other dependencies from the project's own node_modules.
  for (const dependency of ['express', 'express-session', '@types']) {
    symlinkSync(join(root, 'node_modules', dependency), join(consumer, 'node_modules', dependency), 'dir')
  }
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

it('every subpath loads through require() and import, the session store as an express-session Store', () => {
  const cjs = `const { Store } = require('express-session')
const { createStash } = require('express-stash')
const { StashSessionStore } = require('express-stash/session-store')
const { runAdapterContract } = require('express-stash/testing')
const store = new StashSessionStore({ adapter: require('express-stash').memoryAdapter() })
console.log(JSON.stringify([typeof createStash, store instanceof Store, typeof runAdapterContract]))`
  const esm = `import { Store } from 'express-session'
import { createStash, memoryAdapter } from 'express-stash'
import { StashSessionStore } from 'express-stash/session-store'
import { runAdapterContract } from 'express-stash/testing'
const store = new StashSessionStore({ adapter: memoryAdapter() })
console.log(JSON.stringify([typeof createStash, store instanceof Store, typeof runAdapterContract]))`
  expect(run('subpaths.cjs', cjs)).toBe('["function",true,"function"]')
  expect(run('subpaths.mjs', esm)).toBe('["function",true,"function"]')
})

it('the exports map gives every subpath types and code for both conditions, and every file exists', () => {
  const { exports } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    exports: Record<string, string | Record<'import' | 'require', Record<'types' | 'default', string>>>
  }
  expect(Object.keys(exports).sort()).toEqual(['.', './package.json', './session-store', './testing'])
  for (const [subpath, target] of Object.entries(exports)) {
    if (typeof target === 'string') continue
    expect([subpath, Object.keys(target)]).toEqual([subpath, ['import', 'require']])
    for (const condition of ['import', 'require'] as const) {
      // `types` must come first: TypeScript takes the first condition that matches.
      expect(Object.keys(target[condition])).toEqual(['types', 'default'])
      const dir = condition === 'import' ? './dist/esm/' : './dist/cjs/'
      for (const file of Object.values(target[condition])) {
        expect(file.startsWith(dir)).toBe(true)
        expect(existsSync(join(root, file))).toBe(true)
      }
    }
  }
})

// A TypeScript application on the built package (fixtures/consumer/app.ts), compiled by the
// project's own tsc with each module system, then run with node: two requests, one stash
// counter and one express-session counter.
describe.each([
  ['node16', 'commonjs'],
  ['node16', 'module'],
  ['nodenext', 'commonjs'],
  ['nodenext', 'module'],
  ['bundler', 'module'],
])('TypeScript with moduleResolution %s in a "%s" package', (resolution, type) => {
  it('compiles without errors (declarations checked too) and runs', () => {
    const dir = join(consumer, `ts-${resolution}-${type}`)
    mkdirSync(dir)
    copyFileSync(join(__dirname, 'fixtures/consumer/app.ts'), join(dir, 'app.ts'))
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type, private: true }))
    const compilerOptions = {
      module: resolution === 'bundler' ? 'es2022' : resolution,
      moduleResolution: resolution,
      target: 'es2022',
      strict: true,
      esModuleInterop: true,
      skipLibCheck: false,
      types: ['node'],
      outDir: 'out',
    }
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['app.ts'] }))
    const tsc = join(root, 'node_modules/typescript/bin/tsc')
    try {
      execFileSync(process.execPath, [tsc, '-p', dir], { cwd: dir, encoding: 'utf8', timeout: 60_000 })
    } catch (err) {
      throw new Error(`tsc failed:\n${(err as { stdout?: string }).stdout ?? String(err)}`, { cause: err })
    }
    const output = readFileSync(join(dir, 'out/app.js'), 'utf8')
    expect(/\brequire\("express-stash\/session-store"\)/.test(output)).toBe(type === 'commonjs')
    const out = execFileSync(process.execPath, ['out/app.js'], { cwd: dir, encoding: 'utf8', timeout: 20_000 })
    expect(out.trim()).toBe(JSON.stringify(['function', 'ERR_STASH_WRITE', [1, 1], [2, 2]]))
  })
})

/** Writes a preload (`-r ./uninstall-redis.cjs`) under which resolving `redis` or `ioredis` fails, as on a machine where neither is installed. */
function uninstallRedis(): void {
  writeFileSync(
    join(consumer, 'uninstall-redis.cjs'),
    `const Module = require('module')
const resolve = Module._resolveFilename
Module._resolveFilename = function (request, ...rest) {
  if (request === 'redis' || request === 'ioredis') throw Object.assign(new Error('not installed'), { code: 'MODULE_NOT_FOUND' })
  return resolve.call(this, request, ...rest)
}`,
  )
}

it('with a URL but neither redis nor ioredis installed: requests fail clearly, the process does not crash', () => {
  uninstallRedis()
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

it('stash.ready() rejects at boot, naming the package to install, when neither redis nor ioredis is installed', () => {
  uninstallRedis()
  writeFileSync(
    join(consumer, 'ready-without-client.cjs'),
    `const { createStash, redisAdapter } = require('express-stash')
const stash = createStash({ secret: 's', adapter: redisAdapter('redis://127.0.0.1:1') })
stash.ready().then(() => console.log('ready'), (err) => console.log(err.code, err.message)).then(() => stash.close())`,
  )
  const out = execFileSync(process.execPath, ['-r', './uninstall-redis.cjs', 'ready-without-client.cjs'], {
    cwd: consumer,
    encoding: 'utf8',
    timeout: 10_000,
  })
  expect(out.trim()).toMatch(/^ERR_STASH_UNAVAILABLE express-stash: cannot create a Redis client: .*npm install redis$/)
})

it('the published tarball carries a LICENSE, and every source map points at files it ships', () => {
  const [pack] = JSON.parse(
    execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' }),
  ) as [{ files: { path: string }[] }]
  const shipped = new Set(pack.files.map((file) => file.path))
  expect(shipped).toContain('LICENSE')
  const maps = [...shipped].filter((path) => path.endsWith('.map'))
  expect(maps.length).toBeGreaterThan(0)
  const missing = maps.flatMap((map) => {
    const { sources } = JSON.parse(readFileSync(join(root, map), 'utf8')) as { sources: string[] }
    return sources.map((source) => join(map, '..', source)).filter((source) => !shipped.has(source))
  })
  expect(missing).toEqual([])
})
