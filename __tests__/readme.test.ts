/**
 * The README is for users first: its complete app is `examples/shop.ts` word for word, and every
 * TypeScript snippet that is a whole module (it starts with an import) compiles under `strict`
 * against the package, as a user pasting it would compile it.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

const root = resolve(__dirname, '..')
const readme = readFileSync(join(root, 'README.md'), 'utf8')
const snippets = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!)

it("shows examples/shop.ts as the complete app, as it is (after the file's header comment)", () => {
  const shop = readFileSync(join(root, 'examples/shop.ts'), 'utf8')
  const code = shop.slice(shop.indexOf('import '))
  const section = readme.slice(readme.indexOf('## A complete app'), readme.indexOf('## Usage'))
  expect(section).toContain('```ts\n' + code + '```')
})

it('has TypeScript snippets that compile under strict, each a module of its own', () => {
  const modules = snippets.filter((code) => code.startsWith('import '))
  expect(modules.length).toBeGreaterThanOrEqual(4)
  const dir = mkdtempSync(join(root, '.readme-snippets-'))
  try {
    const files = modules.map((code, i) => {
      const file = `snippet-${i}.ts`
      writeFileSync(join(dir, file), code)
      return file
    })
    const compilerOptions = {
      strict: true,
      noEmit: true,
      target: 'ES2022',
      module: 'commonjs',
      moduleResolution: 'node10',
      esModuleInterop: true,
      skipLibCheck: true,
      types: ['node'],
      baseUrl: '.',
      paths: { 'express-stash': ['../lib/index.ts'], 'express-stash/*': ['../lib/*'] },
    }
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files }))
    const tsc = join(root, 'node_modules/typescript/bin/tsc')
    let output = ''
    try {
      execFileSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8' })
    } catch (err) {
      output = (err as { stdout?: string }).stdout ?? String(err)
    }
    // Each file is a module (it imports), so declarations of one snippet never leak into another.
    expect(output).toBe('')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}, 60_000)
