import { Database } from 'bun:sqlite'
import { afterAll, describe, expect, test } from 'bun:test'
import { DEFAULT_RETENTION_POLICY } from '../../src/store/retention-policy.ts'
import { newId } from '../../src/session-id.ts'
import { readAll } from '../../src/store/read-all.ts'
import { SqliteStore } from '../../src/store/sqlite-store.ts'
import { testApp, url } from '../helpers/test-app.ts'
import { DAY, ev, seqsOf, storeWithHandle, tempDir } from './helpers.ts'

const tmp = tempDir()
afterAll(tmp.remove)

/** Keeps the write side busy for a few hundred milliseconds, so that what is sent after it waits unanswered. */
const BUSY_SQL = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) SELECT count(*) FROM c'

/** The promise's outcome, or 'pending' if it has not settled within `ms`: a hang fails the test instead of timing it out. */
async function within<T>(promise: Promise<T>, ms: number): Promise<PromiseSettledResult<T> | 'pending'> {
  const outcome = Promise.allSettled([promise]).then(([result]) => result!)
  return Promise.race([outcome, Bun.sleep(ms).then(() => 'pending' as const)])
}

describe('the writer worker', () => {
  test('dying mid-batch rejects every append waiting on it with a 503 sentence, marks the store unready, and refuses later writes at once', async () => {
    const lost: string[] = []
    const { store, writer } = storeWithHandle(tmp.file(), { onWriterLost: (reason) => lost.push(reason) })
    const { app } = await testApp({ store })
    const id = newId()
    await store.createSession(id)
    expect((await store.append(id, ev.partial('s', 'kept'))).seq).toBe(1)
    void writer()
      .exec(BUSY_SQL)
      .catch(() => {})
    const waiting = Array.from({ length: 5 }, (_, i) => store.append(id, ev.partial('s', String(i))))
    // The batch is sent on the next turn, and waits behind the busy statement.
    await new Promise((resolve) => setImmediate(resolve))
    writer().terminate()
    for (const append of waiting) {
      const outcome = await within(append, 5000)
      expect(outcome).toMatchObject({ status: 'rejected', reason: { code: 'STORE_UNAVAILABLE', status: 503 } })
      expect((outcome as PromiseRejectedResult).reason.message).toMatch(
        /^The server could not save this because its database writer stopped\./,
      )
    }
    expect(lost).toEqual(['the SQLite writer exited'])
    expect((await app.handle(new Request(url('/readyz')))).status).toBe(503)
    expect(await within(store.append(id, ev.partial('s', 'late')), 1000)).toMatchObject({ status: 'rejected', reason: { status: 503 } })
    expect(await within(store.createSession(newId()), 1000)).toMatchObject({ status: 'rejected', reason: { status: 503 } })
    // What was acknowledged is still read.
    expect(seqsOf(await store.read(id, 0))).toEqual([1])
    expect(await within(store.close(), 5000)).toMatchObject({ status: 'fulfilled' })
  })

  test('a batch that fails numbers the appends gathered behind it again: no hole, no seq reused', async () => {
    const { store, writer } = storeWithHandle(tmp.file())
    const id = newId()
    await store.createSession(id)
    expect((await store.append(id, ev.partial('s', 'a'))).seq).toBe(1)
    await writer().exec('PRAGMA query_only = ON')
    void writer().exec(BUSY_SQL)
    const failing = store.append(id, ev.partial('s', 'refused'))
    // Sent on the next turn; the next append gathers behind it while it waits, numbered after it.
    await new Promise((resolve) => setImmediate(resolve))
    const behind = store.append(id, ev.partial('s', 'b'))
    const lifted = writer().exec('PRAGMA query_only = OFF')
    await expect(failing).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' })
    expect((await behind).seq).toBe(2)
    await lifted
    expect((await store.append(id, ev.partial('s', 'c'))).seq).toBe(3)
    expect((await readAll(store, id)).map((e) => [e.seq, e.type === 'partial' ? e.delta : ''])).toEqual([
      [1, 'a'],
      [2, 'b'],
      [3, 'c'],
    ])
    await store.close()
  })

  test('batches are answered in the order they were sent, each session in seq order, across many turns', async () => {
    const store = new SqliteStore(tmp.file(), { maxBatch: 7 })
    const ids = [newId(), newId(), newId()]
    for (const id of ids) await store.createSession(id)
    const appends: Promise<{ seq: number; session_id: string }>[] = []
    const settledOrder: string[] = []
    for (let turn = 0; turn < 10; turn++) {
      for (const id of ids) {
        for (let i = 0; i < 4; i++) {
          const append = store.append(id, ev.partial('s', `${turn}.${i}`))
          appends.push(append)
          void append.then((e) => settledOrder.push(`${e.session_id}:${e.seq}`))
        }
      }
      await new Promise((resolve) => setImmediate(resolve))
    }
    await Promise.all(appends)
    for (const id of ids) {
      const seqs = settledOrder.filter((key) => key.startsWith(`${id}:`)).map((key) => Number(key.split(':')[1]))
      expect(seqs).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
      expect(seqsOf(await readAll(store, id))).toEqual(seqs)
    }
    await store.close()
  })

  test('close while batches are in flight commits every append made before it, refuses those after, and keeps them all on disk', async () => {
    const path = tmp.file()
    const store = new SqliteStore(path, { maxBatch: 50 })
    const ids = Array.from({ length: 10 }, newId)
    for (const id of ids) await store.createSession(id)
    const made: Promise<unknown>[] = []
    for (let turn = 0; turn < 3; turn++) {
      for (const id of ids) for (let i = 0; i < 20; i++) made.push(store.append(id, ev.partial('s', String(i))))
      await new Promise((resolve) => setImmediate(resolve))
    }
    // More, in the same turn as close: they have not even been sent.
    for (const id of ids) made.push(store.append(id, ev.partial('s', 'last')))
    const [closed, again] = [store.close(), store.close()]
    await expect(store.append(ids[0]!, ev.partial('s', 'late'))).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', status: 503 })
    expect(await within(Promise.all([closed, again]), 10_000)).toMatchObject({ status: 'fulfilled' })
    expect((await Promise.allSettled(made)).filter((r) => r.status === 'rejected')).toEqual([])

    const reopened = new SqliteStore(path)
    for (const id of ids) expect(seqsOf(await readAll(reopened, id))).toEqual(Array.from({ length: 61 }, (_, i) => i + 1))
    await reopened.close()
  })

  test('an append queued for a session that retention deleted before it heard so is refused as unknown, and leaves no row behind', async () => {
    const path = tmp.file()
    const { store, db } = storeWithHandle(path)
    const [idle, busy] = [newId(), newId()]
    for (const id of [idle, busy]) {
      await store.createSession(id)
      await store.append(id, ev.user('r', 'hi'))
    }
    db()
      .query('UPDATE sessions SET last_activity = ? WHERE id = ?')
      .run(new Date(Date.now() - 31 * DAY).toISOString(), idle)
    const pruning = store.prune({ ...DEFAULT_RETENTION_POLICY, idleMs: 30 * DAY })
    // This thread holds still while the writer deletes the session: it has not heard of it when it appends.
    Bun.sleepSync(300)
    const late = store.append(idle, ev.partial('r', 'late'))
    const fine = store.append(busy, ev.partial('r', 'fine'))
    await expect(late).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' })
    expect((await fine).seq).toBe(2)
    expect(await pruning).toMatchObject({ sessionsDeleted: 1 })
    await expect(store.append(idle, ev.partial('r', 'later'))).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' })
    await store.close()
    const file = new Database(path, { readonly: true })
    expect(file.query('SELECT count(*) AS n FROM events WHERE session = ?').get(idle)).toEqual({ n: 0 })
    file.close()
  })
})
