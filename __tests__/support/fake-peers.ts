/**
 * Peers that misbehave, for the recovery tests: one that never answers, one that redirects, one
 * that floods its reply; each counts what it was asked and what it managed to send. And a raw
 * TCP client of a peer endpoint, to send what no HTTP client would (a huge declared length, a
 * body trickling in), and see when the server answers and hangs up.
 */
import http from 'node:http'
import net from 'node:net'

/** A server listening on loopback, with its URL and what it counted. */
export interface FakePeer {
  readonly url: string
  /** Requests received (request lines, for the silent peer). */
  requests: number
  /** Body bytes the socket accepted before the connection closed (the flooding peer). */
  sent: number
  close(): Promise<void>
}

function listening(server: net.Server, sockets: Set<net.Socket>, peer: Omit<FakePeer, 'url' | 'close'>): Promise<FakePeer> {
  server.on('connection', (socket: net.Socket) => (sockets.add(socket), socket.on('close', () => sockets.delete(socket))))
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve(
        Object.assign(peer, {
          url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/_stash/peer`,
          close: () => {
            for (const socket of sockets) socket.destroy()
            return new Promise<void>((done) => server.close(() => done()))
          },
        }),
      ),
    ),
  )
}

/** Accepts connections and reads requests, never answers. */
export function silentPeer(): Promise<FakePeer> {
  const peer = { requests: 0, sent: 0 }
  const server = net.createServer((socket) =>
    socket.on('data', (chunk: Buffer) => (peer.requests += chunk.toString('latin1').split('POST /').length - 1)),
  )
  return listening(server, new Set(), peer)
}

/** Answers every request with a `307` to `location` (the request would be POSTed there again). */
export function redirectingPeer(location: string): Promise<FakePeer> {
  const peer = { requests: 0, sent: 0 }
  const server = http.createServer((req, res) => {
    peer.requests++
    req.resume()
    res.writeHead(307, { location }).end()
  })
  return listening(server, new Set(), peer)
}

/**
 * Answers 200 with up to `limit` bytes of body, as fast as the connection takes them, with the
 * `content-length` of `declared` (none: chunked). Counts the bytes the socket accepted.
 */
export function floodingPeer(limit: number, declared?: number): Promise<FakePeer> {
  const peer = { requests: 0, sent: 0 }
  const chunk = Buffer.alloc(64 * 1024, 'A')
  const server = http.createServer((req, res) => {
    peer.requests++
    req.resume()
    res.writeHead(200, declared === undefined ? {} : { 'content-length': String(declared) })
    let closed = false
    res.on('close', () => (closed = true))
    const pump = () => {
      while (!closed && peer.sent < limit) {
        const more = res.write(chunk, (err) => err == null && !closed && (peer.sent += chunk.length))
        if (!more) return void res.once('drain', pump)
      }
      if (!closed) res.end()
    }
    pump()
  })
  return listening(server, new Set(), peer)
}

/** What a raw client saw: the status of the answer (0: none), and when it came and the server hung up. */
export interface RawOutcome {
  readonly status: number
  /** Milliseconds from the connection to the status line; undefined without one. */
  readonly answeredMs: number | undefined
  /** Milliseconds from the connection to its end (server hung up, or `waitMs` passed). */
  readonly closedMs: number
  /** Whether the server closed the connection within `waitMs`. */
  readonly closedByServer: boolean
  /** Body bytes this client managed to write. */
  readonly written: number
}

/**
 * Connects to `port`, writes `head` (request line and headers), then calls `feed(write)` to send
 * the body its way; waits until the server hangs up or `waitMs` passes, whichever comes first.
 */
export function rawRequest(
  port: number,
  head: string,
  feed: (write: (data: string | Buffer) => boolean, socket: net.Socket) => void,
  waitMs: number,
): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const started = performance.now()
    const socket = net.connect(port, '127.0.0.1')
    let text = ''
    let answeredMs: number | undefined
    let written = 0
    let ended = false
    const finish = (closedByServer: boolean) => {
      if (ended) return
      ended = true
      clearTimeout(timer)
      socket.destroy()
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)
      resolve({ status, answeredMs, closedMs: performance.now() - started, closedByServer, written })
    }
    const timer = setTimeout(() => finish(false), waitMs)
    socket.on('data', (chunk: Buffer) => {
      if (text === '') answeredMs = performance.now() - started
      text += chunk.toString('latin1')
    })
    socket.on('end', () => finish(true))
    socket.on('close', () => finish(true))
    socket.on('error', () => {}) // a reset is the server hanging up; 'close' follows
    socket.on('connect', () => {
      socket.write(head)
      feed((data) => {
        if (ended || socket.destroyed) return false
        written += Buffer.byteLength(data)
        return socket.write(data)
      }, socket)
    })
  })
}
