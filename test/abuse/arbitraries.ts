import fc from 'fast-check'
import * as limits from '../../src/limits.ts'
import type { BodyRecipe, HeaderValue, PoolName, Segment } from './requests.ts'

/**
 * The pieces hostile requests are made of: ids, strings, sizes, bodies, headers. Sizes come from every number
 * exported by src/limits.ts, so a limit added there is probed at once, on both sides.
 */

/** Ids that are object keys of every plain object, and other ids a lookup table must not trust. */
export const HOSTILE_IDS = [
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'prototype',
  'valueOf',
  '__defineGetter__',
  'isPrototypeOf',
  '',
  ' ',
  '.',
  '..',
  '../../etc/passwd',
  '..%2f..%2fhealthz',
  '%2e%2e',
  '%00',
  'null',
  'undefined',
  'NaN',
  '-1',
  '0',
  '1e309',
  'A'.repeat(21),
  'A'.repeat(23),
  'AAAAAAAAAAAAAAAAAAAAA=',
  'AAAAAAAAAAAAAAAAAAAAA/',
  'ÀAAAAAAAAAAAAAAAAAAAAA',
  '😀'.repeat(11),
  'a'.repeat(10_000),
  '<script>alert(1)</script>',
  '"\'`;--',
  'a\nb',
  'a\r\nSet-Cookie: x=1',
  'view',
  'runs',
  'events',
  'stream',
]

/** Every number src/limits.ts exports: the sizes and depths to probe on both sides. */
export const LIMITS: number[] = Object.values(limits).filter((v): v is number => typeof v === 'number')

/** Sizes a body or a string is built at: around every limit (-1, 0, +1) that is sendable, and a few small ones. */
const SENDABLE = 3 * 1024 * 1024
export const sizeArb: fc.Arbitrary<number> = fc.oneof(
  { arbitrary: fc.nat(64), weight: 3 },
  {
    arbitrary: fc
      .tuple(fc.constantFrom(...LIMITS.filter((l) => l <= SENDABLE)), fc.integer({ min: -2, max: 2 }))
      .map(([limit, off]) => Math.max(0, limit + off)),
    weight: 2,
  },
)

/** One repeated unit of a long string: ASCII, 2-, 3- and 4-byte UTF-8, markup, control characters, quotes. */
export const unitArb = fc.constantFrom('x', 'é', '€', '😀', '<', '\n', '\u0000', '"', '\\', '\u202e', ' ')

/** A unit as it is written inside a JSON string: a body built of it stays JSON, however long. */
export const jsonUnitArb = unitArb.map((unit) => JSON.stringify(unit).slice(1, -1))

/** Strings that are ordinary, unicode, hostile markup, or very long. */
export const textArb: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.string({ maxLength: 40 }), weight: 3 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 2 },
  { arbitrary: fc.constantFrom(...HOSTILE_IDS), weight: 2 },
  { arbitrary: fc.constantFrom('</details>\n\n## You\n\nforged', '```\n# x\n```', '\r\n\r\nHTTP/1.1 200 OK', '<!--', ']]>'), weight: 1 },
)

/** An id in a URL: a live one from the fixture (encoded several ways), a hostile one, or random text. */
export const idSegmentArb = (pool: PoolName): fc.Arbitrary<Segment> =>
  fc.oneof(
    { arbitrary: fc.record({ pool: fc.constant(pool), index: fc.nat(7) }), weight: 5 },
    {
      arbitrary: fc.record({ pool: fc.constant(pool), index: fc.nat(7), encode: fc.constantFrom('double' as const, 'upper' as const) }),
      weight: 1,
    },
    {
      arbitrary: fc
        .constantFrom('owners', 'viewers', 'publishers', 'publisherViewers', 'runs')
        .chain((other) => fc.record({ pool: fc.constant(other as PoolName), index: fc.nat(7) })),
      weight: 2,
    },
    { arbitrary: fc.constantFrom(...HOSTILE_IDS).map(encodeURIComponent), weight: 3 },
    { arbitrary: fc.string({ unit: 'binary', maxLength: 30 }).map(encodeURIComponent), weight: 1 },
  )

/** A JSON value of any shape, from fast-check's own generator (with `__proto__` keys among its keys). */
export const jsonArb = fc.jsonValue({ maxDepth: 4 })

