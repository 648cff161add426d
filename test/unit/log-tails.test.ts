import { describe, expect, test } from 'bun:test'
import type { LogEntry } from '../../src/log/log-backend.ts'
import { LogTails } from '../../src/log/log-tails.ts'

/** Entries `from` to `to`, each `chars` characters of data. */
const entries = (from: number, to: number, chars = 40): LogEntry[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ seq: from + i, data: 'x'.repeat(chars) }))
const seqs = (list: LogEntry[] | undefined) => list?.map((e) => e.seq)

describe('what the core keeps of each log: its head and newest entries', () => {
  test('a read is answered from memory only when the kept events reach from the cursor to the head the backend said', () => {
    const tails = new LogTails()
    const ticket = tails.track('a')
    tails.add('a', ticket, entries(1, 5))
    // Events alone do not say nothing newer exists: the head is unknown until the backend says it.
    expect(tails.read('a', 2, 100)).toBeUndefined()
    tails.heard('a', ticket, 5)
    expect(seqs(tails.read('a', 2, 100))).toEqual([3, 4, 5])
    expect(seqs(tails.read('a', 0, 2))).toEqual([1, 2])
    expect(tails.read('a', 5, 100)).toEqual([])
    // Another instance appended 6: its wake message raises the head, and the read goes to the backend for it.
    tails.raised('a', 6)
    expect(tails.head('a')).toBe(6)
    expect(tails.read('a', 5, 100)).toBeUndefined()
    tails.add('a', tails.track('a'), entries(6, 6))
    expect(seqs(tails.read('a', 5, 100))).toEqual([6])
  })

  test('a wake message that arrives while the backend is being asked is not lost: the head it then gives cannot hide it', () => {
    const tails = new LogTails()
    const ticket = tails.track('a') // before the look-up is sent
    tails.raised('a', 8) // published after the backend answered the look-up below
    tails.heard('a', ticket, 7)
    expect(tails.head('a')).toBe(8)
  })

  test('an answer to a request sent before the log was forgotten (or evicted) and tracked again is not taken', () => {
    const tails = new LogTails()
    const old = tails.track('a') // a look-up sent; the backend answers 9
    tails.forget('a') // a bare wake message: pruned or trimmed
    tails.raised('a', 10) // untracked now: dropped
    const again = tails.track('a')
    tails.heard('a', old, 9) // the old answer arrives late
    tails.add('a', old, entries(9, 9))
    expect(tails.head('a')).toBeUndefined()
    tails.heard('a', again, 10)
    expect(tails.head('a')).toBe(10)
  })

  test('messages for a log not tracked are not kept: they may have missed earlier messages', () => {
    const tails = new LogTails()
    tails.raised('a', 3)
    expect(tails.head('a')).toBeUndefined()
    expect(tails.read('a', 0, 100)).toBeUndefined()
  })

  test('a gap (events of another instance not read yet) starts the kept run over, so it stays contiguous', () => {
    const tails = new LogTails()
    const ticket = tails.track('a')
    tails.heard('a', ticket, 3)
    tails.add('a', ticket, entries(1, 3))
    tails.add('a', ticket, entries(5, 5)) // 4 was appended elsewhere
    tails.add('a', ticket, entries(2, 3)) // an overlapping read adds nothing twice
    expect(tails.head('a')).toBe(5)
    expect(tails.read('a', 3, 100)).toBeUndefined()
    expect(seqs(tails.read('a', 4, 100))).toEqual([5])
  })

  test('an event too big to keep is read from the backend, and those after it are kept again', () => {
    const tails = new LogTails()
    const ticket = tails.track('a')
    tails.heard('a', ticket, 1)
    tails.add('a', ticket, [...entries(1, 1), ...entries(2, 2, 1_000_000), ...entries(3, 4)])
    expect(tails.head('a')).toBe(4)
    expect(tails.read('a', 1, 100)).toBeUndefined()
    expect(seqs(tails.read('a', 2, 100))).toEqual([3, 4])
  })

  test('forget and clear make the next request ask the backend; the oldest logs go first past either limit', () => {
    const tails = new LogTails({ logs: 2, perLog: 4, maxChars: 1000 })
    for (const id of ['a', 'b']) tails.heard(id, tails.track(id), 1)
    tails.forget('a')
    expect(tails.head('a')).toBeUndefined()
    tails.heard('c', tails.track('c'), 1)
    tails.track('d')
    expect(tails.head('b')).toBeUndefined()
    expect(tails.head('c')).toBe(1)
    // Past the characters all tails may keep, the least recently used go.
    const ticket = tails.track('c')
    tails.add('c', ticket, entries(1, 1, 600))
    const other = tails.track('e')
    tails.heard('e', other, 1)
    tails.add('e', other, entries(1, 1, 600))
    expect(tails.head('c')).toBeUndefined()
    expect(tails.head('e')).toBe(1)
    tails.clear()
    expect(tails.head('e')).toBeUndefined()
  })

  test('keeps at least the newest events of a busy log', () => {
    const tails = new LogTails({ perLog: 4 })
    const ticket = tails.track('a')
    for (let seq = 1; seq <= 50; seq++) {
      tails.heard('a', ticket, seq)
      tails.add('a', ticket, entries(seq, seq))
    }
    expect(seqs(tails.read('a', 46, 100))).toEqual([47, 48, 49, 50])
    expect(tails.read('a', 0, 100)).toBeUndefined()
  })
})
