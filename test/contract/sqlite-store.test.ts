import { afterAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AppError } from '../../src/errors.ts'
import { SqliteStore } from '../../src/store/sqlite-store.ts'
import { newId } from '../../src/session-id.ts'
import { partial, storeContract } from './store.contract.ts'

const dir = mkdtempSync(join(tmpdir(), 'stepstream-sqlite-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let n = 0

storeContract('sqlite', (options) => new SqliteStore(join(dir, `contract-${n++}.db`), options))

test('sqlite store keeps the log across a reopen and continues the same seq', async () => {
  const path = join(dir, 'reopen.db')
  const id = newId()
  const first = new SqliteStore(path)
  await first.createSession(id)
  await first.append(id, partial('a'))
  await first.append(id, partial('b'))
  await first.close()
  const second = new SqliteStore(path)
  expect((await second.getSession(id))?.last_seq).toBe(2)
  expect((await second.append(id, partial('c'))).seq).toBe(3)
  expect((await second.read(id, 0)).map((e) => e.seq)).toEqual([1, 2, 3])
  await second.close()
})

/** Appends 20 KB partials from `from` until one is refused (at most 50); returns how many were stored. */
async function appendUntilFull(store: SqliteStore, id: string, from: number): Promise<number> {
  for (let n = 0; n < 50; n++) {
    const refused = await store.append(id, partial(String(from + n).padEnd(20_000, 'x'))).then(
      () => false,
      (error: AppError) => error.code === 'SESSION_FULL',
    )
    if (refused) return n
  }
  return 50
}

test('sqlite store: a chat byte budget survives a reopen counted in sessions.bytes as the journal merges, with no scan of its events', async () => {
  const options = { maxSessionBytes: 256 * 1024 }
  const merged = newId()
  const first = new SqliteStore(join(dir, 'budget.db'), options)
  await first.createSession(merged)
  expect(await appendUntilFull(first, merged, 0)).toBe(9)
  await first.close()
  const second = new SqliteStore(join(dir, 'budget.db'), options)
  expect(await appendUntilFull(second, merged, 9)).toBe(0)
  await second.close()
})

test('sqlite store: retention gives back the bytes of the events it deletes', async () => {
  const store = new SqliteStore(join(dir, 'budget-retention.db'), { maxSessionBytes: 256 * 1024 })
  const id = newId()
  await store.createSession(id)
  expect(await appendUntilFull(store, id, 0)).toBe(9)
  await store.prune({ idleMs: 1e12, compactAfterMs: 1e12, maxEventsPerSession: 4 })
  expect(await appendUntilFull(store, id, 9)).toBe(5)
  await store.close()
})
