import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { decodeEntryBytes, encodeEntryBytes } from '../../src/streams/entry-bytes.ts'
import { noneMatch, readEtag } from '../../src/streams/etag.ts'
import { forkPrefix } from '../../src/streams/fork-prefix.ts'
import { jsonEntryData } from '../../src/streams/json-mode.ts'
import { encodeOffset } from '../../src/streams/offsets.ts'
import type { Parsed } from '../../src/streams/parsed.ts'
import { slidExpiry } from '../../src/streams/sliding-ttl.ts'

const value = <T>(parsed: Parsed<T>): T => {
  if (!parsed.ok) throw new Error(`expected a value, got: ${parsed.error.message}`)
  return parsed.value
}
const statusOf = <T>(parsed: Parsed<T>): number | undefined => (parsed.ok ? undefined : parsed.error.status)
const text = (s: string) => encodeEntryBytes(new TextEncoder().encode(s), 'text/plain')
const json = (body: string) => value(jsonEntryData(body, 'append'))

describe('fork sub-offsets', () => {
  test('the first k bytes of a text append ("hello", 3: "hel")', () => {
    const prefix = value(forkPrefix(text('hello'), 'text/plain', 3))
    expect(new TextDecoder().decode(decodeEntryBytes(prefix ?? ''))).toBe('hel')
  })
  test('the first k messages of a JSON batch', () => {
    expect(value(forkPrefix(json('[{"a":1},{"b":2},{"c":3},{"d":4}]'), 'application/json', 2))).toBe('{"a":1},{"b":2}')
  })
  test('0 takes nothing; the whole length takes it all', () => {
    expect(value(forkPrefix(text('hi'), 'text/plain', 0))).toBeUndefined()
    expect(value(forkPrefix(undefined, 'text/plain', 0))).toBeUndefined()
    expect(decodeEntryBytes(value(forkPrefix(text('hi'), 'text/plain', 2)) ?? '')).toEqual(new TextEncoder().encode('hi'))
    expect(value(forkPrefix(json('[1,2,3]'), 'application/json', 3))).toBe('1,2,3')
  })
  test('past the append, or with no append, is a 400', () => {
    expect(statusOf(forkPrefix(text('hi'), 'text/plain', 3))).toBe(400)
    expect(statusOf(forkPrefix(text('hi'), 'text/plain', Number.MAX_SAFE_INTEGER))).toBe(400)
    expect(statusOf(forkPrefix(json('[1,2,3]'), 'application/json', 4))).toBe(400)
    expect(statusOf(forkPrefix(undefined, 'text/plain', 1))).toBe(400)
  })
  test('a cut through a UTF-8 sequence keeps the bytes exactly', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }), fc.nat(), (s, n) => {
        const bytes = new TextEncoder().encode(s)
        const k = n % (bytes.length + 1)
        const prefix = value(forkPrefix(text(s), 'text/plain', k))
        expect(prefix === undefined ? new Uint8Array() : decodeEntryBytes(prefix)).toEqual(bytes.subarray(0, k))
      }),
    )
  })
})

describe('ETag and If-None-Match', () => {
  const etag = readEtag('abc', encodeOffset(0), encodeOffset(4), false)
  test('a strong tag of the stream’s incarnation and the range', () => {
    expect(etag).toBe(`"abc:${encodeOffset(0)}:${encodeOffset(4)}"`)
    expect(readEtag('abc', encodeOffset(0), encodeOffset(4), true)).not.toBe(etag)
    expect(readEtag('abd', encodeOffset(0), encodeOffset(4), false)).not.toBe(etag)
  })
  test('matches itself, weakly, in a list, and *', () => {
    expect(noneMatch(etag, etag)).toBe(true)
    expect(noneMatch(`W/${etag}`, etag)).toBe(true)
    expect(noneMatch(`"x", ${etag}`, etag)).toBe(true)
    expect(noneMatch('*', etag)).toBe(true)
  })
  test('no header, another tag, or a tag without its quotes does not match', () => {
    expect(noneMatch(null, etag)).toBe(false)
    expect(noneMatch('"wrong-etag"', etag)).toBe(false)
    expect(noneMatch(etag.slice(1, -1), etag)).toBe(false)
    expect(noneMatch('', etag)).toBe(false)
  })
})

describe('sliding TTL', () => {
  test('a first touch always sets the expiry', () => {
    expect(slidExpiry(undefined, 1000, 2)).toBe(3000)
  })
  test('the suite’s read 1.5 s into a 2 s TTL moves it', () => {
    expect(slidExpiry(2000, 1500, 2)).toBe(3500)
  })
  test('a move of less than a quarter of the TTL is not written', () => {
    expect(slidExpiry(3600_000, 100_000, 3600)).toBeUndefined()
    expect(slidExpiry(3600_000, 900_000, 3600)).toBe(4_500_000)
  })
  test('read at least every ¾ TTL, a stream never expires', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100_000 }),
        fc.array(fc.double({ min: 0, max: 0.75, noNaN: true }), { maxLength: 50 }),
        (ttl, gaps) => {
          let now = 0
          let expiresAt = slidExpiry(undefined, now, ttl) ?? 0
          for (const gap of gaps) {
            now += gap * ttl * 1000
            expect(now).toBeLessThan(expiresAt)
            expiresAt = slidExpiry(expiresAt, now, ttl) ?? expiresAt
          }
        },
      ),
    )
  })
})
