import { afterAll, describe, expect, test } from 'bun:test'
import { newId } from '../../src/session-id.ts'
import { Journal } from '../../src/store/sqlite-journal.ts'
import { openSqlite } from '../../src/store/sqlite-open.ts'
import { GroupCommitWriter } from '../../src/store/sqlite-writer.ts'
import { SqliteStore } from '../../src/store/sqlite-store.ts'
import { ev, fillDiskAfter, seqsOf, storeWithHandle, tempDir } from './helpers.ts'
import { ECHO } from '../helpers/echo-spec.ts'

const tmp = tempDir()
afterAll(tmp.remove)

/** A writer on a fresh in-memory schema with sessions `ids`, recording every commit. */
function writerWith(ids: string[], options: { windowMs?: number; maxBatch?: number }) {
  const { db } = openSqlite(':memory:')
  for (const id of ids) db.query("INSERT INTO sessions (id, created_at, last_activity) VALUES (?, '', '')").run(id)
  const commits: string[][] = []
  const writer = new GroupCommitWriter(
    db,
    new Journal(db),
    (events) => commits.push([...new Set(events.map((e) => e.session_id))]),
    options,
  )
  // Commits write the journal; its merge into `events` is the store's business.
  const rows = () => (db.query('SELECT count(*) AS n FROM journal').get() as { n: number }).n
  return { writer, commits, rows }
}

describe('group commit', () => {
  test('appends issued together share one transaction and settle together, in seq order per session', async () => {
    const ids = Array.from({ length: 10 }, newId)
    const { writer, commits, rows } = writerWith(ids, { windowMs: 5 })
    const appends = ids.flatMap((id) => Array.from({ length: 10 }, (_, i) => writer.append(id, ev.partial('s', String(i)))))
    const stored = await Promise.all(appends)
    expect(commits).toHaveLength(1)
    expect(commits[0]!.sort()).toEqual([...ids].sort())
    expect(rows()).toBe(100)
    for (const id of ids) expect(stored.filter((e) => e.session_id === id).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
  })

  test('a batch that reaches its size limit commits at once instead of waiting out the window', async () => {
    const id = newId()
    const { writer, commits, rows } = writerWith([id], { windowMs: 3_600_000, maxBatch: 10 })
    const appends = Array.from({ length: 25 }, (_, i) => writer.append(id, ev.partial('s', String(i))))
    await Promise.all(appends.slice(0, 20))
    expect(commits).toHaveLength(2)
    expect(rows()).toBe(20)
    writer.flush()
    expect((await Promise.all(appends)).map((e) => e.seq)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1))
    expect(commits).toHaveLength(3)
  })

  test('a pending append is invisible to readers and to the committed seq until its batch commits', async () => {
    const id = newId()
    const { writer, commits, rows } = writerWith([id], { windowMs: 3_600_000 })
    const pending = writer.append(id, ev.partial('s', 'x'))
    expect(rows()).toBe(0)
    expect(writer.committedSeq(id)).toBe(0)
    expect(commits).toHaveLength(0)
    writer.flush()
    expect((await pending).seq).toBe(1)
    expect(writer.committedSeq(id)).toBe(1)
    expect(commits).toEqual([[id]])
  })

  test('the store answers reads with committed events only: an append not yet resolved is not read', async () => {
    const store = new SqliteStore(tmp.file())
    const id = newId()
    await store.createSession(id, ECHO)
    const pending = store.append(id, ev.partial('s', 'x'))
    expect(await store.read(id, 0)).toEqual([])
    expect((await store.getSession(id))?.last_seq).toBe(0)
    await pending
    expect(seqsOf(await store.read(id, 0))).toEqual([1])
    await store.close()
  })

  test('an append to an unknown session is refused without disturbing the batch it would have joined', async () => {
    const id = newId()
    const { writer } = writerWith([id], { windowMs: 1 })
    const good = writer.append(id, ev.partial('s', 'a'))
    await expect(writer.append(newId(), ev.partial('s', 'b'))).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' })
    expect((await good).seq).toBe(1)
  })

  test('close commits what is pending, then refuses appends with a 503', async () => {
    const path = tmp.file()
    const store = new SqliteStore(path, { windowMs: 3_600_000 })
    const id = newId()
    await store.createSession(id, ECHO)
    const pending = store.append(id, ev.partial('s', 'kept'))
    await store.close()
    expect((await pending).seq).toBe(1)
    await expect(store.append(id, ev.partial('s', 'late'))).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', status: 503 })
    const reopened = new SqliteStore(path)
    expect(seqsOf(await reopened.read(id, 0))).toEqual([1])
    await reopened.close()
  })
})

describe('a failing batch', () => {
  test('rejects every append in it with a 503 sentence and makes none of it visible, even the rows that fit', async () => {
    const { store, db } = storeWithHandle(tmp.file())
    const [a, b] = [newId(), newId()]
    for (const id of [a, b]) {
      await store.createSession(id, ECHO)
      await store.append(id, ev.partial('s', 'before'))
    }
    const lift = fillDiskAfter(db(), 20)
    // 200 KiB into 80 KiB of room: the first rows of the batch fit, a later one does not.
    const big = 'x'.repeat(1024)
    const results = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => store.append(i % 2 ? a : b, ev.partial('s', big))))
    expect(results.every((r) => r.status === 'rejected')).toBe(true)
    for (const result of results) {
      expect((result as PromiseRejectedResult).reason).toMatchObject({ code: 'STORE_UNAVAILABLE', status: 503 })
      expect((result as PromiseRejectedResult).reason.message).toMatch(/^The server could not save this because its disk is full\./)
    }
    expect(seqsOf(await store.read(a, 0))).toEqual([1])
    expect(seqsOf(await store.read(b, 0))).toEqual([1])
    lift()
    expect((await store.append(a, ev.partial('s', 'after'))).seq).toBe(2)
    expect(seqsOf(await store.read(a, 0))).toEqual([1, 2])
    await store.close()
  })

  test('leaves reads, waiters and later batches working', async () => {
    const { store, db } = storeWithHandle(tmp.file())
    const id = newId()
    await store.createSession(id, ECHO)
    await store.append(id, ev.partial('s', 'a'))
    db().exec('PRAGMA query_only = ON')
    await expect(store.append(id, ev.partial('s', 'b'))).rejects.toThrow(/read-only/)
    await expect(store.createSession(newId(), ECHO)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', status: 503 })
    expect(seqsOf(await store.read(id, 0))).toEqual([1])
    const woke = store.waitFor(id, 1, new AbortController().signal)
    db().exec('PRAGMA query_only = OFF')
    expect((await store.append(id, ev.partial('s', 'c'))).seq).toBe(2)
    await woke
    expect((await store.read(id, 0)).map((e) => (e.type === 'partial' ? e.delta : ''))).toEqual(['a', 'c'])
    await store.close()
  })
})
