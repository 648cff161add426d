import { afterAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SqliteStore } from '../../src/store/sqlite-store.ts'
import { newId } from '../../src/session-id.ts'
import { partial, storeContract } from './store.contract.ts'

const dir = mkdtempSync(join(tmpdir(), 'stepstream-sqlite-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let n = 0

storeContract('sqlite', () => new SqliteStore(join(dir, `contract-${n++}.db`)))

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
