import { afterAll } from 'bun:test'
import { join } from 'node:path'
import { crashRecoveryTests } from './crash-recovery.ts'
import { tempDir } from './helpers.ts'

const tmp = tempDir()
afterAll(tmp.remove)

crashRecoveryTests('the event log over a journaled memory backend', {
  module: join(import.meta.dir, 'crash-stores.ts'),
  export: 'openJournaled',
  args: () => [`${tmp.file()}.jsonl`],
})
crashRecoveryTests('sqlite', { module: join(import.meta.dir, 'crash-stores.ts'), export: 'openSqlite', args: () => [tmp.file()] })
