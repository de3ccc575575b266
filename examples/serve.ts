import { createServer, type RequestListener, type Server } from 'node:http'

/** What an example's `createApp()` returns: the request handler, and the stash to close. */
export interface ExampleApp {
  readonly app: RequestListener
  readonly stash: { close(): Promise<void> }
  /** Ends the app's long-lived responses (event streams), so that shutting down need not wait for them. */
  readonly endStreams?: () => void
}

/** Milliseconds the requests still running at a shutdown get before their connections are closed. */
export const SHUTDOWN_GRACE_MS = 2000

/**
 * Milliseconds after the signal at which a process still alive exits with code 1 anyway: a last
 * resort that a clean shutdown never reaches (it ends with nothing left to keep the process alive).
 */
export const SHUTDOWN_FORCE_MS = 4000

/** Where examples listen: `PORT` (default 3000; 0 for any free port) and `HOST` (default: every interface). */
export function listenAddress(): { port: number; host: string | undefined } {
  return { port: Number(process.env.PORT ?? 3000), host: process.env.HOST || undefined }
}

/** The URL a listening server answers on, for the "listening on" line. */
export function urlOf(server: Server, host: string | undefined): string {
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : listenAddress().port
  return `http://${host ?? 'localhost'}:${port}`
}

/**
 * Starts an example when it is run as the main module: listens on {@link listenAddress}, prints
 * the URL, and shuts down on SIGTERM / SIGINT ({@link shutDownOnSignals}).
 */
export function serveExample(name: string, example: ExampleApp, note = ''): Server {
  const { port, host } = listenAddress()
  const server = createServer(example.app)
  server.listen({ port, host }, () => console.log(`express-stash ${name} example listening on ${urlOf(server, host)}${note}`))
  shutDownOnSignals(server, example)
  return server
}

/**
 * A graceful shutdown on SIGTERM (a process manager) and SIGINT (Ctrl-C): stops accepting
 * connections, closes idle keep-alive connections (and each one as soon as its request is
 * answered), ends event streams, closes what still runs after {@link SHUTDOWN_GRACE_MS}, then
 * closes the stash and calls `done`. The process then exits by itself, with code 0: nothing of
 * the server or the stash is left to keep it alive. Repeated signals are ignored (in a cluster,
 * Ctrl-C reaches a worker twice: from the terminal and from the primary); if the process is
 * still alive after {@link SHUTDOWN_FORCE_MS}, it exits with code 1. Returns the shutdown, for
 * other triggers (a cluster primary's message).
 */
export function shutDownOnSignals(
  server: Server,
  example: ExampleApp,
  done: () => void = () => {},
): (signal: NodeJS.Signals) => void {
  let stopping = false
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return
    stopping = true
    console.log(`express-stash example: ${signal}, shutting down`)
    forceExitAfter(SHUTDOWN_FORCE_MS)
    // A browser keeps its connection open after each response: close those as they fall idle.
    const idle = setInterval(() => server.closeIdleConnections(), 50).unref()
    const grace = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS).unref()
    server.close(() => {
      clearInterval(idle)
      clearTimeout(grace)
      example.stash.close().then(done, (err: unknown) => {
        console.error('express-stash example: closing the stash failed:', err)
        process.exitCode = 1
        done()
      })
    })
    server.closeIdleConnections()
    example.endStreams?.()
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  return stop
}

/**
 * Exits with code 1 after `ms` (running `before` first) unless the process has ended by then;
 * the timer never keeps the process alive.
 */
export function forceExitAfter(ms: number, before: () => void = () => {}): void {
  setTimeout(() => {
    console.error(`express-stash example: still running ${ms} ms after the signal, exiting anyway`)
    before()
    process.exit(1)
  }, ms).unref()
}
