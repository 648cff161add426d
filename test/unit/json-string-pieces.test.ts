import { expect, test } from 'bun:test'
import { jsonStringPieces } from '../../src/export/chat-json.ts'

test("a string's JSON in slices joins to JSON.stringify's, whatever falls at a cut", () => {
  const texts = [
    '',
    'a',
    '😀',
    'a😀b😀😀',
    '"\\\n\t\u0001',
    `lone ${'\ud83d'} high, lone ${'\ude00'} low`,
    '😀'.repeat(7),
    `x${'😀'.repeat(5)}`,
  ]
  for (const text of texts) {
    for (const slice of [2, 3, 4, 5, 7]) expect([...jsonStringPieces(text, slice)].join('')).toBe(JSON.stringify(text))
  }
})
