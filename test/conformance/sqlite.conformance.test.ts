import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runStepstreamConformance } from './stepstream-conformance.ts'

/** The Durable Streams conformance suite on SQLite, a fresh database file (part of `bun test`; alone: `bun run test:conformance`). */
const dir = mkdtempSync(join(tmpdir(), 'stepstream-ds-'))
runStepstreamConformance(
  async () => ({ kind: 'sqlite', path: join(dir, 'streams.db') }),
  async () => rmSync(dir, { recursive: true, force: true }),
)
