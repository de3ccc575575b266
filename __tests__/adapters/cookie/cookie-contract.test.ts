/**
 * The shared adapter contract (`express-stash/testing`) on the cookie adapter, which keeps the
 * records of one request (what its `forRequest()` returns), so that is what the suite drives.
 *
 * - `expiry`, `maxBytes` and `compareAndSet` run on the adapter exactly as a request gets it,
 *   with the browser's limit of 4,096 bytes per cookie.
 * - `records` stores 100 KB values and a record of 1,000 fields, which no cookie can carry: it runs
 *   on the same records without that limit (the limit itself is tested over HTTP, in
 *   cookie-limits.test.ts). Every other rule of the group holds as written.
 * - `admin` is left out: there is no server that keeps the stashes, so there is nothing to list,
 *   count or clear; the admin calls reject with `ERR_STASH_UNSUPPORTED` (cookie-admin.test.ts).
 */
import { RequestRecords } from '../../../lib/adapters/cookie/request-records.js'
import { cookieAdapter, type AdapterRequest } from '../../../lib/index.js'
import { recordContract, runAdapterContract } from '../../../lib/testing/index.js'

const jestGlobals = { describe, test, beforeAll, afterAll }
/** A request without cookies whose headers never go out: the records start empty and live as long as the group. */
const request: AdapterRequest = {
  cookieHeader: undefined,
  cookieName: 'stash',
  secrets: ['cookie contract secret'],
  headersSent: () => false,
}

runAdapterContract(jestGlobals, 'cookie', () => cookieAdapter().forRequest(request), { without: ['admin', 'records'] })
recordContract(
  jestGlobals,
  'cookie (no size limit)',
  () => new RequestRecords(request, { name: undefined, maxSize: Infinity }, () => {}),
)
