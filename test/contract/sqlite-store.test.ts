import { afterAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AppError } from '../../src/errors.ts'
import { storedBytes } from '../../src/store/byte-budget.ts'
import { SqliteStore } from '../../src/store/sqlite-store.ts'
import { newId } from '../../src/session-id.ts'
import { partial, storeContract } from './store.contract.ts'
import { ECHO } from '../helpers/echo-spec.ts'

const dir = mkdtempSync(join(tmpdir(), 'stepstream-sqlite-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let n = 0

storeContract('sqlite', (options) => new SqliteStore(join(dir, `contract-${n++}.db`), options))

test('sqlite store keeps the log across a reopen and continues the same seq', async () => {
  const path = join(dir, 'reopen.db')
  const id = newId()
  const first = new SqliteStore(path)
  await first.createSession(id, ECHO)
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
  await first.createSession(merged, ECHO)
  expect(await appendUntilFull(first, merged, 0)).toBe(9)
  await first.close()
  const second = new SqliteStore(join(dir, 'budget.db'), options)
  expect(await appendUntilFull(second, merged, 9)).toBe(0)
  await second.close()
})

test('sqlite store: retention gives back the bytes of the events it deletes', async () => {
  const store = new SqliteStore(join(dir, 'budget-retention.db'), { maxSessionBytes: 256 * 1024 })
  const id = newId()
  await store.createSession(id, ECHO)
  expect(await appendUntilFull(store, id, 0)).toBe(9)
  await store.prune({ idleMs: 1e12, compactAfterMs: 1e12, maxEventsPerSession: 4 })
  expect(await appendUntilFull(store, id, 9)).toBe(5)
  await store.close()
})

test('sqlite store: readBefore spans the journal and the merged rows, bounded in bytes, and pages back to the start', async () => {
  const path = join(dir, 'read-before.db')
  const id = newId()
  const sized = (i: number) => partial(`${i}:`.padEnd(1000, 'x'))
  const first = new SqliteStore(path)
  await first.createSession(id, ECHO)
  for (let i = 1; i <= 30; i++) await first.append(id, sized(i))
  await first.close()
  const store = new SqliteStore(path)
  for (let i = 31; i <= 33; i++) await store.append(id, sized(i))
  const one = storedBytes((await store.read(id, 0, 1))[0]!)
  expect((await store.readBefore(id, 34, 5 * one)).map((e) => e.seq)).toEqual([29, 30, 31, 32, 33])
  expect((await store.readBefore(id, 31, 2 * one)).map((e) => e.seq)).toEqual([29, 30])
  const seen: number[] = []
  for (let page = await store.readBefore(id, 34, 300 * one); page.length > 0; page = await store.readBefore(id, page[0]!.seq, 300 * one)) {
    seen.unshift(...page.map((e) => e.seq))
  }
  expect(seen).toEqual(Array.from({ length: 33 }, (_, i) => i + 1))
  await store.close()
})
