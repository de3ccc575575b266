/**
 * dependency-cruiser config for `npm run lint` (`depcruise lib --config .dependency-cruiser.cjs`):
 * the layering of lib/ as rules. Each rule names what a folder may import (its allowed list);
 * node built-ins and npm packages are never restricted. Type-only imports count like any other.
 *
 * The layers, bottom up: values/ (codec, ids, the bounded map) and cookie/ (the signed ID
 * cookie); store/ (the adapter contract and the call wrapper); peers/ (cross-node transport);
 * adapters/; the shared vocabulary files (options, types, json-types, errors, log), which may use
 * values/, cookie/ and store/; request/ (per-request state);
 * the instance (create-stash.ts, admin.ts) and the faces (index.ts, session-store/, testing/).
 */

/** A lib/ module: anything else (node:*, packages) is outside these rules. */
const LIB = '^lib/'
/** Errors and logging: every layer may use them. */
const ERRORS_AND_LOG = '^lib/(errors|log)[.]ts$'
/** The shared vocabulary of the public API. */
const VOCABULARY = '^lib/(options|types|json-types|errors|log)[.]ts$'

/** A rule that `from` imports nothing in lib/ outside `allowed` (regular expressions on paths). */
function onlyImports(name, comment, from, allowed) {
  return { name, comment, severity: 'error', from: { path: from }, to: { path: LIB, pathNot: allowed } }
}

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment:
        'An import cycle (type-only imports included) means two modules cannot be understood, tested or ' +
        'moved apart; it also makes module initialisation order fragile. Move the shared part down a layer.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-orphans',
      comment:
        'A lib/ module that imports nothing from lib/ and that nothing imports is dead code (or a forgotten ' +
        'entry point): delete it, or import it where it belongs.',
      severity: 'error',
      from: { orphan: true, path: LIB, pathNot: '[.]d[.]ts$' },
      to: {},
    },
    {
      name: 'lib-not-to-tests-bench-examples',
      comment: 'The published package is lib/ alone: it cannot depend on the tests, the benchmarks or the examples.',
      severity: 'error',
      from: { path: LIB },
      to: { path: '^(__tests__|bench|examples)/' },
    },
    {
      name: 'no-import-of-index',
      comment:
        'lib/index.ts is the public face: it re-exports everything, so importing it from inside lib creates ' +
        'cycles and hides the real dependency. Import the module that defines the name.',
      severity: 'error',
      from: { path: LIB },
      to: { path: '^lib/index[.]ts$' },
    },
    onlyImports(
      'values-self-contained',
      'values/ (codec, ids, reserved names, verified values) is the bottom layer: pure functions on strings ' +
        'and bytes, knowing nothing of cookies, stores, requests or options.',
      '^lib/values/',
      ['^lib/values/', ERRORS_AND_LOG],
    ),
    onlyImports(
      'cookie-only-values',
      'cookie/ signs and verifies the ID cookie: it may use values/ (hashing) but nothing above it (no store, ' +
        'no request, no options), so that it can be reasoned about and tested on its own.',
      '^lib/cookie/',
      ['^lib/(cookie|values)/', ERRORS_AND_LOG],
    ),
    onlyImports(
      'store-below-requests',
      'store/ is the adapter contract and the call wrapper (timeouts, outage policy, breaker, stats): it knows ' +
        'values and errors, never the request, cookie, peers or a concrete adapter.',
      '^lib/store/',
      ['^lib/(store|values)/', ERRORS_AND_LOG],
    ),
    onlyImports(
      'peers-transport-only',
      'peers/ is cross-node transport (protocol, hints, cluster IPC, HTTP, relay): it speaks the store contract ' +
        'and uses the pure values/ layer (the bounded map), and nothing else, so no adapter, request, cookie or ' +
        'public option type leaks into the wire code.',
      '^lib/peers/',
      ['^lib/(peers|store|values)/', ERRORS_AND_LOG],
    ),
    onlyImports(
      'memory-adapter-no-http',
      'The memory adapter stores records: it may use the store contract, peers/ (cross-node recovery) and ' +
        'values/, but knows nothing of HTTP, cookies, req.stash or the instance options.',
      '^lib/adapters/memory/',
      ['^lib/(adapters/memory|store|peers|values)/', ERRORS_AND_LOG],
    ),
    onlyImports(
      'redis-adapter-no-http',
      'The Redis adapter stores records: it may use the store contract and values/, but knows nothing of ' +
        'HTTP, cookies, req.stash, the instance options or the peers (recovery between nodes is memory-only).',
      '^lib/adapters/redis/',
      ['^lib/(adapters/redis|store|values)/', ERRORS_AND_LOG],
    ),
    onlyImports(
      'cookie-adapter-no-request',
      'The cookie adapter seals records into the client\'s cookie: it may use the store contract (its hooks ' +
        'forRequest and responseCookies are all it knows of a request), never req.stash, the ID cookie code, the ' +
        'options or another adapter.',
      '^lib/adapters/cookie/',
      ['^lib/(adapters/cookie|store)/', ERRORS_AND_LOG],
    ),
    onlyImports(
      'passport-over-the-public-api',
      'passport/ (stashSession) builds req.session over req.stash: it may use the vocabulary and find the ' +
        'request state behind a req.stash, never an adapter, the store or the instance.',
      '^lib/passport/',
      ['^lib/passport/', '^lib/request/request-state[.]ts$', VOCABULARY],
    ),
    onlyImports(
      'vocabulary-imports-vocabulary',
      'options, types, json-types, errors and log are the shared vocabulary that request/ and the instance ' +
        'build on: they may import each other and the layers below request/ (values/, cookie/, store/), never ' +
        'request/ itself. A public interface they need (StashCookie, StashAdmin...) belongs in types.ts, not in ' +
        'the layer that implements it.',
      VOCABULARY,
      [VOCABULARY, '^lib/(values|cookie|store)/'],
    ),
    onlyImports(
      'request-no-instance-or-adapters',
      'request/ is per-request state on top of cookie/, values/, store/ and the vocabulary; it must not know ' +
        'a concrete adapter, the peers, the session store or the instance that wires it all (create-stash, ' +
        'admin, index), or the layers would cycle.',
      '^lib/request/',
      ['^lib/(request|cookie|values|store|tracing)/', VOCABULARY],
    ),
    onlyImports(
      'tracing-below-requests',
      'tracing/ publishes loads and commits on node:diagnostics_channel: it knows the store contract (what a ' +
        'write resolves to) and the log labels, never the request, cookie or an adapter, so that what it publishes ' +
        'cannot reach an ID.',
      '^lib/tracing/',
      ['^lib/(tracing|store)/', ERRORS_AND_LOG],
    ),
    onlyImports(
      'session-store-independent',
      'session-store/ is a separate entry point (express-session Store): it builds on the store contract, the ' +
        'memory adapter (its default) and values/, never on the stash middleware or its options.',
      '^lib/session-store/',
      ['^lib/(session-store|store|adapters/memory|values)/', ERRORS_AND_LOG],
    ),
    onlyImports(
      'testing-contract-only',
      'testing/ (the adapter contract suite) is a separate entry point that tests any StashAdapter: it may ' +
        'only use the store contract and the errors, so that it tests the contract and not one implementation.',
      '^lib/testing/(?!app-)',
      ['^lib/(testing|store)/', '^lib/errors[.]ts$'],
    ),
    onlyImports(
      'testing-app-helpers',
      'testing/app-*.ts (seedStash, readStash) write and read a stash as its instance would: they may use the ' +
        'request helpers, the cookie, values and store layers and the vocabulary, never a concrete adapter or the instance.',
      '^lib/testing/app-',
      ['^lib/(testing|request|cookie|values|store)/', VOCABULARY],
    ),
  ],
  options: {
    // Type-only imports are dependencies too: a cycle through `import type` is still a cycle.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    // dist/ is compiled output, .d.ts shims are not modules of lib.
    exclude: { path: '^(dist|node_modules)/' },
  },
}
