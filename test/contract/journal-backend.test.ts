import { afterAll } from 'bun:test'
import { openJournalBackend } from '../helpers/journal-backend.ts'
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
