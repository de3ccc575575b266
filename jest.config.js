/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/__tests__/tsconfig.json' }] },
  // Sources import with `.js` extensions (for the ESM build); map them back to the .ts files.
  // Examples import the package by name; in tests that is the source.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1', '^express-stash$': '<rootDir>/lib/index.ts' },
  testTimeout: 30_000,
  // Installs Debian's Chromium for the browser tests when it is missing and apt-get can (as root).
  globalSetup: '<rootDir>/__tests__/support/global-setup.ts',
  // Most tests wait on real Redis servers and short real TTLs, not on the CPU.
  maxWorkers: 2,
}
