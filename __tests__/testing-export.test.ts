import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { memoryAdapter } from '../lib/index.js'
import { runAdapterContract, type ContractOptions } from '../lib/testing/index.js'

// `express-stash/testing` from the built package, run by node:test (`node --test`) the way a
// third-party adapter's own tests would. `npm test` builds first.
const root = resolve(__dirname, '..')
let consumer: string

beforeAll(() => {
  if (!existsSync(join(root, 'dist/esm/testing/index.js'))) throw new Error('dist/ is missing: run `npm run build`')
  consumer = mkdtempSync(join(tmpdir(), 'express-stash-testing-'))
  mkdirSync(join(consumer, 'node_modules'))
  symlinkSync(root, join(consumer, 'node_modules/express-stash'), 'dir')
})

afterAll(() => rmSync(consumer, { recursive: true, force: true }))

/** How many tests the suite registers with these options (counted, not run). */
function contractSize(options: ContractOptions = {}): number {
  let tests = 0
  const counting = { describe: (_: string, fn: () => void) => fn(), test: () => void tests++, before() {}, after() {} }
  runAdapterContract(counting, 'count', () => memoryAdapter(), options)
  return tests
}

/** Runs `node --test` on one file of the consumer; resolves to its TAP summary and exit code. */
async function nodeTest(file: string, source: string): Promise<{ code: number; pass: number; fail: number; tap: string }> {
  writeFileSync(join(consumer, file), source)
  const { code, stdout } = await promisify(execFile)(process.execPath, ['--test', '--test-reporter=tap', file], {
    cwd: consumer,
    timeout: 120_000,
  }).then(
    ({ stdout }) => ({ code: 0, stdout }),
    (err: { code?: number; stdout?: string }) => ({ code: err.code ?? -1, stdout: err.stdout ?? '' }),
  )
  const count = (name: string) => Number(new RegExp(`^# ${name} (\\d+)$`, 'm').exec(stdout)?.[1] ?? NaN)
  return { code, pass: count('pass'), fail: count('fail'), tap: stdout }
}

const header = `import { after, before, describe, test } from 'node:test'
import { memoryAdapter } from 'express-stash'
import { runAdapterContract } from 'express-stash/testing'
`

test('node --test: memoryAdapter passes every test of the contract', async () => {
  const run = await nodeTest(
    'memory.test.mjs',
    `${header}runAdapterContract({ describe, test, before, after }, 'memory', () => memoryAdapter())\n`,
  )
  expect({ code: run.code, fail: run.fail, pass: run.pass }).toEqual({ code: 0, fail: 0, pass: contractSize() })
  for (const group of ['records', 'expiry', 'maxBytes', 'compareAndSet', 'admin']) {
    expect(run.tap).toContain(`memory adapter contract: ${group}`)
  }
}, 120_000)

test('node --test: an adapter whose writes ignore `del` fails the contract, and says where', async () => {
  // A real memory adapter, with one deliberate bug: removed fields are never removed.
  const broken = `const broken = () => {
  const inner = memoryAdapter()
  return { ...inner, kind: 'broken', write: (key, change) => inner.write(key, { ...change, del: [] }) }
}
runAdapterContract({ describe, test, before, after }, 'broken', broken, { without: ['expiry', 'admin'] })
`
  const run = await nodeTest('broken.test.mjs', header + broken)
  const size = contractSize({ without: ['expiry', 'admin'] })
  expect(run.code).toBe(1)
  expect(run.fail).toBeGreaterThanOrEqual(2)
  expect(run.pass + run.fail).toBe(size)
  expect(run.tap).toMatch(/not ok \d+ - a write with `del` removes those fields and keeps the others/)
  expect(run.tap).toMatch(/not ok \d+ - deleting the last field deletes the record/)
  expect(run.tap).toContain('Expected values to be strictly deep-equal')
}, 120_000)

test('runAdapterContract refuses test functions it cannot use, before registering anything', () => {
  const factory = () => memoryAdapter()
  expect(() => runAdapterContract({ describe, test }, 'x', factory)).toThrow(/need `beforeAll \(or before\)`/)
  expect(() => runAdapterContract({ describe, test, beforeAll, afterAll }, 'x', 'adapter' as never)).toThrow(TypeError)
  expect(() =>
    runAdapterContract({ describe, test, beforeAll, afterAll }, 'x', factory, { without: ['cache' as never] }),
  ).toThrow(/unknown group "cache"/)
})
