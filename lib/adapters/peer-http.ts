import type { IncomingMessage, ServerResponse } from 'node:http'
import { nodeHint } from '../node-hint.js'
import type { Peer, PeerLink } from './memory-peers.js'
import { MAX_REQUEST_CHARS } from './peer-protocol.js'

/** Media type of move requests and replies: no body parser of an application touches it. */
const MEDIA_TYPE = 'application/x-express-stash-move'

/**
 * The internal endpoint answering peers' move requests, from the memory adapter with HTTP
 * `peers`. Mount it with `app.use('/_stash/peer', adapter.peerHandler)`, or serve it on a port
 * of its own with `http.createServer(adapter.peerHandler)`. Only `POST` with an authenticated
 * request gets an answer; anything else gets the same 401 without the store being looked at.
 */
export type PeerHandler = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void

/** The HTTP link between hosts (or independent processes): `self` is this node's URL among `urls`. */
export function httpLink(self: string, urls: readonly string[]): PeerLink & { readonly handler: PeerHandler } {
  let answer: ((request: string) => string | undefined) | undefined
  let peers: readonly Peer[] = []

  const handler: PeerHandler = function stashPeerEndpoint(req, res) {
    if (req.method !== 'POST') return reply(res, 405, 'express-stash: peer endpoint accepts POST only')
    let body = ''
    let tooLarge = false
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => {
      body += chunk
      if (body.length > MAX_REQUEST_CHARS) tooLarge = true
      if (tooLarge) body = ''
    })
    req.on('error', () => res.destroy())
    req.on('end', () => {
      if (tooLarge) return reply(res, 413, 'express-stash: peer request too large')
      if (answer === undefined) return reply(res, 503, 'express-stash: peer endpoint not ready (no stash uses this adapter yet)')
      const sealed = answer(body)
      if (sealed === undefined) return reply(res, 401, 'express-stash: unauthenticated peer request')
      res.writeHead(200, { 'content-type': MEDIA_TYPE, 'cache-control': 'no-store' }).end(sealed)
    })
  }

  return {
    name: self,
    handler,
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

async function post(url: string, body: string, giveUpAfter: number): Promise<string | undefined> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      body,
      headers: { 'content-type': MEDIA_TYPE },
      signal: AbortSignal.timeout(giveUpAfter),
    })
    const text = await res.text()
    return res.status === 200 ? text : undefined
  } catch {
    return undefined // refused, reset or too slow: this peer does not answer
  }
}

function reply(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end(message + '\n')
}
