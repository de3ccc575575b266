import { evalOnNoScript, LOAD, scriptCommand } from '../../../lib/adapters/redis/redis-scripts.js'

describe('scriptCommand and evalOnNoScript', () => {
  it('sends a script by its SHA-1 with its keys and arguments', () => {
    expect(scriptCommand(LOAD, ['k1', 'k2'], ['a'])).toEqual(['EVALSHA', LOAD.sha, '2', 'k1', 'k2', 'a'])
  })

  it('turns EVALSHA into EVAL of the source on NOSCRIPT only', () => {
    const command = scriptCommand(LOAD, ['k'], [])
    expect(evalOnNoScript(command, LOAD, new Error('OOM command not allowed'))).toBe(false)
    expect(command[0]).toBe('EVALSHA')
    expect(evalOnNoScript(command, LOAD, new Error('NOSCRIPT No matching script'))).toBe(true)
    expect(command).toEqual(['EVAL', LOAD.source, '1', 'k'])
    // Already EVAL: a second NOSCRIPT is the server's answer, not a reason to send it again.
    expect(evalOnNoScript(command, LOAD, new Error('NOSCRIPT No matching script'))).toBe(false)
  })
})
