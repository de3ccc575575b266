import { createServer, type RequestListener, type Server } from 'node:http'

/** What an example's `createApp()` returns: the request handler, and the stash to close. */
export interface ExampleApp {
  readonly app: RequestListener
  readonly stash: { close(): Promise<void> }
}

/**
 * Starts an example when it is run as the main module: listens on `PORT` (default 3000; 0 for
 * any free port) and `HOST` (default: every interface), prints the URL, and closes the server
 * and the stash on SIGINT / SIGTERM.
 */
export function serveExample(name: string, { app, stash }: ExampleApp, note = ''): Server {
  const port = Number(process.env.PORT ?? 3000)
  const host = process.env.HOST || undefined
  const server = createServer(app)
  server.listen({ port, host }, () => {
    const address = server.address()
    const bound = typeof address === 'object' && address !== null ? address.port : port
    console.log(`express-stash ${name} example listening on http://${host ?? 'localhost'}:${bound}${note}`)
  })
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      server.close()
      server.closeAllConnections() // open event streams would hold the server forever
      void stash.close()
    })
  }
  return server
}
