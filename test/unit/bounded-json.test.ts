import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { nestedDeeperThan, prettyJson } from '../../src/bounded-json.ts'
import { RENDERED_JSON_MAX_BYTES } from '../../src/limits.ts'
import { nested } from '../helpers/deep-json.ts'

const bytes = (text: string) => Buffer.byteLength(text)

describe('bounded JSON printer', () => {
  test('within budget it prints exactly what JSON.stringify(value, null, 2) prints, at any starting indentation', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.nat(4), (value, level) => {
        const expected = JSON.stringify(value, null, 2).replaceAll('\n', `\n${'  '.repeat(level)}`)
        expect(prettyJson(value, { maxBytes: 1e9, maxDepth: 1000 }, level)).toEqual({ text: expected, cut: false })
      }),
    )
    const odd = { a: undefined, b: () => 1, c: [undefined], d: new Date(0), e: Number.NaN }
    expect(prettyJson(odd).text).toBe(JSON.stringify(odd, null, 2))
    expect(prettyJson(undefined).text).toBe('null')
  })

  test('past the byte budget it stops, closes what was open and says how many items and keys were left out', () => {
    const value = { a: [1, 2, { b: 'x'.repeat(50) }, 4, 5], c: 'd' }
    expect(prettyJson(value, { maxBytes: 60, maxDepth: 64 })).toEqual({
      text: '{\n  "a": [\n    1,\n    2,\n    {\n      "b": "xxxxxxxxxxxxxxxx" … 34 more bytes\n    }\n    … 2 more items\n  ]\n  … 1 more key\n}',
      cut: true,
    })
    expect(prettyJson([1, 22, 3], { maxBytes: 11, maxDepth: 64 }).text).toBe('[\n  1,\n  22\n  … 1 more item\n]')
    expect(prettyJson([1, 2, 3], { maxBytes: 0, maxDepth: 64 })).toEqual({ text: '[…]', cut: true })
  })

  test('a container deeper than the depth budget prints as a summary of what it holds', () => {
    expect(prettyJson({ a: [[1, 2], { k: 1 }, []] }, { maxBytes: 1000, maxDepth: 2 })).toEqual({
      text: '{\n  "a": [\n    [… 2 items nested deeper than 2 levels],\n    {… 1 key nested deeper than 2 levels},\n    []\n  ]\n}',
      cut: true,
    })
  })

  test('a value 60,000 levels deep prints in bounded bytes without overflowing the stack', () => {
    for (const depth of [10_000, 60_000, 200_000]) {
      const { text, cut } = prettyJson(nested(depth))
      expect(cut).toBe(true)
      expect(text).toContain('[… 1 item nested deeper than 64 levels]')
      expect(bytes(text)).toBeLessThan(RENDERED_JSON_MAX_BYTES)
      expect(nestedDeeperThan(nested(depth), 64)).toBe(true)
    }
    expect(nestedDeeperThan(nested(64), 64)).toBe(false)
    expect(nestedDeeperThan(nested(65), 64)).toBe(true)
  })

  test('a cut string keeps whole characters: never half of a surrogate pair, never half of an escape', () => {
    const text = 'a😀é"\n日\u0001😀'.repeat(5)
    for (let maxBytes = 0; maxBytes < 120; maxBytes++) {
      const { text: printed } = prettyJson(text, { maxBytes, maxDepth: 64 })
      const quoted = /^(".*") … (\d+) more bytes?$/s.exec(printed)
      if (!quoted) {
        expect(printed === '…' || printed === JSON.stringify(text)).toBe(true)
        continue
      }
      const kept = JSON.parse(quoted[1]!) as string
      expect(bytes(quoted[1]!)).toBeLessThanOrEqual(maxBytes)
      expect(text.startsWith(kept)).toBe(true)
      expect(kept).not.toMatch(/[\uD800-\uDBFF]$/)
      expect(Number(quoted[2])).toBe(bytes(text.slice(kept.length)))
    }
  })

  test('whatever the value and budget, the print stays within the budget plus its closing lines', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), fc.nat(400), fc.nat(8), (value, maxBytes, maxDepth) => {
        const { text, cut } = prettyJson(value, { maxBytes, maxDepth })
        // Each open level adds at most a marker line and a closing line, each indented at most maxDepth + 1 times.
        expect(bytes(text)).toBeLessThanOrEqual(maxBytes + (maxDepth + 2) * (4 * (maxDepth + 1) + 40))
        if (!cut) expect(text).toBe(JSON.stringify(value, null, 2))
      }),
    )
  })
})
