import type { Database } from 'bun:sqlite'
import { afterAll, expect, test } from 'bun:test'
import { SqliteBackend } from '../../src/log/backends/sqlite-backend.ts'
import { SCAN_SQL } from '../../src/log/backends/sqlite-log-queries.ts'
import { StoreFailure } from '../../src/log/log-backend.ts'
import { newId } from '../../src/session-id.ts'
import { entry } from '../contract/backend.contract.ts'
import { fillDiskAfter, tempDir } from './helpers.ts'

const tmp = tempDir('stepstream-sqlite-backend-')
afterAll(tmp.remove)
const LIMITS = { maxLogBytes: 64 << 20, reserveBytes: 0 }

/** A backend on a fresh file, and its connection, to inject faults. */
function openWithHandle(path = tmp.file()) {
  let db!: Database
  const backend = new SqliteBackend(path, { onOpen: (opened) => (db = opened) })
  return { backend, db, path }
}

/** A log holding two entries. */
async function logWithTwo(backend: SqliteBackend) {
  const log = newId()
  await backend.create({ log, meta: '{}' }, 1)
  await backend.append([entry(log, '"a"'), entry(log, '"b"')], LIMITS, 1)
  return log
}

test('a batch the disk cannot take rejects with StoreFailure "its disk is full", leaves nothing visible, and the seqs go on', async () => {
  const { backend, db } = openWithHandle()
  const log = await logWithTwo(backend)
  const before = { state: await backend.state(log), totals: await backend.totals() }
  const release = fillDiskAfter(db, 0)
  const big = 'x'.repeat(64 * 1024)
  const failure = await backend.append([entry(log, `"${big}"`), entry(log, '"c"', { opensRun: true, run: 'r' })], LIMITS, 2).catch((e) => e)
  expect(failure).toBeInstanceOf(StoreFailure)
  expect(failure.reason).toBe('its disk is full')
  expect(await backend.read(log, 0, 10)).toEqual([
    { seq: 1, data: '"a"' },
    { seq: 2, data: '"b"' },
  ])
  expect(await backend.state(log)).toEqual(before.state!)
  expect(await backend.totals()).toEqual(before.totals)
  release()
  expect(await backend.append([entry(log, '"c"')], LIMITS, 3)).toEqual([3])
  await backend.close()
})

test('a database that became read-only fails appends and deletions with "its database has become read-only"', async () => {
  const { backend, db } = openWithHandle()
  const log = await logWithTwo(backend)
  db.exec('PRAGMA query_only = 1')
  for (const write of [
    () => backend.append([entry(log, '"c"')], LIMITS, 2),
    () => backend.delete(log, 2),
    () => backend.keepNewest(log, 1),
    () => backend.deleteEntries(log, [1]),
  ]) {
    const failure = await write().catch((e) => e)
    expect(failure).toBeInstanceOf(StoreFailure)
    expect(failure.reason).toBe('its database has become read-only')
  }
  expect(await backend.state(log)).toMatchObject({ head: 2, tail: 0, count: 2 })
  await backend.close()
})

test('after close every call fails with a StoreFailure, and a second close is harmless', async () => {
  const { backend } = openWithHandle()
  const log = await logWithTwo(backend)
  await backend.close()
  await backend.close()
  expect(await backend.append([entry(log, '"c"')], LIMITS, 2).catch((e) => e)).toBeInstanceOf(StoreFailure)
  expect(await backend.read(log, 0, 10).catch((e) => e)).toBeInstanceOf(StoreFailure)
})

test('the scans of retention, expiry and recovery each read an index of logs, never the whole table', () => {
  const { backend, db } = openWithHandle(':memory:')
  const plan = (sql: string) =>
    (db.query(`EXPLAIN QUERY PLAN ${sql}`).all(...Array(sql.match(/\?/g)?.length ?? 0).fill(1)) as { detail: string }[])
      .map((row) => row.detail)
      .join('; ')
  expect(plan(SCAN_SQL.active.replace(/\?\d/g, '?'))).toContain('USING COVERING INDEX logs_by_activity')
  expect(plan(SCAN_SQL.activeAfter.replace(/\?\d/g, '?'))).toContain('USING COVERING INDEX logs_by_activity')
  expect(plan(SCAN_SQL.expired)).toContain('INDEX logs_by_expiry')
  expect(plan(SCAN_SQL.openRuns)).toContain('USING COVERING INDEX logs_with_open_run')
  void backend.close()
})