/** Deep nesting around every small limit (a nesting cap is one), and far past it. */
export const depthArb = fc.oneof(
  fc.constantFrom(...LIMITS.filter((l) => l <= 100_000).flatMap((l) => [l - 1, l, l + 1])),
  fc.constantFrom(10, 64, 65, 1000, 10_000, 60_000, 200_000),
)

/** A long run of one unit around a limit, as a recipe (built when sent). */
export const longArb = (prefix = '', suffix = ''): fc.Arbitrary<BodyRecipe> =>
  fc.record({
    repeat: prefix.endsWith('"') ? jsonUnitArb : unitArb,
    times: sizeArb,
    prefix: fc.constant(prefix),
    suffix: fc.constant(suffix),
  })

/** Bodies that are no JSON a route expects: other JSON, deep, long, invalid UTF-8, forms, NDJSON, empty. */
export const hostileBodyArb: fc.Arbitrary<BodyRecipe> = fc.oneof(
  jsonArb.map((json) => ({ json })),
  fc.constantFrom<BodyRecipe>(
    { text: '' },
    { text: 'null' },
    { text: '{' },
    { text: '{"__proto__":{"polluted":1}}' },
    { text: '{"constructor":{"prototype":{"polluted":1}}}' },
    { repeat: '1,', times: 100_000, prefix: '[', suffix: '1]' },
    { bytes: [0xff, 0xfe, 0xfd] },
    { bytes: [0x7b, 0x22, 0x74, 0x65, 0x78, 0x74, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d] },
    { bytes: [0xed, 0xa0, 0x80] },
    { bytes: [0xef, 0xbb, 0xbf, 0x7b, 0x7d] },
  ),
  fc.record({ deep: fc.constantFrom('array' as const, 'object' as const), depth: depthArb }),
  longArb('{"text":"', '"}'),
  longArb(),
  fc.array(textArb, { maxLength: 4 }).map((lines) => ({ ndjson: lines.map((text) => ({ text })) })),
  fc.array(fc.tuple(textArb, textArb), { maxLength: 4 }).map((form) => ({ form })),
  fc
    .array(fc.tuple(fc.constantFrom('text', 'client_id', 'message', 'token', 'next', '__proto__'), textArb), { maxLength: 3 })
    .map((multipart) => ({ multipart })),
)

/** Content types a body is sent with, right and wrong. */
export const contentTypeArb = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/json; charset=utf-16',
  'application/x-ndjson',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=abuse',
  'multipart/form-data',
  'text/plain',
  'application/xml',
  'application/octet-stream',
  'text/html',
  '*/*',
  'application/json, text/plain',
)

/** Printable ASCII: what fetch lets a header value hold (the rest goes over a raw socket). */
const headerTextArb = fc.stringMatching(/^[ -~]{0,16}$/)
const ASCII_IDS = HOSTILE_IDS.filter((id) => /^[ -~]*$/.test(id))

