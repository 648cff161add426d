import { Database } from 'bun:sqlite'
import { afterAll, expect, test } from 'bun:test'
import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import { SqliteBackend } from '../../src/log/backends/sqlite-backend.ts'
import { SCHEMA_VERSION } from '../../src/log/backends/sqlite-schema.ts'
import { tempDir } from './helpers.ts'

// test/fixtures/make-schema-v9.ts wrote the file with the backend of schema 9.
const fixture = join(import.meta.dir, '../fixtures/schema-v9.db')
const temp = tempDir('stepstream-schema-v10-')
afterAll(() => temp.remove())
const NOW = Date.parse('2026-11-01T12:00:00.000Z')

/** A copy of the fixture, as an operator's file: the migration writes it. */
function v9File(): string {
  const path = temp.file()
  copyFileSync(fixture, path)
  return path
}

test('a schema-9 database opens with its forks counted, every log capped and live, and its entries as they were', async () => {
  const path = v9File()
  const backend = new SqliteBackend(path)
  try {
    const forks = new Map<string, number>()
    for (const log of ['v9-source', 'v9-fork-a', 'v9-fork-b', 'v9-fork-a-a', 'v9-alone']) {
      const state = (await backend.state(log))!
      forks.set(log, state.forks)
      expect(state.capped).toBeUndefined()
      expect(state.deletedAt).toBeUndefined()
    }
    expect([...forks]).toEqual([
      ['v9-source', 2],
      ['v9-fork-a', 1],
      ['v9-fork-b', 0],
      ['v9-fork-a-a', 0],
      ['v9-alone', 0],
    ])
    expect(await backend.state('v9-alone')).toMatchObject({ closed: true, expiresAt: NOW + 3_600_000, head: 0 })
    expect(await backend.state('v9-fork-a-a')).toMatchObject({ head: 2, count: 2, forkedFrom: { log: 'v9-fork-a', at: 2 } })
    expect((await backend.read('v9-source', 0, 10)).map((e) => e.data)).toEqual(['"1"', '"2"', '"3"', '"4"'])
    expect(await backend.producer('v9-source', 'k')).toBe('v')
    expect(await backend.resolveAlias('v9-source-viewer')).toBe('v9-source')
    expect(await backend.totals()).toEqual({ logs: 5, entries: 11, bytes: 33 })
  } finally {
    await backend.close()
  }
  const db = new Database(path, { readonly: true })
  expect(db.query('PRAGMA user_version').get()).toEqual({ user_version: SCHEMA_VERSION })
  db.close()
})

test('forks made before schema 10 hold their sources: deleted, a source is kept until its last fork goes, down the chain', async () => {
  const backend = new SqliteBackend(v9File())
  try {
    expect(await backend.delete('v9-source', NOW)).toBe('SOFT')
    expect(await backend.delete('v9-fork-a', NOW)).toBe('SOFT')
    expect(await backend.delete('v9-fork-b', NOW)).toEqual({ logs: 1, entries: 3, bytes: 9 })
    expect(await backend.state('v9-source')).toMatchObject({ forks: 1, deletedAt: NOW })
    // The last fork of the chain takes its source and the source's source with it.
    expect(await backend.delete('v9-fork-a-a', NOW)).toEqual({ logs: 3, entries: 2 + 2 + 4, bytes: 24 })
    expect(await backend.state('v9-source')).toBeUndefined()
    expect(await backend.resolveAlias('v9-source-viewer')).toBeUndefined()
    expect(await backend.totals()).toEqual({ logs: 1, entries: 0, bytes: 0 })
  } finally {
    await backend.close()
  }
})
