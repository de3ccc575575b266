import { memoryAdapter } from '../lib/index.js'
import { runExpirySuite } from './http/expiry-suite.js'

runExpirySuite('memory', () => memoryAdapter())
