import { describe, expect, test } from 'bun:test'
import { createParser, type EventSourceMessage } from 'eventsource-parser'
import fc from 'fast-check'
import { decodeEntryBytes, encodeEntryBytes } from '../../src/streams/entry-bytes.ts'
import { jsonEntryData, jsonMessages, jsonReadBody } from '../../src/streams/json-mode.ts'
import { encodeOffset } from '../../src/streams/offsets.ts'
import type { Parsed } from '../../src/streams/parsed.ts'
import { controlEvent, dataEvent } from '../../src/streams/stream-sse.ts'

function parse(text: string): EventSourceMessage[] {
  const messages: EventSourceMessage[] = []
  createParser({ onEvent: (message) => messages.push(message) }).feed(text)
  return messages
}
const value = <T>(parsed: Parsed<T>): T => {
  if (!parsed.ok) throw new Error(`expected a value, got: ${parsed.error.message}`)
  return parsed.value
}
const statusOf = <T>(parsed: Parsed<T>): number | undefined => (parsed.ok ? undefined : parsed.error.status)

describe('stream SSE frames', () => {
  test('exact frames: no space after data:, a control event as compact JSON', () => {
    expect(dataEvent('hi')).toBe('event: data\ndata:hi\n\n')
    const offset = encodeOffset(2)
    expect(controlEvent({ streamNextOffset: offset, streamCursor: '7', upToDate: true })).toBe(
      `event: control\ndata:{"streamNextOffset":"${offset}","streamCursor":"7","upToDate":true}\n\n`,
    )
  })
  test('the suite’s control pattern matches: data: then the JSON at once', () => {
    const frame = controlEvent({ streamNextOffset: encodeOffset(1), streamCursor: '5' })
    expect(frame).toMatch(/event: control\s*\ndata:({[^}]+})/)
  })
  test('a closed stream’s last control has no cursor', () => {
    const frame = controlEvent({ streamNextOffset: encodeOffset(3), streamCursor: '5', streamClosed: true })
    expect(JSON.parse(parse(frame)[0]?.data ?? '')).toEqual({ streamNextOffset: encodeOffset(3), streamClosed: true })
  })
  test('a line is written right after data:, as the suite looks for it', () => {
    expect(dataEvent('line1\nline2')).toBe('event: data\ndata:line1\ndata:line2\n\n')
  })
  test('a line’s leading spaces survive a client, which strips one', () => {
    expect(dataEvent(' x')).toBe('event: data\ndata:  x\n\n')
    expect(parse(dataEvent('  two spaces\n one'))[0]?.data).toBe('  two spaces\n one')
  })
  test('line endings in a payload cannot end the event or start another', () => {
    for (const attack of ['x\r\nevent: control\r\ndata: {}\r\n\r\n', 'x\nevent: control\n\nid: 9', 'x\revent: control\r\rdata:{}']) {
      const events = parse(dataEvent(attack) + controlEvent({ streamNextOffset: encodeOffset(1) }))
      expect(events.map((event) => event.event)).toEqual(['data', 'control'])
      expect(events[0]?.data).toBe(attack.split(/\r\n|\r|\n/).join('\n'))
    }
  })
  test('any text comes back as sent, line endings made LF', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 50 }), (text) => {
        const events = parse(dataEvent(text))
        expect(events).toHaveLength(1)
        expect(events[0]?.data).toBe(text.split(/\r\n|\r|\n/).join('\n'))
      }),
    )
  })
})

