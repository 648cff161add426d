import { expect, test } from 'bun:test'
import { parseWake, senderTag, sentBy } from '../../src/log/backends/redis-wake.ts'

test('a wake message names each log with its new head, or with none when its entries were deleted', () => {
  expect(parseWake('a 3\nb 1\nc 0')).toEqual([
    { log: 'a', head: 3 },
    { log: 'b', head: 1 },
    { log: 'c', head: undefined },
  ])
})

test('a log the change closed is told by a c after its head', () => {
  expect(parseWake('a 3c\nb 0c\nc 4')).toEqual([
    { log: 'a', head: 3, closed: true },
    { log: 'b', head: undefined, closed: true },
    { log: 'c', head: 4 },
  ])
  expect(parseWake('x 3cc\ny c\nz -1c')).toEqual([])
})

test('a log id may hold spaces: the head is the last word', () => {
  expect(parseWake('my stream 12')).toEqual([{ log: 'my stream', head: 12 }])
})

test('a line without a head, or with a head that is no seq, is skipped', () => {
  expect(parseWake('bare\nx -1\ny 1.5\nz 9007199254740993\n 4')).toEqual([])
})

test("a log id's newlines and percent signs come encoded, and are decoded", () => {
  expect(parseWake('a%0Ab%25 2')).toEqual([{ log: 'a\nb%', head: 2 }])
})

test("an append's sender tag line names no log, and tells the sender its own messages", () => {
  const tag = senderTag('abc')
  expect(parseWake(`${tag}\na 3\nb 2c`)).toEqual([
    { log: 'a', head: 3 },
    { log: 'b', head: 2, closed: true },
  ])
  expect(sentBy(`${tag}\na 3`, tag)).toBe(true)
  expect(sentBy(`${senderTag('abcd')}\na 3`, tag)).toBe(false)
  expect(sentBy('a 3', tag)).toBe(false)
})
