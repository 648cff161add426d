import { describe, expect, test } from 'bun:test'
import { createLogger } from '../../src/log.ts'

describe('logger', () => {
  test('JSON lines by default: time, level, msg and the fields', () => {
    const lines: string[] = []
    createLogger('info', { write: (line) => lines.push(line) }).info('request', { status: 200, route: '/api/sessions/:id' })
    expect(lines).toHaveLength(1)
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'info', msg: 'request', status: 200, route: '/api/sessions/:id' })
  })

  test('readable lines for a terminal: time, level, message, key=value, one line each', () => {
    const lines: string[] = []
    const log = createLogger('debug', { write: (line) => lines.push(line), pretty: true })
    log.warn('run ended', { step: 'echo', outcome: 'final', duration_ms: 12.5, note: 'two\nlines' })
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN {2}run ended step=echo outcome=final duration_ms=12.5 note="two\\nlines"\n$/)
  })

  test('levels below the threshold are dropped', () => {
    const lines: string[] = []
    const log = createLogger('warn', { write: (line) => lines.push(line) })
    log.info('no')
    log.debug('no')
    log.error('yes')
    expect(lines).toHaveLength(1)
  })
})
