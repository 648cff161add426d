import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { isJsonMode, normaliseContentType, sseDataEncoding } from '../../src/streams/content-type.ts'
import { compareStreamSeq, PROTOCOL_HEADERS, parseAppendHeaders, parseCreateHeaders } from '../../src/streams/headers.ts'
import { encodeOffset, START_OFFSET } from '../../src/streams/offsets.ts'
import { type Parsed, strictDecimal } from '../../src/streams/parsed.ts'
import { parseRfc3339 } from '../../src/streams/rfc3339.ts'
import {
  MAX_CONTENT_TYPE_CHARS,
  MAX_PRODUCER_ID_BYTES,
  MAX_STREAM_HEADER_CHARS,
  MAX_STREAM_NAME_BYTES,
  MAX_STREAM_SEQ_CHARS,
  MAX_STREAM_TTL_SECONDS,
} from '../../src/streams/stream-limits.ts'
import { isStreamName, streamNameOf } from '../../src/streams/stream-name.ts'

/** The field a refusal names; fails the test on a value. */
const refusedField = <T>(parsed: Parsed<T>): unknown => {
  if (parsed.ok) throw new Error(`expected a refusal, got ${JSON.stringify(parsed.value)}`)
  expect(parsed.error.status).toBe(400)
  expect(parsed.error.message.length).toBeGreaterThan(20)
  return parsed.error.fields?.field
}
const value = <T>(parsed: Parsed<T>): T => {
  if (!parsed.ok) throw new Error(`expected a value, got: ${parsed.error.message}`)
  return parsed.value
}
const create = (headers: Record<string, string>) => parseCreateHeaders(new Headers(headers))
const append = (headers: Record<string, string>) => parseAppendHeaders(new Headers(headers))

/** Strings a strict decimal must refuse: signs, points, exponents, leading zeros, spaces, other digits, hex, 2^53. */
const NOT_STRICT_DECIMAL = [
  '',
  ' ',
  'abc',
  '-1',
  '+1',
  '-0',
  '01',
  '00',
  '1.0',
  '1.5',
  '1e3',
  '0x10',
  '1 2',
  '1,2',
  '1²', // Latin-1 superscript two: a digit to Unicode, not to us
  'é',
  '1abc',
  '9007199254740992',
  '1'.repeat(400),
]

describe('strict decimals', () => {
  test('headers arrive trimmed of spaces and tabs (HTTP says so); the parser itself takes none', () => {
    expect(value(create({ 'stream-ttl': ' 60\t' })).expiry).toEqual({ kind: 'ttl', seconds: 60 })
    for (const spaced of [' 1', '1 ', '\t1', '1\u00a0', '٣', '１']) expect(strictDecimal(spaced)).toBeUndefined()
    expect(strictDecimal('9007199254740991')).toBe(Number.MAX_SAFE_INTEGER)
    expect(strictDecimal('9007199254740992')).toBeUndefined()
    expect(strictDecimal('60', 59)).toBeUndefined()
  })
})

