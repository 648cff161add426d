import { Database } from 'bun:sqlite'
import { afterAll, describe, expect, test } from 'bun:test'
import { SqliteBackend } from '../../src/log/backends/sqlite-backend.ts'
import type { SqliteBackendOptions } from '../../src/log/backends/sqlite-backend.ts'
import { newId } from '../../src/session-id.ts'
import { entry } from '../contract/backend.contract.ts'
import { until } from '../helpers/wait.ts'
import { tempDir } from './helpers.ts'

const tmp = tempDir('stepstream-sqlite-journal-')
afterAll(tmp.remove)

const HOUR = 3_600_000
const LIMITS = { maxLogBytes: 64 << 20, reserveBytes: 0 }
const count = (db: Database, table: 'entries' | 'journal') => (db.query(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n
const seqs = (entries: { seq: number }[]) => entries.map((e) => e.seq)
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

function openWithHandle(path: string, options: SqliteBackendOptions = {}) {
  let db!: Database
  const backend = new SqliteBackend(path, { ...options, onOpen: (opened) => (db = opened) })
  return { backend, db }
}

/** A log holding `n` entries, appended one batch each. */
async function logWith(backend: SqliteBackend, n: number) {
  const log = newId()
  await backend.create({ log, meta: '{}' }, 1)
  for (let i = 1; i <= n; i++) await backend.append([entry(log, `"${i}"`)], LIMITS, 1)
  return log
}

describe('the journal of the SQLite backend', () => {
  test('commits land in the journal and reads see them before any merge, in order, page by page, back to front', async () => {
    const { backend, db } = openWithHandle(tmp.file(), { mergeEveryMs: HOUR, mergeAtEntries: 1_000_000 })
    const log = await logWith(backend, 150)
    expect([count(db, 'entries'), count(db, 'journal')]).toEqual([0, 150])
    expect(seqs(await backend.read(log, 10, 20))).toEqual(range(11, 30))
    expect(seqs(await backend.readBefore(log, 151, 5 * 5))).toEqual(range(146, 150))
    expect((await backend.state(log))?.head).toBe(150)
    await backend.close()
  })

  test('a merge moves entries in chunks while appends go on; reads across the boundary miss nothing', async () => {
    const path = tmp.file()
    const { backend, db } = openWithHandle(path, { mergeEveryMs: HOUR, mergeAtEntries: 40, chunkEntries: 7 })
    const logs = [newId(), newId(), newId()]
    for (const log of logs) await backend.create({ log, meta: '{}' }, 1)
    for (let i = 0; i < 100; i++)
      await backend.append(
        logs.map((log) => entry(log, '"x"')),
        LIMITS,
        1,
      )
    await until(() => count(db, 'entries') > 0, { what: 'the merge to move a first chunk into entries' })
    expect(count(db, 'journal')).toBeGreaterThan(0)
    for (const log of logs) {
      // Each row counts what has reached `entries`, the journal the rest: together, the log.
      const row = db.query('SELECT head, count, bytes FROM logs WHERE id = ?').get(log) as { head: number; count: number; bytes: number }
      const moved = db.query('SELECT MAX(seq) AS head, COUNT(*) AS count, SUM(bytes) AS bytes FROM entries WHERE log = ?').get(log)
      expect(row).toEqual({ head: expect.any(Number), count: expect.any(Number), bytes: expect.any(Number) })
      expect(moved).toEqual(row.count === 0 ? { head: null, count: 0, bytes: null } : row)
      expect(await backend.state(log)).toMatchObject({ head: 100, count: 100, bytes: 300 })
      expect(seqs(await backend.read(log, 0, 1000))).toEqual(range(1, 100))
      expect(seqs(await backend.readBefore(log, 101, 1 << 20))).toEqual(range(1, 100))
      expect(await backend.append([entry(log, '"y"')], LIMITS, 1)).toEqual([101])
    }
    await backend.close()
    const file = new Database(path, { readonly: true })
    expect([count(file, 'entries'), count(file, 'journal')]).toEqual([303, 0])
    file.close()
  })

  test('a merge pass deletes what it moved from the journal, piece by piece, and nothing else', async () => {
    const { backend, db } = openWithHandle(tmp.file(), { mergeEveryMs: 20, mergeAtEntries: 1_000_000 })
    const logs = [newId(), newId(), newId(), newId(), newId()]
    for (const log of logs) await backend.create({ log, meta: '{}' }, 1)
    // 2,500 rows: several pieces of the deletion, interleaved across the logs as a pass finds them.
    for (let i = 0; i < 500; i++)
      await backend.append(
        logs.map((log) => entry(log, `"${i}"`)),
        LIMITS,
        1,
      )
    await until(() => count(db, 'journal') === 0, { what: 'the merge passes to empty the journal' })
    expect(count(db, 'entries')).toBe(2500)
    for (const log of logs) expect(seqs(await backend.read(log, 0, 1000))).toEqual(range(1, 500))
    await backend.close()
  }, 20_000)

  test('a merge while readBefore pages back through entries does not read the journal entries twice', async () => {
    const path = tmp.file()
    const first = new SqliteBackend(path)
    const log = await logWith(first, 100)
    await first.close()
    const backend = new SqliteBackend(path, { mergeEveryMs: HOUR, mergeAtEntries: 1_000_000 })
    for (let i = 101; i <= 103; i++) await backend.append([entry(log, `"${i}"`)], LIMITS, 1)
    const reading = backend.readBefore(log, 104, 1 << 20)
    // Runs while the read waits between two pages of sizes: merges the journal into `entries`, deletes nothing.
    await backend.deleteEntries(log, [999])
    expect(seqs(await reading)).toEqual(range(1, 103))
    await backend.close()
  })

  test("a log's state read back from its row adds what the journal still holds of it", async () => {
    // One cached state: reading another log's drops it, so each state below is read from its row.
    const { backend } = openWithHandle(tmp.file(), { mergeEveryMs: HOUR, mergeAtEntries: 1_000_000, cachedLogs: 1 })
    const [a, b] = [await logWith(backend, 3), await logWith(backend, 2)]
    await backend.deleteEntries(a, [999])
    await backend.append([entry(a, '"4"'), entry(b, '"3"')], LIMITS, 1)
    expect(await backend.state(a)).toMatchObject({ head: 4, count: 4, bytes: 12 })
    expect(await backend.state(b)).toMatchObject({ head: 3, count: 3, bytes: 9 })
    expect(await backend.append([entry(a, '"5"')], LIMITS, 1)).toEqual([5])
    await backend.close()
  })

  test('rows a crash left in the journal are merged at the next open, even those a merge had already copied', async () => {
    const path = tmp.file()
    const first = new SqliteBackend(path)
    const log = await logWith(first, 0)
    await first.close()
    // What a crash mid-merge leaves: seq 1 in both tables, counted in its row by the chunk that moved it; 2 and 3 in
    // the journal only.
    const crashed = new Database(path)
    crashed.query('UPDATE logs SET head = 1, count = 1, bytes = 3 WHERE id = ?').run(log)
    crashed.query(`INSERT INTO entries (log, seq, bytes, data) VALUES (?, 1, 3, '"1"')`).run(log)
    const journal = crashed.query('INSERT INTO journal (log, seq, bytes, data) VALUES (?, ?, 3, ?)')
    for (const seq of [1, 2, 3]) journal.run(log, seq, `"${seq}"`)
    crashed.close()
    const { backend, db } = openWithHandle(path)
    expect(await backend.read(log, 0, 10)).toEqual(range(1, 3).map((seq) => ({ seq, data: `"${seq}"` })))
    expect(count(db, 'journal')).toBe(0)
    expect(await backend.state(log)).toMatchObject({ head: 3, count: 3, bytes: 9 })
    expect(await backend.append([entry(log, '"4"')], LIMITS, 1)).toEqual([4])
    await backend.close()
  })

  test('deleting while a merge pass is still emptying the journal empties it first too: a reopen brings nothing back', async () => {
    const path = tmp.file()
    const { backend, db } = openWithHandle(path, { mergeEveryMs: 20, mergeAtEntries: 10_000_000, checkpointer: false })
    const log = newId()
    await backend.create({ log, meta: '{}' }, 1)
    const N = 30_000
    for (let i = 0; i < N; i += 500)
      await backend.append(
        Array.from({ length: 500 }, (_, k) => entry(log, `"${i + k + 1}"`)),
        LIMITS,
        1,
      )
    // The window: every row moved into `entries` (nothing pending), the journal still emptied 1,000 ids a turn.
    let inWindow = false
    for (let turn = 0; turn < 1_000_000 && !inWindow; turn++) {
      await new Promise((resolve) => setImmediate(resolve))
      inWindow = count(db, 'entries') === N && count(db, 'journal') > 0
    }
    expect(inWindow).toBe(true)
    await backend.keepNewest(log, 10)
    expect(count(db, 'journal')).toBe(0)
    await backend.close()
    const again = new SqliteBackend(path, { checkpointer: false })
    expect(seqs(await again.read(log, 0, 100))).toEqual(range(N - 9, N))
    await again.close()
  }, 60_000)

  test('deleting entries empties the journal first, so a crash after it cannot bring them back', async () => {
    const { backend, db } = openWithHandle(tmp.file(), { mergeEveryMs: HOUR, mergeAtEntries: 1_000_000 })
    const log = await logWith(backend, 5)
    await backend.deleteEntries(log, [2])
    expect(count(db, 'journal')).toBe(0)
    await backend.append([entry(log, '"6"')], LIMITS, 1)
    await backend.keepNewest(log, 3)
    expect(count(db, 'journal')).toBe(0)
    expect(seqs(await backend.read(log, 0, 10))).toEqual([4, 5, 6])
    await backend.close()
  })
})
