/**
 * `express-stash/session-store`: an express-session store on any express-stash adapter.
 * @module
 */
export * from './session-store.js'
