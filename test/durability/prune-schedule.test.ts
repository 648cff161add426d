import { afterAll, expect, test } from 'bun:test'
import { createLogger } from '../../src/log.ts'
import { newId } from '../../src/session-id.ts'
import { schedulePruning } from '../../src/store/prune-schedule.ts'
import { DEFAULT_RETENTION_POLICY } from '../../src/log/retention-policy.ts'
import { DAY, ev, storeWithHandle, tempDir } from './helpers.ts'
import { ECHO } from '../helpers/echo-spec.ts'

const tmp = tempDir()
afterAll(tmp.remove)

test('pruning runs once at start, logs what it removed, and stop waits for the pass in progress', async () => {
  const { store, db } = storeWithHandle(tmp.file())
  const id = newId()
  await store.createSession(id, ECHO)
  await store.append(id, ev.user('r', 'old news'))
  db()
    .query('UPDATE sessions SET last_activity = ? WHERE id = ?')
    .run(new Date(Date.now() - 31 * DAY).toISOString(), id)
  const lines: string[] = []
  const schedule = schedulePruning(store, DEFAULT_RETENTION_POLICY, createLogger('info', { write: (line) => lines.push(line) }), 3_600_000)
  await schedule.stop()
  expect(await store.getSession(id)).toBeUndefined()
  expect(lines.map((line) => JSON.parse(line))).toEqual([
    expect.objectContaining({ level: 'info', msg: 'pruned the store', sessionsDeleted: 1, eventsDeleted: 1 }),
  ])
  await store.close()
})

test('a pass with nothing to remove logs nothing', async () => {
  const { store } = storeWithHandle(tmp.file())
  const lines: string[] = []
  await schedulePruning(store, DEFAULT_RETENTION_POLICY, createLogger('info', { write: (line) => lines.push(line) }), 3_600_000).stop()
  expect(lines).toEqual([])
  await store.close()
})
