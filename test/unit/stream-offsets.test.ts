import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { compareOffsets, decodeOffset, encodeOffset, readFrom, START_OFFSET } from '../../src/streams/offsets.ts'
import type { Parsed } from '../../src/streams/parsed.ts'

const refused = <T>(parsed: Parsed<T>): string => {
  if (parsed.ok) throw new Error(`expected a refusal, got ${JSON.stringify(parsed.value)}`)
  expect(parsed.error.status).toBe(400)
  expect(parsed.error.code).toBe('BAD_REQUEST')
  return parsed.error.message
}
const value = <T>(parsed: Parsed<T>): T => {
  if (!parsed.ok) throw new Error(`expected a value, got: ${parsed.error.message}`)
  return parsed.value
}
const query = (search: string) => new URLSearchParams(search)

describe('offsets: the shape the conformance suite hard-codes', () => {
  test('the start is sixteen zeros, an underscore, sixteen zeros', () => {
    expect(START_OFFSET).toBe('0000000000000000_0000000000000000')
    expect(encodeOffset(42)).toBe('0000000000000000_0000000000000042')
    expect(encodeOffset(Number.MAX_SAFE_INTEGER)).toBe('0000000000000000_9007199254740991')
  })
  test('decoding gives back the seq encoded', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (seq) => value(decodeOffset(encodeOffset(seq))) === seq))
  })
  test('string order is stream order, as clients may compare them', () => {
    fc.assert(fc.property(fc.nat(), fc.nat(), (a, b) => Math.sign(compareOffsets(encodeOffset(a), encodeOffset(b))) === Math.sign(a - b)))
  })
  test('encoding a seq that is no position is a programming error', () => {
    for (const bad of [-1, 0.5, Number.NaN, 2 ** 53, Number.POSITIVE_INFINITY]) expect(() => encodeOffset(bad)).toThrow(RangeError)
  })
})

describe('offsets: hostile input is a 400 with a sentence', () => {
  test('anything but the canonical form is refused', () => {
    for (const bad of [
      '',
      '0',
      '42',
      '-1',
      'now',
      '0_0',
      '000000000000000_0000000000000000', // 15 digits
      '0000000000000000_00000000000000000', // 17 digits
      '0000000000000000-0000000000000000',
      ' 0000000000000000_0000000000000000',
      '0000000000000000_0000000000000000\n',
      '0000000000000000_000000000000000٣', // a digit, but not an ASCII one
      '0000000000000000_+000000000000001',
      '0000000000000000_-000000000000001',
      '0,1',
      '0 1',
      '../0000000000000000_0000000000000000',
      '0000000000000000_0000000000000000\u0000',
      'x'.repeat(100_000),
    ]) {
      const sentence = refused(decodeOffset(bad))
      expect(sentence).toContain('offset')
      expect(sentence.length).toBeLessThan(200) // a huge input is quoted cut, not whole
    }
  })
  test('a seq past 2^53-1 is no position this server hands out', () => {
    expect(refused(decodeOffset('9999999999999999_9999999999999999'))).toContain('no position')
    expect(refused(decodeOffset('0000000000000000_9007199254740992'))).toContain('no position')
    expect(value(decodeOffset('0000000000000000_9007199254740991'))).toBe(Number.MAX_SAFE_INTEGER)
  })
  test('the reserved first part must be zero', () => {
    expect(refused(decodeOffset('0000000000000001_0000000000000000'))).toContain('no position')
  })
  test('the refusal names the field it came from', () => {
    const parsed = decodeOffset('nope', 'stream-fork-offset')
    expect(parsed.ok ? undefined : parsed.error.fields).toEqual({ field: 'stream-fork-offset' })
  })
})

describe('offsets: the offset query parameter', () => {
  test('-1 and a missing offset both mean the start of a catch-up read', () => {
    expect(value(readFrom(query('offset=-1'), false))).toEqual({ kind: 'start' })
    expect(value(readFrom(query(''), false))).toEqual({ kind: 'start' })
    expect(value(readFrom(query('offset=-1'), true))).toEqual({ kind: 'start' })
  })
  test('now means the tail, in every mode', () => {
    expect(value(readFrom(query('offset=now'), false))).toEqual({ kind: 'now' })
    expect(value(readFrom(query('offset=now&live=sse'), true))).toEqual({ kind: 'now' })
  })
  test('a canonical offset reads after its seq', () => {
    expect(value(readFrom(query(`offset=${encodeOffset(7)}`), true))).toEqual({ kind: 'after', seq: 7 })
  })
  test('a live read without an offset is refused', () => {
    expect(refused(readFrom(query('live=long-poll'), true))).toContain('live read needs an offset')
  })
  test('an empty, repeated or malformed offset is refused', () => {
    expect(refused(readFrom(query('offset='), false))).toContain('empty')
    expect(refused(readFrom(query('offset=a&offset=b'), false))).toContain('one offset')
    expect(refused(readFrom(query(`offset=-1&offset=-1`), false))).toContain('one offset')
    for (const bad of ['-2', 'NOW', 'Now', '-0', '0,1', '0 1', '%00', 'now ']) {
      refused(readFrom(query(`offset=${encodeURIComponent(bad)}`), false))
    }
  })
  test('unknown parameters are ignored', () => {
    expect(value(readFrom(query('offset=-1&foo=bar&cursor=1'), false))).toEqual({ kind: 'start' })
  })
})
