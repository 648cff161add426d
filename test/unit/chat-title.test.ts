import { describe, expect, test } from 'bun:test'
import { autoTitle, checkedTitle } from '../../src/chat-title.ts'
import { TITLE_MAX_BYTES, TITLE_MAX_CHARS } from '../../src/limits.ts'

const chars = (text: string) => [...text].length

describe('a chat title', () => {
  test('from the first message: one line, trimmed, whole when it fits', () => {
    expect(autoTitle('  Plan\r\na\ttrip \u0000 now  ')).toBe('Plan a trip now')
    expect(autoTitle(' \n\t ')).toBe('')
    const fits = 'x'.repeat(TITLE_MAX_CHARS)
    expect(autoTitle(fits)).toBe(fits)
  })

  test('cut with an ellipsis on a grapheme boundary, within the characters and the bytes', () => {
    const long = autoTitle('y'.repeat(TITLE_MAX_CHARS + 1))
    expect(long).toBe(`${'y'.repeat(TITLE_MAX_CHARS - 1)}…`)
    // A family emoji is seven code points joined: never split, whatever the cut.
    const family = '👨‍👩‍👧‍👦'
    for (let pad = 0; pad < 8; pad++) {
      const title = autoTitle(`${'a'.repeat(pad)}${family.repeat(40)}`)
      expect(title.endsWith(`${family}…`)).toBe(true)
      expect(chars(title)).toBeLessThanOrEqual(TITLE_MAX_CHARS)
      expect(Buffer.byteLength(title)).toBeLessThanOrEqual(TITLE_MAX_BYTES)
    }
    // Four-byte characters meet the byte bound first.
    const emoji = autoTitle('😀'.repeat(TITLE_MAX_CHARS))
    expect(Buffer.byteLength(emoji)).toBeLessThanOrEqual(TITLE_MAX_BYTES)
    expect(emoji.endsWith('😀…')).toBe(true)
    // A message far longer than any title is read only at its start, and a surrogate pair cut there is dropped.
    expect(autoTitle(`${' '.repeat(TITLE_MAX_CHARS * 8 - 1)}😀 and more`)).toBe('')
  })

  test('given by a rename: trimmed, "" for none, and refused with a sentence past its bounds', () => {
    expect(checkedTitle('  Lisbon ')).toBe('Lisbon')
    expect(checkedTitle('   ')).toBeUndefined()
    expect(checkedTitle('x'.repeat(TITLE_MAX_CHARS))).toBe('x'.repeat(TITLE_MAX_CHARS))
    for (const bad of [
      'x'.repeat(TITLE_MAX_CHARS + 1),
      '😀'.repeat(TITLE_MAX_BYTES / 4 + 1),
      'a\u0085b',
      'a\u2066b',
      'a\u007fb',
      '\uDC00',
    ]) {
      expect(() => checkedTitle(bad)).toThrow(expect.objectContaining({ code: 'BAD_TITLE', status: 422 }))
    }
    expect(() => checkedTitle(5)).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }))
  })
})
