// Test apps store arbitrary keys: loosen the data type for the whole test suite.
declare module '../../lib/types' {
  interface StashData {
    [key: string]: any // eslint-disable-line @typescript-eslint/no-explicit-any
  }
}
export {}
