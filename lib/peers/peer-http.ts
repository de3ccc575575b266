/**
 * The HTTP transport of cross-node recovery: the {@link PeerLink} between hosts (or independent
 * processes), the endpoint answering the other nodes (`adapter.peerHandler`), and the bounded
 * POST that asks them.
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { nodeHint } from './node-hint.js'
import type { Peer, PeerLink } from './peer-link.js'
import { MAX_REQUEST_CHARS } from './peer-protocol.js'

/** Media type of move requests and replies: no body parser of an application touches it. */
const MEDIA_TYPE = 'application/x-express-stash-move'
/** Milliseconds a peer has to send a whole request body once its headers are in (a genuine one is one packet). */
export const BODY_TIMEOUT_MS = 3000
/**
 * Longest reply read from a peer, in bytes: an encrypted record of the default `maxBytes` (1 MiB)
 * is under 1.5 MiB, and even one whose every character JSON escapes stays below this.
 */
export const MAX_REPLY_BYTES = 8 * 1024 * 1024

/**
 * The internal endpoint answering peers' move requests, from the memory adapter with HTTP
 * `peers`. Mount it with `app.use('/_stash/peer', adapter.peerHandler)`, or serve it on a port
 * of its own with `http.createServer(adapter.peerHandler)`. Only `POST` with an authenticated
 * request gets an answer; anything else gets the same 401 without the store being looked at.
 * A body declared or sent longer than a request can be gets 413 without being read further, one
 * not complete within {@link BODY_TIMEOUT_MS} gets 408; both close the connection.
 */
export type PeerHandler = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void

/** The HTTP link between hosts (or independent processes): `self` is this node's URL among `urls`. */
export function httpLink(self: string, urls: readonly string[]): PeerLink & { readonly handler: PeerHandler } {
  let answer: Answer | undefined
  let peers: readonly Peer[] = []
  return {
    name: self,
    handler: peerEndpoint(() => answer),
    start(keys, _hint, answerRequest) {
      answer = answerRequest
      peers = urls.map((url) => ({ hint: nodeHint(keys, url), ask: (request, giveUpAfter) => post(url, request, giveUpAfter) }))
    },
    peers: () => peers,
    close() {
      answer = undefined
      peers = []
    },
  }
}

/** Turns a request text into the sealed reply text, or `undefined` when the request is refused. */
type Answer = (request: string) => string | undefined

/**
 * The {@link PeerHandler} of a node: reads the request body within the bounds, then answers
 * with `answerOf()` (503 while it is `undefined`: the link has not started, or has closed).
 */
function peerEndpoint(answerOf: () => Answer | undefined): PeerHandler {
  return function stashPeerEndpoint(req, res) {
    if (req.method !== 'POST') return reply(res, 405, 'express-stash: peer endpoint accepts POST only')
    if (!(Number(req.headers['content-length'] ?? 0) <= MAX_REQUEST_CHARS)) {
      return refuseAndClose(req, res, 413, 'express-stash: peer request too large') // refused unread
    }
    let body = ''
    const done = () => {
      clearTimeout(timer)
      req.off('data', onData).off('end', onEnd)
    }
    const refuse = (status: number, message: string) => (done(), refuseAndClose(req, res, status, message))
    const onData = (chunk: string) => {
      body += chunk
      if (body.length > MAX_REQUEST_CHARS) refuse(413, 'express-stash: peer request too large')
    }
    const onEnd = () => {
      done()
      const answer = answerOf()
      if (answer === undefined) return reply(res, 503, 'express-stash: peer endpoint not ready (no stash uses this adapter yet)')
      const sealed = answer(body)
      if (sealed === undefined) return reply(res, 401, 'express-stash: unauthenticated peer request')
      res.writeHead(200, { 'content-type': MEDIA_TYPE, 'cache-control': 'no-store' }).end(sealed)
    }
    // The whole body within the bound, however slowly it trickles in.
    const timer = setTimeout(() => refuse(408, 'express-stash: peer request too slow'), BODY_TIMEOUT_MS).unref()
    req.setEncoding('utf8')
    req.on('data', onData).on('end', onEnd)
    req.on('error', () => (done(), res.destroy()))
    req.on('close', () => clearTimeout(timer))
  }
}

/**
 * POSTs a request to a peer; the reply text, or `undefined` for anything but a 200 within
 * `giveUpAfter` ms of at most {@link MAX_REPLY_BYTES}. Redirects are failures, never followed,
 * and a reply is read only up to the cap (its declared length first): a peer cannot make this
 * node send the request elsewhere or buffer more than that.
 */
async function post(url: string, body: string, giveUpAfter: number): Promise<string | undefined> {
  const abort = new AbortController()
  // A late reply is worth waiting for only while something else keeps the process running.
  const timer = setTimeout(() => abort.abort(), giveUpAfter).unref()
  try {
    const res = await fetch(url, {
      method: 'POST',
      body,
      headers: { 'content-type': MEDIA_TYPE },
      redirect: 'error',
      signal: abort.signal,
    })
    if (res.status !== 200 || res.body === null || !(Number(res.headers.get('content-length') ?? 0) <= MAX_REPLY_BYTES)) {
      return undefined
    }
    const chunks: Uint8Array[] = []
    let bytes = 0
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      bytes += chunk.byteLength
      if (bytes > MAX_REPLY_BYTES) return undefined
      chunks.push(chunk)
    }
    return Buffer.concat(chunks).toString('utf8')
  } catch {
    return undefined // refused, reset, redirected or too slow: this peer does not answer
  } finally {
    clearTimeout(timer)
    abort.abort() // whatever of the reply is unread is not read: the connection is closed
  }
}

/** Answers with a plain-text status message. */
function reply(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end(message + '\n')
}

/** Answers and closes the connection without reading the rest of the request. */
function refuseAndClose(req: IncomingMessage, res: ServerResponse, status: number, message: string): void {
  req.pause()
  if (res.headersSent) return void req.socket.destroy()
  res.once('finish', () => req.socket.destroy())
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', connection: 'close' })
  res.end(message + '\n')
}
