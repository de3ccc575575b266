/** Methods of `req.stash`: their names cannot be data keys. */
export const STASH_METHODS = Object.freeze(['save', 'reset', 'rotate', 'update', 'available', 'cookie'] as const)

/**
 * Names a stored key may not use: the stash's methods, everything on `Object.prototype`
 * (`constructor`, `__proto__`, `toString`, ...), `then` (it would make `req.stash` a thenable)
 * and `toJSON` (it would hijack `JSON.stringify(req.stash)`).
 */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([
  ...STASH_METHODS,
  ...Object.getOwnPropertyNames(Object.prototype),
  'prototype',
  'then',
  'toJSON',
])
