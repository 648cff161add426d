import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { createParser, type EventSourceMessage } from 'eventsource-parser'
import { encodeComment, encodeFrame } from '../../src/sse/encode.ts'

function parse(text: string): EventSourceMessage[] {
  const messages: EventSourceMessage[] = []
  const parser = createParser({ onEvent: (m) => messages.push(m) })
  parser.feed(text)
  return messages
}

describe('SSE encoder: exact frames', () => {
  test('id, event and data in that order, ended by a blank line', () => {
    expect(encodeFrame({ id: '7', event: 'partial', data: 'hi' })).toBe('event: partial\nid: 7\ndata: hi\n\n')
  })
  test('data is split on CRLF, CR and LF into one data line each', () => {
    expect(encodeFrame({ data: 'a\r\nb\rc\nd' })).toBe('data: a\ndata: b\ndata: c\ndata: d\n\n')
  })
  test('trailing and empty lines survive as empty data lines', () => {
    expect(encodeFrame({ data: '\n' })).toBe('data: \ndata: \n\n')
    expect(encodeFrame({ data: '' })).toBe('data: \n\n')
  })
  test('retry alone', () => {
    expect(encodeFrame({ retry: 2000 })).toBe('retry: 2000\n\n')
  })
  test('CR, LF or NUL in id or event is refused', () => {
    expect(() => encodeFrame({ id: '1\n\nevent: final', data: 'x' })).toThrow(/must not contain/)
    expect(() => encodeFrame({ id: '1\r' })).toThrow(/must not contain/)
    expect(() => encodeFrame({ event: 'a\nid: 9' })).toThrow(/must not contain/)
    expect(() => encodeFrame({ id: 'a\0' })).toThrow(/must not contain/)
  })
  test('a negative or fractional retry is refused', () => {
    expect(() => encodeFrame({ retry: -1 })).toThrow(/retry/)
    expect(() => encodeFrame({ retry: 1.5 })).toThrow(/retry/)
  })
  test('comments cannot break out of their line', () => {
    expect(encodeComment('ping')).toBe(': ping\n\n')
    expect(encodeComment('a\n\ndata: x')).toBe(': a data: x\n\n')
  })
})

const nasty = fc.oneof(
  fc.constantFrom('\r', '\n', '\r\n', '\0', '😀', '\uD800', '\uDFFF', ' ', ':', 'data: x', 'id: 9', ''),
  fc.string({ unit: 'binary' }),
)
const text = fc.array(nasty, { maxLength: 20 }).map((parts) => parts.join(''))

/** SSE has one line ending on the far side: a parser joins data lines with LF, whatever ended them on the wire. */
const spokenAs = (data: string) => data.replace(/\r\n|\r/g, '\n')

describe('SSE encoder: property', () => {
  test('any string arrives as one event with every character intact (CR and CRLF read back as LF, per spec)', () => {
    fc.assert(
      fc.property(text, fc.nat(), (data, seq) => {
        const messages = parse(encodeFrame({ id: String(seq), event: 'partial', data }))
        expect(messages).toEqual([{ id: String(seq), event: 'partial', data: spokenAs(data) }])
      }),
      { numRuns: 2000 },
    )
  })

  test('an event sent as JSON data round-trips unchanged, even through UTF-8 bytes', () => {
    fc.assert(
      fc.property(text, fc.nat(), (delta, seq) => {
        const event = { type: 'partial', seq, delta }
        const bytes = new TextEncoder().encode(encodeFrame({ id: String(seq), event: 'partial', data: JSON.stringify(event) }))
        const [message] = parse(new TextDecoder().decode(bytes))
        expect(JSON.parse(message!.data)).toEqual(event)
      }),
      { numRuns: 2000 },
    )
  })

  test('several frames in one chunk stay separate and in order', () => {
    fc.assert(
      fc.property(fc.array(text, { minLength: 1, maxLength: 8 }), (datas) => {
        const wire = datas.map((data, i) => encodeFrame({ id: String(i + 1), data })).join('')
        expect(parse(wire).map((m) => [m.id, m.data])).toEqual(datas.map((d, i) => [String(i + 1), spokenAs(d)]))
      }),
    )
  })

  test('a forged field inside data stays data', () => {
    const [message, ...rest] = parse(encodeFrame({ id: '1', data: 'x\r\nid: 999\n\nevent: final\ndata: y' }))
    expect(rest).toEqual([])
    expect(message).toEqual({ id: '1', event: undefined, data: 'x\nid: 999\n\nevent: final\ndata: y' })
  })
})
