/**
 * Writes sessions into a SQLite store and then waits to be killed: the recovery tests SIGKILL this process once it
 * says `committed`, so the database is left exactly as a crash leaves it (events in the journal, no clean close).
 * Reads `[{ id, events }]` as JSON on stdin; the file path is the first argument.
 */
import type { NewEvent } from '../../src/events.ts'
import { SqliteStore } from '../../src/store/sqlite-store.ts'
import { ECHO } from '../helpers/echo-spec.ts'

const plan = (await new Response(Bun.stdin.stream()).json()) as { id: string; events: NewEvent[] }[]
const store = new SqliteStore(process.argv[2]!)
for (const { id, events } of plan) {
  await store.createSession(id, ECHO)
  for (const event of events) await store.append(id, event)
}
process.stdout.write('committed\n')
await new Promise(() => {})
