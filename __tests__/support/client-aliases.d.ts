// Older majors of the Redis clients, installed under aliases to test every supported version.
declare module 'redis4' {
  export function createClient(options: { url: string }): {
    isReady: boolean
    on(event: 'error', listener: (err: Error) => void): unknown
    connect(): Promise<unknown>
    quit(): Promise<unknown>
    sendCommand(args: string[]): Promise<unknown>
  }
}
declare module 'redis5' {
  export function createClient(options: { url: string }): {
    isReady: boolean
    on(event: 'error', listener: (err: Error) => void): unknown
    connect(): Promise<unknown>
    close(): Promise<unknown>
    sendCommand(args: string[]): Promise<unknown>
  }
}
declare module 'ioredis5' {
  import Redis from 'ioredis'
  export default Redis
}