describe('Stream-TTL and Stream-Expires-At', () => {
  test('a TTL is whole seconds in plain decimal', () => {
    expect(value(create({ 'stream-ttl': '3600' })).expiry).toEqual({ kind: 'ttl', seconds: 3600 })
    expect(value(create({ 'stream-ttl': '0' })).expiry).toEqual({ kind: 'ttl', seconds: 0 })
    expect(value(create({ 'stream-ttl': String(MAX_STREAM_TTL_SECONDS) })).expiry).toEqual({ kind: 'ttl', seconds: MAX_STREAM_TTL_SECONDS })
  })
  test('leading zeros, signs, points, exponents and anything past the bound are refused', () => {
    for (const bad of [...NOT_STRICT_DECIMAL, '00060', '+60', '60.5', '1e3', String(MAX_STREAM_TTL_SECONDS + 1), '60, 60']) {
      expect(refusedField(create({ 'stream-ttl': bad }))).toBe('stream-ttl')
    }
  })
  test('both at once are refused, whatever their values', () => {
    expect(refusedField(create({ 'stream-ttl': '3600', 'stream-expires-at': '2030-01-01T00:00:00Z' }))).toBe('stream-ttl')
  })
  test('an Expires-At is an instant, with Z or an offset', () => {
    const at = Date.UTC(2030, 0, 31, 12, 0, 0, 123)
    expect(value(create({ 'stream-expires-at': '2030-01-31T12:00:00.123Z' })).expiry).toEqual({ kind: 'at', at })
    expect(value(create({ 'stream-expires-at': '2030-01-31T13:30:00.123+01:30' })).expiry).toEqual({ kind: 'at', at })
    expect(value(create({ 'stream-expires-at': '2030-01-31T12:00:00.123+00:00' })).expiry).toEqual({ kind: 'at', at })
    expect(refusedField(create({ 'stream-expires-at': 'not-a-timestamp' }))).toBe('stream-expires-at')
  })
  test('the suite’s forms parse: toISOString, and its Z swapped for +00:00', () => {
    const now = new Date(Date.UTC(2026, 11, 3, 2, 30, 0, 5))
    expect(parseRfc3339(now.toISOString())).toBe(now.getTime())
    expect(parseRfc3339(now.toISOString().replace('Z', '+00:00'))).toBe(now.getTime())
  })
  test('RFC 3339 and nothing looser: Date.parse’s extras are refused', () => {
    for (const bad of [
      '',
      '2030-01-31',
      '2030-01-31T12:00:00', // no zone: local time, which differs by server
      '2030-01-31T12:00Z',
      '30-01-31T12:00:00Z',
      '+02030-01-31T12:00:00Z',
      'Jan 31 2030 12:00:00 GMT',
      '2030-02-30T12:00:00Z',
      '2031-02-29T00:00:00Z',
      '2030-13-01T00:00:00Z',
      '2030-00-01T00:00:00Z',
      '2030-01-00T00:00:00Z',
      '2030-01-31T24:00:00Z',
      '2030-01-31T12:60:00Z',
      '2030-01-31T12:00:61Z',
      '2030-01-31T12:30:60Z', // a leap second only ends a minute
      '2030-01-31T12:00:00+24:00',
      '2030-01-31T12:00:00+01:60',
      '2030-01-31T12:00:00+0100',
      '2030-01-31T12:00:00.Z',
      '２０３０-01-31T12:00:00Z',
      '2030-01-31T12:00:00Z ',
    ]) {
      expect(parseRfc3339(bad)).toBeUndefined()
    }
  })
  test('leap days and leap seconds, and years before 100 are not read as 19xx', () => {
    expect(parseRfc3339('2028-02-29T00:00:00Z')).toBe(Date.UTC(2028, 1, 29))
    expect(parseRfc3339('2000-02-29T00:00:00Z')).toBe(Date.UTC(2000, 1, 29))
    expect(parseRfc3339('1900-02-29T00:00:00Z')).toBeUndefined()
    expect(parseRfc3339('2030-12-31T23:59:60Z')).toBe(Date.UTC(2031, 0, 1))
    expect(new Date(parseRfc3339('0099-01-01T00:00:00Z') ?? 0).getUTCFullYear()).toBe(99)
    expect(parseRfc3339('2030-01-31t12:00:00z')).toBe(Date.UTC(2030, 0, 31, 12))
    expect(parseRfc3339('2030-01-31T12:00:00.123456789Z')).toBe(Date.UTC(2030, 0, 31, 12, 0, 0, 123))
  })
  test('the instant matches Date.parse wherever both accept', () => {
    const instants = fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true })
    fc.assert(fc.property(instants, (date) => parseRfc3339(date.toISOString()) === date.getTime()))
  })
})

describe('Content-Type: normalised as the suite compares it', () => {
  test('the media type, trimmed and lower-cased, parameters dropped', () => {
    expect(normaliseContentType('TEXT/PLAIN')).toBe('text/plain')
    expect(normaliseContentType('application/json; charset=utf-8')).toBe('application/json')
    expect(normaliseContentType('  Application/JSON ;charset=UTF-8')).toBe('application/json')
    expect(normaliseContentType('application/vnd.api+json')).toBe('application/vnd.api+json')
    expect(value(create({ 'CONTENT-TYPE': 'APPLICATION/JSON' })).contentType).toBe('application/json')
  })
  test('no media type, a non-ASCII one or an overlong one is refused', () => {
    for (const bad of [
      '',
      ' ',
      'text',
      'text/',
      '/plain',
      'text/plain/x',
      'text /plain',
      'téxt/plain',
      'text/plain\u00a0',
      ';',
      'a/b'.padEnd(MAX_CONTENT_TYPE_CHARS + 1, ' '),
    ]) {
      expect(normaliseContentType(bad)).toBeUndefined()
    }
    expect(refusedField(append({ 'content-type': 'garbage' }))).toBe('content-type')
  })
  test('absent stays absent: the route picks the default or refuses', () => {
    expect(value(create({})).contentType).toBeUndefined()
    expect(value(append({})).contentType).toBeUndefined()
  })
  test('JSON mode is application/json alone; SSE sends other types as base64', () => {
    expect(isJsonMode('application/json')).toBe(true)
    expect(isJsonMode('application/ndjson')).toBe(false)
    expect(sseDataEncoding('text/plain')).toBe('text')
    expect(sseDataEncoding('application/json')).toBe('text')
    expect(sseDataEncoding('application/octet-stream')).toBe('base64')
    expect(sseDataEncoding('image/png')).toBe('base64')
  })
})

