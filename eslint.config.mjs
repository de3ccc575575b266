// @ts-check
/**
 * ESLint flat config: typescript-eslint's type-checked recommended rules on lib, the tests, the
 * benchmarks and the examples (each file checked against the tsconfig that compiles it), size
 * limits on lib, and eslint-config-prettier last so that formatting is Prettier's alone.
 */
import js from '@eslint/js'
import prettier from 'eslint-config-prettier'
import { defineConfig } from 'eslint/config'
import tseslint from 'typescript-eslint'

/** Node's globals, for the plain JavaScript files (TypeScript checks the .ts files itself). */
const nodeGlobals = {
  Buffer: 'readonly',
  URL: 'readonly',
  __dirname: 'readonly',
  clearInterval: 'readonly',
  clearTimeout: 'readonly',
  console: 'readonly',
  process: 'readonly',
  setInterval: 'readonly',
  setTimeout: 'readonly',
}

export default defineConfig(
  { ignores: ['dist/', 'coverage/', '.readme-snippets-*/', 'bench/results/', 'bench/.build/'] },
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        // Each file is checked by the project that compiles it (bench/ is in the tests' project).
        project: ['./tsconfig.json', './__tests__/tsconfig.json', './__tests__/types/tsconfig.json', './examples/tsconfig.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // A leading underscore marks a parameter that must be declared but is not used: Express
      // error handlers need four parameters, contract stubs keep the interface's signature.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // `async` without `await` is deliberate: it implements Promise-returning contracts (adapter
      // methods, clients) and turns a synchronous throw into a rejection.
      '@typescript-eslint/require-await': 'off',
      // Objects here are closures (adapters, drivers, test APIs) typed with method syntax, so
      // taking a method off one is safe; the prototype methods captured in response-hooks are
      // re-bound with `apply`.
      '@typescript-eslint/unbound-method': 'off',
      // Passing on a caught error unchanged (`reject(err)` in a catch) is not inventing a non-Error.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
      // StashSessionStore's methods take express-session's callback and also return a promise,
      // on purpose (either style works); every other void-return check stays on.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { inheritedMethods: false } }],
    },
  },
  {
    files: ['lib/**/*.ts'],
    rules: {
      'max-lines': ['error', { max: 300, skipBlankLines: false, skipComments: false }],
      'max-lines-per-function': ['error', { max: 60, skipBlankLines: true, skipComments: true }],
    },
  },
  {
    files: ['__tests__/**/*.ts'],
    rules: {
      // supertest's `res.body`, `JSON.parse` and mocked drivers are `any`; asserting on them with
      // `expect` is what the tests do, so the unsafe-* rules would only add casts.
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    files: ['__tests__/types/**/*.ts'],
    rules: {
      // Type tests declare values only to check their types (their tsconfig sets noUnusedLocals: false).
      '@typescript-eslint/no-unused-vars': 'off',
    },
  },
  {
    files: ['examples/**/*.ts'],
    rules: {
      // The examples (shop.ts is the README's app) read Express's `any` req.body the way apps do:
      // into an `unknown` (`const item: unknown = req.body?.item`), then check its type.
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
  // Plain JavaScript (configs, the .cjs apps the tests spawn) and the consumer fixture (compiled
  // against the built package by package.test.ts, so in no project): no type information.
  {
    files: ['**/*.js', '**/*.cjs', '**/*.mjs', '__tests__/fixtures/**'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { parserOptions: { project: false, program: null } },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: nodeGlobals },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  prettier,
)
