import { describe, expect, test } from 'bun:test'
import { SessionSignal } from '../../src/bus/session-signal.ts'
import type { StoredEvent } from '../../src/events.ts'
import { redisKeys } from '../../src/redis/redis-keys.ts'
import type { RedisLink } from '../../src/redis/redis-link.ts'
import { RedisStore } from '../../src/redis/redis-store.ts'
import { type Kept, parseWake, RedisTails } from '../../src/redis/redis-tails.ts'

const events = (session_id: string, from: number, to: number, chars = 40): Kept[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({
    event: {
      type: 'partial',
      step_id: 'r',
      ts: '2026-01-01T00:00:00.000Z',
      delta: String(from + i),
      seq: from + i,
      session_id,
    } as StoredEvent,
    chars,
  }))
const seqs = (list: StoredEvent[] | undefined) => list?.map((e) => e.seq)

describe('what an instance keeps of sessions on Redis', () => {
  test('a read is answered from memory only when the kept events reach from the cursor to the head Redis said', () => {
    const tails = new RedisTails()
    const ticket = tails.track('a')
    tails.add('a', ticket, events('a', 1, 5))
    // Events alone do not say nothing newer exists: the head is unknown until Redis says it.
    expect(tails.read('a', 2, 100)).toBeUndefined()
    tails.heard('a', ticket, 5)
    expect(seqs(tails.read('a', 2, 100))).toEqual([3, 4, 5])
    expect(seqs(tails.read('a', 0, 2))).toEqual([1, 2])
    expect(tails.read('a', 5, 100)).toEqual([])
    // Another instance appended 6: its wake message raises the head, and the read goes to Redis for it.
    tails.woken('a', 6)
    expect(tails.head('a')).toBe(6)
    expect(tails.read('a', 5, 100)).toBeUndefined()
    tails.add('a', tails.track('a'), events('a', 6, 6))
    expect(seqs(tails.read('a', 5, 100))).toEqual([6])
  })

  test('a wake message that arrives while Redis is being asked is not lost: the head Redis then gives cannot hide it', () => {
    const tails = new RedisTails()
    const ticket = tails.track('a') // before the look-up is sent
    tails.woken('a', 8) // published after Redis answered the look-up below
    tails.heard('a', ticket, 7)
    expect(tails.head('a')).toBe(8)
  })

  test('an answer to a request sent before the session was forgotten (or evicted) and tracked again is not taken', () => {
    const tails = new RedisTails()
    const old = tails.track('a') // a look-up sent; Redis answers 9
    tails.forget('a') // a bare wake message: pruned or trimmed
    tails.woken('a', 10) // untracked now: dropped
    const again = tails.track('a')
    tails.heard('a', old, 9) // the old answer arrives late
    tails.add('a', old, events('a', 9, 9))
    expect(tails.head('a')).toBeUndefined()
    tails.heard('a', again, 10)
    expect(tails.head('a')).toBe(10)
  })

  test('messages for a session not tracked are not kept: they may have missed earlier messages', () => {
    const tails = new RedisTails()
    tails.woken('a', 3)
    expect(tails.head('a')).toBeUndefined()
    expect(tails.read('a', 0, 100)).toBeUndefined()
  })

  test('a gap (events of another instance not read yet) starts the kept run over, so it stays contiguous', () => {
    const tails = new RedisTails()
    const ticket = tails.track('a')
    tails.heard('a', ticket, 3)
    tails.add('a', ticket, events('a', 1, 3))
    tails.add('a', ticket, events('a', 5, 5)) // 4 was appended elsewhere
    tails.add('a', ticket, events('a', 2, 3)) // an overlapping read adds nothing twice
    expect(tails.head('a')).toBe(5)
    expect(tails.read('a', 3, 100)).toBeUndefined()
    expect(seqs(tails.read('a', 4, 100))).toEqual([5])
  })

  test('an event too big to keep is read from Redis, and those after it are kept again', () => {
    const tails = new RedisTails()
    const ticket = tails.track('a')
    tails.heard('a', ticket, 1)
    tails.add('a', ticket, [...events('a', 1, 1), ...events('a', 2, 2, 1_000_000), ...events('a', 3, 4)])
    expect(tails.head('a')).toBe(4)
    expect(tails.read('a', 1, 100)).toBeUndefined()
    expect(seqs(tails.read('a', 2, 100))).toEqual([3, 4])
  })

  test('forget and clear make the next request ask Redis; the oldest sessions go first past either limit', () => {
    const tails = new RedisTails({ sessions: 2, perSession: 4, maxChars: 1000 })
    for (const id of ['a', 'b']) tails.heard(id, tails.track(id), 1)
    tails.forget('a')
    expect(tails.head('a')).toBeUndefined()
    tails.heard('c', tails.track('c'), 1)
    tails.track('d')
    expect(tails.head('b')).toBeUndefined()
    expect(tails.head('c')).toBe(1)
    // Past the characters all tails may keep, the least recently used go.
    const ticket = tails.track('c')
    tails.add('c', ticket, events('c', 1, 1, 600))
    const other = tails.track('e')
    tails.heard('e', other, 1)
    tails.add('e', other, events('e', 1, 1, 600))
    expect(tails.head('c')).toBeUndefined()
    expect(tails.head('e')).toBe(1)
    tails.clear()
    expect(tails.head('e')).toBeUndefined()
  })

  test('keeps at least the newest events of a busy session', () => {
    const tails = new RedisTails({ perSession: 4 })
    const ticket = tails.track('a')
    for (let seq = 1; seq <= 50; seq++) {
      tails.heard('a', ticket, seq)
      tails.add('a', ticket, events('a', seq, seq))
    }
    expect(seqs(tails.read('a', 46, 100))).toEqual([47, 48, 49, 50])
    expect(tails.read('a', 0, 100)).toBeUndefined()
  })
})

describe('wake messages', () => {
  test('carry the session and the seq of an append batch, a line per session, or the session alone', () => {
    expect(parseWake('abc 12')).toEqual([{ sessionId: 'abc', seq: 12 }])
    expect(parseWake('abc 12\ndef 3')).toEqual([
      { sessionId: 'abc', seq: 12 },
      { sessionId: 'def', seq: 3 },
    ])
    expect(parseWake('abc')).toEqual([{ sessionId: 'abc' }])
    expect(parseWake('abc x')).toEqual([{ sessionId: 'abc' }])
  })
})

describe('the Redis store on what it knows', () => {
  test('a stream that joins a head look-up in flight after a wake message for a newer seq does not wait for it again', async () => {
    // A link whose HGET answers only when told: the look-up is in flight while the wake message arrives.
    let answer!: (value: unknown) => void
    const link = { send: (command: string) => (command === 'HGET' ? new Promise((resolve) => (answer = resolve)) : Promise.resolve(null)) }
    const signal = new SessionSignal()
    const store = new RedisStore({ link: link as unknown as RedisLink, keys: redisKeys('t:'), notifier: signal, subscribed: () => true })
    const never = new AbortController().signal
    const first = store.waitFor('s', 9, never, 2000) // the head unknown: a look-up goes out; Redis will say 9
    store.wakeHeard('s', 10) // another instance appended 10
    signal.notify('s')
    const joined = store.waitFor('s', 9, never, 2000) // waits after that message, and joins the look-up
    answer('9')
    expect(await first).toBe(false)
    expect(await joined).toBe(false) // true would be its timeout: the wake-up it missed
  })
})
