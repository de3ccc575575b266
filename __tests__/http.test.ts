import { memoryAdapter } from '../lib/index.js'
import { runCoreSuite } from './http/core-suite.js'
import { runLifecycleSuite } from './http/lifecycle-suite.js'
import { FRAMEWORKS } from './support/frameworks.js'

for (const framework of FRAMEWORKS) {
  runCoreSuite(framework, () => memoryAdapter())
  runLifecycleSuite(framework, () => memoryAdapter())
}
