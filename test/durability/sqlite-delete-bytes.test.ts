import { afterAll, expect, test } from 'bun:test'
import type { Database } from 'bun:sqlite'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { newId } from '../../src/session-id.ts'
import { SqliteStore } from '../../src/store/sqlite-store.ts'
import { testServer } from '../helpers/test-app.ts'
import { until } from '../helpers/wait.ts'

const dir = mkdtempSync(join(tmpdir(), 'stepstream-delete-bytes-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Whether the file holds `marker` anywhere in its bytes (a missing file holds nothing). */
const holds = (file: string, marker: string) => existsSync(file) && readFileSync(file).includes(marker)

/**
 * Issue 23: a deleted chat leaves the disk. SQLite zeroes what it deletes (`secure_delete`), so a checkpoint writes
 * zeroed pages into the database file (the store's checkpoint worker runs it, sqlite-checkpointer.ts); and the WAL is
 * cut when the serving connection's next write restarts it after that checkpoint
 * (`journal_size_limit = 0`), so the page images from before the delete are not left in its tail.
 */
test('a deleted chat is gone from the .db and the -wal bytes once SQLite has checkpointed and written again', async () => {
  const path = join(dir, `${newId()}.db`)
  let db!: Database
  const store = new SqliteStore(path, { onOpen: (opened) => (db = opened) })
  const made = await testServer({ store, echoDelayMs: 0 })
  try {
    const marker = `secret-${newId()}`
    const call = (method: string, route: string, body?: unknown) =>
      fetch(`${made.base}${route}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    const create = async () => ((await (await call('POST', '/api/sessions')).json()) as { id: string }).id
    const [chat, other] = [await create(), await create()]
    expect((await call('POST', `/api/sessions/${chat}/messages`, { text: `${marker} `.repeat(3) })).status).toBe(202)
    await until(async () => ((await (await fetch(`${made.base}/api/sessions/${chat}`)).json()) as { running: boolean }).running === false)
    expect((await call('PATCH', `/api/sessions/${chat}`, { title: marker })).status).toBe(200)
    await store.core.settled()
    // A PASSIVE checkpoint of the whole WAL; it answers busy when the store's checkpoint worker is running one at the
    // same moment, and is tried again then (the worker's may have started before the last commit).
    const checkpoint = () => until(() => (db.query('PRAGMA wal_checkpoint(PASSIVE)').all()[0] as { busy: number }).busy === 0)
    // Written, and checkpointed into the database file: the test can see it there.
    await checkpoint()
    expect(holds(path, marker)).toBe(true)

    expect((await call('DELETE', `/api/sessions/${chat}`)).status).toBe(204)
    // What the checkpoint worker does (or wal_autocheckpoint, past the backstop), then any write: the WAL restarts
    // from its start.
    await checkpoint()
    expect((await call('POST', `/api/sessions/${other}/messages`, { text: 'after' })).status).toBe(202)
    await store.core.settled()
    expect(holds(path, marker)).toBe(false)
    expect(holds(`${path}-wal`, marker)).toBe(false)
  } finally {
    await made.close()
  }
}, 30_000)
