import { afterAll, expect, test } from 'bun:test'
import { MemoryBackend } from '../../src/log/backends/memory-backend.ts'
import { CHANGES, openJournalBackend } from '../helpers/journal-backend.ts'
import { tempDir } from '../durability/helpers.ts'
import { backendContract } from './backend.contract.ts'

const tmp = tempDir()
afterAll(tmp.remove)
let path = ''

// The crash contract's stand-in for a durable backend keeps the backend contract, reopening included.
backendContract(
  'journaled memory (test helper)',
  () => {
    path = tmp.file()
    return openJournalBackend(path)
  },
  () => openJournalBackend(path),
)

test('the journal records calls the backend has: a misspelt one (trim, for keepNewest) was never replayed', () => {
  const backend = new MemoryBackend() as unknown as Record<string, unknown>
  expect([...CHANGES].filter((method) => typeof backend[method] !== 'function')).toEqual([])
})