describe('Stream-Closed', () => {
  test('true in any case closes; false or absent does not', () => {
    expect(value(create({ 'stream-closed': 'true' })).closed).toBe(true)
    expect(value(append({ 'Stream-Closed': 'TRUE' })).closed).toBe(true)
    expect(value(append({ 'stream-closed': 'false' })).closed).toBe(false)
    expect(value(append({})).closed).toBe(false)
  })
  test('anything else is refused, not read as false', () => {
    for (const bad of ['', '1', 'yes', 'true, true', 'tru', 'trué'])
      expect(refusedField(append({ 'stream-closed': bad }))).toBe('stream-closed')
  })
})

describe('Stream-Seq', () => {
  test('kept as sent, compared byte-wise', () => {
    expect(value(append({ 'stream-seq': '001' })).streamSeq).toBe('001')
    expect(compareStreamSeq('2', '10')).toBe(1) // "2" then "10" is a regression
    expect(compareStreamSeq('09', '10')).toBe(-1)
    expect(compareStreamSeq('B', 'a')).toBe(-1) // case-sensitive: uppercase sorts first
    expect(compareStreamSeq('a', 'a')).toBe(0)
  })
  test('empty, spaced, non-ASCII or overlong is refused', () => {
    for (const bad of ['', 'a b', 'é', '\u0001', 'x'.repeat(MAX_STREAM_SEQ_CHARS + 1)]) {
      expect(refusedField(append({ 'stream-seq': bad }))).toBe('stream-seq')
    }
    expect(value(append({ 'stream-seq': 'x'.repeat(MAX_STREAM_SEQ_CHARS) })).streamSeq).toHaveLength(MAX_STREAM_SEQ_CHARS)
  })
})

describe('Producer-Id, Producer-Epoch, Producer-Seq', () => {
  const producer = { 'producer-id': 'p1', 'producer-epoch': '0', 'producer-seq': '0' }
  test('all three parse together', () => {
    expect(value(append(producer)).producer).toEqual({ id: 'p1', epoch: 0, seq: 0 })
    expect(value(append({ ...producer, 'producer-epoch': '9007199254740991', 'producer-seq': '12' })).producer).toEqual({
      id: 'p1',
      epoch: Number.MAX_SAFE_INTEGER,
      seq: 12,
    })
    expect(value(append({})).producer).toBeUndefined()
  })
  test('one or two of them are refused, naming a missing one', () => {
    expect(refusedField(append({ 'producer-id': 'p1' }))).toBe('producer-epoch')
    expect(refusedField(append({ 'producer-epoch': '0' }))).toBe('producer-id')
    expect(refusedField(append({ 'producer-id': 'p1', 'producer-epoch': '0' }))).toBe('producer-seq')
  })
  test('an empty or overlong id is refused; bytes are counted, not characters', () => {
    expect(refusedField(append({ ...producer, 'producer-id': '' }))).toBe('producer-id')
    expect(value(append({ ...producer, 'producer-id': 'p'.repeat(MAX_PRODUCER_ID_BYTES) })).producer?.id).toHaveLength(
      MAX_PRODUCER_ID_BYTES,
    )
    expect(refusedField(append({ ...producer, 'producer-id': 'p'.repeat(MAX_PRODUCER_ID_BYTES + 1) }))).toBe('producer-id')
    // Latin-1 reaches a server as one character per byte sent, and counts two bytes once stored as UTF-8.
    expect(refusedField(append({ ...producer, 'producer-id': 'é'.repeat(MAX_PRODUCER_ID_BYTES / 2 + 1) }))).toBe('producer-id')
  })
  test('epoch and seq are strict decimals up to 2^53-1', () => {
    for (const bad of [...NOT_STRICT_DECIMAL, '0xyz', '1abc', '0, 1']) {
      expect(refusedField(append({ ...producer, 'producer-epoch': bad }))).toBe('producer-epoch')
      expect(refusedField(append({ ...producer, 'producer-seq': bad }))).toBe('producer-seq')
    }
  })
})