describe('JSON mode', () => {
  test('one value is one message; an array is flattened one level (PROTOCOL.md §7.1’s examples)', () => {
    expect(value(jsonEntryData('{"event": "created"}', 'append'))).toBe('{"event":"created"}')
    expect(value(jsonEntryData('[{"event": "a"}, {"event": "b"}]', 'append'))).toBe('{"event":"a"},{"event":"b"}')
    expect(jsonMessages(value(jsonEntryData('[[1,2], [3,4]]', 'append')))).toEqual(['[1,2]', '[3,4]'])
    expect(jsonMessages(value(jsonEntryData('[[[1,2,3]]]', 'append')))).toEqual(['[[1,2,3]]'])
    expect(value(jsonEntryData('"text"', 'append'))).toBe('"text"')
    expect(value(jsonEntryData('null', 'append'))).toBe('null')
  })
  test('an empty array creates an empty stream, and appends nothing: a 400', () => {
    expect(value(jsonEntryData('[]', 'create'))).toBe('')
    // Refused, never stored changed: bytes that are not UTF-8, a number past a double's range.
    expect(jsonEntryData(new Uint8Array([0x22, 0xff, 0x22]), 'append')).toMatchObject({ ok: false })
    expect(jsonEntryData('[1e400]', 'append')).toMatchObject({ ok: false })
    expect(value(jsonEntryData(new TextEncoder().encode('\ufeff{"a": "é"}'), 'append'))).toBe('{"a":"é"}')
    expect(statusOf(jsonEntryData('[]', 'append'))).toBe(400)
  })
  test('invalid JSON is a 400', () => {
    for (const bad of ['', '{', '{"a":1', "{'a':1}", 'undefined', 'NaN', '[1,]', '1 2', '\u0000'])
      expect(statusOf(jsonEntryData(bad, 'append'))).toBe(400)
  })
  test('a deeply nested body is refused before anything serialises it', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`
    const parsed = jsonEntryData(deep, 'append')
    expect(statusOf(parsed)).toBe(422)
    expect(parsed.ok ? '' : parsed.error.message).toContain('flatten')
  })
  test('reads wrap every entry’s messages in one array; empty entries add nothing', () => {
    const entries = ['{"a":1},{"b":2}', '', '3']
    expect(JSON.parse(jsonReadBody(entries))).toEqual([{ a: 1 }, { b: 2 }, 3])
    expect(jsonReadBody([])).toBe('[]')
  })
  test('any JSON value round-trips through an entry and a read', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { minLength: 1, maxLength: 5 }), (messages) => {
        const data = value(jsonEntryData(JSON.stringify(messages), 'append'))
        expect(JSON.parse(jsonReadBody([data]))).toEqual(JSON.parse(JSON.stringify(messages)))
        expect(jsonMessages(data)).toHaveLength(messages.length)
      }),
    )
  })
})

describe('the bytes of other streams', () => {
  test('text that is UTF-8 is kept as text; anything else as base64', () => {
    expect(encodeEntryBytes(new TextEncoder().encode('héllo'), 'text/plain')).toBe('théllo')
    expect(encodeEntryBytes(new Uint8Array([0xff, 0xfe]), 'text/plain')).toBe('b//4=')
    expect(encodeEntryBytes(new TextEncoder().encode('Hello'), 'application/octet-stream')).toBe('bSGVsbG8=')
  })
  test('every byte string comes back exactly, whatever the type (the suite’s 0–255 property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.constantFrom('text/plain', 'application/octet-stream', 'image/png'),
        (bytes, type) => {
          expect(decodeEntryBytes(encodeEntryBytes(bytes, type))).toEqual(bytes)
        },
      ),
    )
  })
  test('a byte-order mark and a view into a larger buffer are kept as they are', () => {
    const bom = new Uint8Array([0xef, 0xbb, 0xbf, 0x41])
    expect(decodeEntryBytes(encodeEntryBytes(bom, 'text/plain'))).toEqual(bom)
    const view = new Uint8Array([1, 2, 3, 4, 5]).subarray(1, 3)
    expect(decodeEntryBytes(encodeEntryBytes(view, 'application/octet-stream'))).toEqual(new Uint8Array([2, 3]))
  })
  test('data with no tag is a broken invariant, not bytes', () => {
    expect(() => decodeEntryBytes('{"type":"x"}')).toThrow()
  })
})
