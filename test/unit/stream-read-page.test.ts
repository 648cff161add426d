import { describe, expect, test } from 'bun:test'
import type { LogEntry } from '../../src/log/log-backend.ts'
import { KeyedMutex } from '../../src/streams/keyed-mutex.ts'
import type { StreamContext } from '../../src/streams/stream-context.ts'
import { STREAM_READ_CHUNK_BYTES } from '../../src/streams/stream-limits.ts'
import type { StreamLog } from '../../src/streams/stream-log.ts'
import { readPage } from '../../src/streams/stream-read.ts'

/** A log of `count` entries of `size` characters each, counting what the page reader asked of it. */
function logOf(count: number, size: number) {
  const asked = { calls: 0, entries: 0 }
  const read = async (_name: string, after: number, limit: number): Promise<LogEntry[]> => {
    const entries = Array.from({ length: Math.max(0, Math.min(limit, count - after)) }, (_, i) => ({
      seq: after + i + 1,
      data: 'x'.repeat(size),
    }))
    asked.calls++
    asked.entries += entries.length
    return entries
  }
  const ctx: StreamContext = {
    log: { read } as Partial<StreamLog> as StreamLog,
    locks: new KeyedMutex(),
    longPollMs: 1000,
    random: Math.random,
    maxProducers: 10,
  }
  return { ctx, asked }
}

describe('a page of a stream read', () => {
  test('large entries: one per page, and only a few read for it, not the whole log', async () => {
    const { ctx, asked } = logOf(64, STREAM_READ_CHUNK_BYTES)
    const page = await readPage(ctx, 's', 0, 64)
    expect(page.entries).toHaveLength(1)
    expect(page).toMatchObject({ last: 1, upToDate: false })
    expect(asked.entries).toBeLessThanOrEqual(4)
  })

  test('small entries: a page fills to the byte cap in a few reads', async () => {
    const { ctx, asked } = logOf(200_000, 10)
    const page = await readPage(ctx, 's', 0, 200_000)
    const bytes = page.entries.length * 10
    expect(bytes).toBeLessThanOrEqual(STREAM_READ_CHUNK_BYTES)
    expect(bytes).toBeGreaterThan(STREAM_READ_CHUNK_BYTES / 2)
    expect(asked.calls).toBeLessThanOrEqual(150)
  })

  test('the head: the page ends there, up to date, and an empty one stays where it started', async () => {
    const { ctx } = logOf(3, 10)
    expect(await readPage(ctx, 's', 0, 3)).toMatchObject({ last: 3, upToDate: true })
    expect(await readPage(ctx, 's', 3, 3)).toEqual({ entries: [], last: 3, upToDate: true })
  })
})