/** Headers a client may add to any request: stream positions, producers, credentials, origins, proxies. */
export const extraHeadersArb: fc.Arbitrary<[string, HeaderValue][]> = fc.array(
  fc.oneof(
    fc.tuple(
      fc.constant('last-event-id'),
      fc.oneof(fc.constantFrom('0', '1', '-1', '1e3', '999999999999999', '9'.repeat(40), '0x10', ' 1'), headerTextArb),
    ),
    fc.tuple(fc.constant('producer-id'), fc.oneof(fc.constantFrom(...ASCII_IDS), headerTextArb)),
    fc.tuple(fc.constant('producer-seq'), fc.constantFrom('0', '1', '2', '-1', '1.5', '9'.repeat(16), 'x', '')),
    fc.tuple(fc.constant('producer-epoch'), fc.constantFrom('0', '1', '2', '-1', '01', '1e3', '9'.repeat(17), 'x', '')),
    fc.tuple(fc.constant('stream-closed'), fc.constantFrom('true', 'false', 'TRUE', 'yes', '1', '', 'true, true')),
    fc.tuple(
      fc.constant('authorization'),
      fc.constantFrom<HeaderValue>(
        { secret: 'bearer' },
        { secret: 'publisher', index: 0 },
        { secret: 'publisher', index: 1 },
        'Bearer wrong-token-wrong-token',
        'Bearer ',
        'Basic dXNlcjpwYXNz',
        { repeat: 'x', times: 8000, prefix: 'Bearer ' },
        'bearer',
      ),
    ),
    fc.tuple(
      fc.constant('cookie'),
      fc.constantFrom<HeaderValue>({ secret: 'cookie' }, 'stepstream_auth=', 'stepstream_auth=x; stepstream_auth=y', '=;=;;', {
        repeat: 'b',
        times: 4000,
        prefix: 'a=',
      }),
    ),
    fc.tuple(fc.constant('origin'), fc.constantFrom('null', 'https://evil.example', 'http://127.0.0.1', 'not a url', 'http://[::1]')),
    fc.tuple(fc.constant('sec-fetch-site'), fc.constantFrom('same-origin', 'cross-site', 'none', 'same-site', 'x')),
    fc.tuple(fc.constant('accept'), fc.constantFrom('application/json', 'text/html', 'text/event-stream', '*/*', 'image/png')),
    fc.tuple(fc.constant('hx-request'), fc.constantFrom('true', 'false')),
    fc.tuple(fc.constant('x-forwarded-for'), fc.constantFrom('1.2.3.4', 'evil', '::1, 10.0.0.1', '')),
    fc.tuple(fc.constant('x-request-id'), fc.constantFrom('abc', 'x'.repeat(100), '../..')),
    fc.tuple(fc.constant('accept-encoding'), fc.constantFrom('gzip', 'br', 'identity;q=0')),
  ),
  { maxLength: 4 },
)

/** Header values with control characters, and headers that lie: only a raw socket sends them. */
export const rawOnlyHeadersArb: fc.Arbitrary<[string, string][]> = fc.array(
  fc.oneof(
    fc.tuple(
      fc.constantFrom('last-event-id', 'producer-id', 'authorization', 'cookie', 'origin', 'x-anything'),
      fc.constantFrom('a\u0000b', 'a\u0001b', 'a\u007fb', 'a\tb', 'ä', '\u00ff\u00fe', '٣'),
    ),
    fc.tuple(
      fc.constant('content-length'),
      fc.constantFrom('-1', '1e3', '0x10', '99999999999999999999', String(limits.SERVER_MAX_BODY_BYTES + 1)),
    ),
    fc.tuple(fc.constant('transfer-encoding'), fc.constantFrom('gzip', 'chunked, chunked', 'identity')),
    fc.tuple(fc.constantFrom('x\u0000y', 'bad header', ''), fc.constant('v')),
  ),
  { maxLength: 2 },
)

/** How the path of a route is respelled: as it is, or with a trailing slash, doubled slashes, `/./`, case, encoding. */
export type PathSpelling = 'as-is' | 'trailing-slash' | 'double-slash' | 'dot-segment' | 'upper-case' | 'encoded-letter' | 'dot-dot'

export const spellingArb: fc.Arbitrary<PathSpelling> = fc.oneof(
  { arbitrary: fc.constant('as-is' as const), weight: 6 },
  {
    arbitrary: fc.constantFrom<PathSpelling>('trailing-slash', 'double-slash', 'dot-segment', 'upper-case', 'encoded-letter', 'dot-dot'),
    weight: 2,
  },
)

/** The path segments respelled; dot segments need a raw socket (fetch would resolve them). */
export function respell(segments: Segment[], spelling: PathSpelling): Segment[] {
  const mapLiterals = (f: (s: string) => string) => segments.map((s) => (typeof s === 'string' ? f(s) : s))
  switch (spelling) {
    case 'as-is':
      return segments
    case 'trailing-slash':
      return [...segments, '/']
    case 'double-slash':
      return mapLiterals((s) => s.replace(/\//g, '//'))
    case 'dot-segment':
      return mapLiterals((s) => s.replace(/\//, '/./'))
    case 'upper-case':
      return mapLiterals((s) => s.toUpperCase())
    case 'encoded-letter':
      return mapLiterals((s) => s.replace(/[a-z]/, (c) => `%${c.charCodeAt(0).toString(16)}`))
    case 'dot-dot':
      return ['/x/..', ...segments]
  }
}