describe('fork headers', () => {
  const source = '/v1/stream/src-1'
  test('a source alone forks at its head; an offset and a sub-offset narrow it', () => {
    expect(value(create({ 'stream-forked-from': source })).fork).toEqual({ source: 'src-1', after: undefined, sub: 0 })
    expect(value(create({ 'stream-forked-from': source, 'stream-fork-offset': START_OFFSET, 'stream-fork-sub-offset': '3' })).fork).toEqual(
      {
        source: 'src-1',
        after: 0,
        sub: 3,
      },
    )
    expect(value(create({ 'stream-forked-from': source, 'stream-fork-offset': encodeOffset(5) })).fork?.after).toBe(5)
    expect(value(create({ 'stream-forked-from': source, 'stream-fork-sub-offset': '0' })).fork?.sub).toBe(0)
  })
  test('offsets without a source, or a sub-offset past 0 without an offset, are refused', () => {
    expect(refusedField(create({ 'stream-fork-offset': START_OFFSET }))).toBe('stream-fork-offset')
    expect(refusedField(create({ 'stream-fork-sub-offset': '0' }))).toBe('stream-fork-sub-offset')
    expect(refusedField(create({ 'stream-forked-from': source, 'stream-fork-sub-offset': '1' }))).toBe('stream-fork-sub-offset')
  })
  test('malformed offsets and sub-offsets are refused', () => {
    for (const bad of ['-1', 'now', '0_0', '9999999999999999_9999999999999999', '']) {
      expect(refusedField(create({ 'stream-forked-from': source, 'stream-fork-offset': bad }))).toBe('stream-fork-offset')
    }
    for (const bad of [...NOT_STRICT_DECIMAL, '05']) {
      expect(
        refusedField(create({ 'stream-forked-from': source, 'stream-fork-offset': START_OFFSET, 'stream-fork-sub-offset': bad })),
      ).toBe('stream-fork-sub-offset')
    }
  })
  test('the source must be a stream path of this server', () => {
    for (const bad of [
      'src-1',
      '/v1/stream/',
      'http://other/v1/stream/src',
      '/v1/streams/src',
      '/v1/stream/a/../b',
      '/v1/stream/a//b',
      '/v1/stream/a b',
    ]) {
      expect(refusedField(create({ 'stream-forked-from': bad }))).toBe('stream-forked-from')
    }
  })
})

describe('stream names', () => {
  test('URL path characters in segments, no dot segments, bounded', () => {
    expect(isStreamName('chat-1')).toBe(true)
    expect(isStreamName('a/b/c')).toBe(true)
    expect(isStreamName('%C3%A9t%C3%A9')).toBe(true)
    expect(isStreamName('x'.repeat(MAX_STREAM_NAME_BYTES))).toBe(true)
    for (const bad of [
      '',
      '/',
      'a/',
      '/a',
      '.',
      '..',
      'a/./b',
      'a/../b',
      'a b',
      'é',
      '%zz',
      '%4',
      'a?b',
      'a#b',
      'a\u0000',
      'x'.repeat(MAX_STREAM_NAME_BYTES + 1),
    ]) {
      expect(isStreamName(bad)).toBe(false)
    }
    expect(streamNameOf('/v1/stream/a/b')).toBe('a/b')
    expect(streamNameOf('/v1/streamx')).toBeUndefined()
  })
})

describe('every protocol header is bounded before it is parsed', () => {
  test('an overlong header is refused by name', () => {
    const huge = '1'.repeat(MAX_STREAM_HEADER_CHARS + 1)
    // A valid timestamp, but one whose fraction alone is over the bound: refused before RFC 3339's pattern runs.
    expect(refusedField(create({ 'stream-expires-at': `2030-01-31T12:00:00.${'9'.repeat(MAX_STREAM_HEADER_CHARS)}Z` }))).toBe(
      'stream-expires-at',
    )
    expect(parseRfc3339(`2030-01-31T12:00:00.${'9'.repeat(MAX_STREAM_HEADER_CHARS)}Z`)).toBe(Date.UTC(2030, 0, 31, 12, 0, 0, 999))
    expect(refusedField(create({ 'stream-ttl': huge }))).toBe('stream-ttl')
    expect(refusedField(append({ 'producer-id': huge, 'producer-epoch': '0', 'producer-seq': '0' }))).toBe('producer-id')
  })
  test('arbitrary header values never throw: each is a value or a 400', () => {
    const names = PROTOCOL_HEADERS
    // Header values are Latin-1 without CR, LF or NUL: what a server can receive.
    const headerValue = fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).map((code) => String.fromCharCode(code)), maxLength: 40 })
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...names), headerValue), (headers) => {
        for (const parsed of [create(headers), append(headers)]) {
          if (!parsed.ok) expect(parsed.error.status).toBe(400)
        }
      }),
    )
  })
})
