import { afterAll, describe, expect, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { statSync } from 'node:fs'
import { newId } from '../../src/session-id.ts'
import { BACKSTOP_CHECKPOINT_PAGES, Checkpointer } from '../../src/store/sqlite-checkpointer.ts'
import { WAL_AUTOCHECKPOINT_PAGES } from '../../src/store/sqlite-open.ts'
import { readAll } from '../../src/store/read-all.ts'
import { appendRun, storeWithHandle, tempDir } from './helpers.ts'
import { ECHO } from '../helpers/echo-spec.ts'

const tmp = tempDir()
afterAll(tmp.remove)

/** Polls `probe` until it is true, for at most `ms` milliseconds. */
async function until(probe: () => boolean, what: string, ms = 5000) {
  const deadline = Date.now() + ms
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`)
    await Bun.sleep(5)
  }
}

const autocheckpoint = (db: Database) => (db.query('PRAGMA wal_autocheckpoint').get() as { wal_autocheckpoint: number }).wal_autocheckpoint

describe('the checkpoint worker', () => {
  test('copies committed pages from the WAL into the database file off the serving thread, which only keeps a backstop', async () => {
    const path = tmp.file()
    const passes: number[] = []
    const { store, db } = storeWithHandle(path, { checkpointer: { everyMs: 10, onPass: () => passes.push(Date.now()) } })
    expect(autocheckpoint(db())).toBe(BACKSTOP_CHECKPOINT_PAGES)
    const emptySize = statSync(path).size
    const id = newId()
    await store.createSession(id, ECHO)
    // Far fewer pages than SQLite's own autocheckpoint needs: only a checkpoint from the worker moves them.
    await appendRun(store, id, 'x'.repeat(300), 'final')
    const committedAt = Date.now()
    await until(() => passes.some((at) => at > committedAt + 20) && statSync(path).size > emptySize, 'the database file grew')
    expect((await readAll(store, id)).length).toBe(303)
    await store.close()
  })

  test('without it, the serving connection checkpoints by itself as before (and the file stays as it was for a small load)', async () => {
    const path = tmp.file()
    const { store, db } = storeWithHandle(path, { checkpointer: false })
    expect(autocheckpoint(db())).toBe(WAL_AUTOCHECKPOINT_PAGES)
    const emptySize = statSync(path).size
    const id = newId()
    await store.createSession(id, ECHO)
    await appendRun(store, id, 'x'.repeat(300), 'final')
    await Bun.sleep(100)
    expect(statSync(path).size).toBe(emptySize)
    await store.close()
  })

  test('a worker that fails hands checkpoints back to the serving connection and says why', async () => {
    const db = new Database(tmp.file(), { strict: true })
    db.exec('PRAGMA journal_mode = WAL')
    const reasons: string[] = []
    // The worker opens the database without creating it: a path that does not exist makes it fail at once.
    const checkpointer = new Checkpointer(db, `${tmp.dir}/missing/nothing.db`, { onFailure: (reason) => reasons.push(reason) })
    await until(() => reasons.length > 0, 'the failure was reported')
    expect(checkpointer.failed).toBe(true)
    expect(reasons[0]).toMatch(/unable to open/)
    expect(autocheckpoint(db)).toBe(WAL_AUTOCHECKPOINT_PAGES)
    await checkpointer.close()
    db.close()
  })
})
