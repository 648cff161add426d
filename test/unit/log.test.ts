import { describe, expect, test } from 'bun:test'
import { chatTag, createLogger } from '../../src/log.ts'

describe('logger', () => {
  test('an owner id in any logged text (an error quoting a URL, a path) is written as its chat tag', () => {
    const lines: string[] = []
    const id = 'AbCdEfGhIjKlMnOpQrStUv'
    const log = createLogger('info', { write: (line) => lines.push(line) })
    log.error('unhandled error', {
      error: `fetch http://h/?client_id=${id}&x=1 failed`,
      path: `/api/sessions/${id}/cancel`,
      session_id: id,
    })
    expect(lines.join('')).not.toContain(id)
    expect(JSON.parse(lines[0]!)).toMatchObject({
      chat: chatTag(id),
      error: `fetch http://h/?client_id=chat:${chatTag(id)}&x=1 failed`,
      path: `/api/sessions/chat:${chatTag(id)}/cancel`,
    })
  })

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
