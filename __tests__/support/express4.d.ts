// `express4` is Express 4 installed under an alias; its API matches @types/express for our use.
declare module 'express4' {
  import express from 'express'
  export default express
}
