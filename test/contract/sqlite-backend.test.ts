import { afterAll } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SqliteBackend } from '../../src/log/backends/sqlite-backend.ts'
import { backendContract } from './backend.contract.ts'

const dir = mkdtempSync(join(tmpdir(), 'stepstream-sqlite-backend-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let n = 0
let path = ''

/** A fresh file for each test; `reopen` opens the file the test's backend was opened on. */
function openFresh() {
  path = join(dir, `contract-${n++}.db`)
  return new SqliteBackend(path)
}

backendContract('sqlite file', openFresh, async () => new SqliteBackend(path))
backendContract('sqlite :memory:', () => new SqliteBackend(':memory:'))
// Every commit past the first merges a chunk of one log at once: reads and deletions meet entries half in the journal.
backendContract('sqlite, journal merged as it goes', () => new SqliteBackend(':memory:', { mergeAtEntries: 1, chunkEntries: 1 }))
