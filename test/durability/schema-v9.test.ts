import { Database } from 'bun:sqlite'
import { afterAll, expect, test } from 'bun:test'
import { autoTitle } from '../../src/chat-title.ts'
import { copyFileSync } from 'node:fs'
import { join } from 'node:path'
import type { StoredEvent } from '../../src/events.ts'
import { SqliteBackend } from '../../src/log/backends/sqlite-backend.ts'
import { SCHEMA_VERSION } from '../../src/log/backends/sqlite-schema.ts'
import { SqliteStore } from '../../src/store/sqlite-store.ts'
import type { SessionRecord } from '../../src/log/event-store.ts'
import { tempDir } from './helpers.ts'

/** What the store of schema 8 read back from test/fixtures/schema-v8.db (test/fixtures/make-schema-v8.ts wrote both). */
interface Expected {
  record: SessionRecord
  last_activity: string
  events: StoredEvent[]
  bytes: number
  producers: { run: string; producer: string; state: unknown }[]
}

const fixtures = join(import.meta.dir, '../fixtures')
const expected = (await Bun.file(join(fixtures, 'schema-v8.expected.json')).json()) as Expected[]
const temp = tempDir('stepstream-schema-v9-')
afterAll(() => temp.remove())

/** A copy of the fixture, as an operator's file: the migration writes it. */
function v8File(): string {
  const path = temp.file()
  copyFileSync(join(fixtures, 'schema-v8.db'), path)
  return path
}

/** An event's JSON as the log keeps it: without seq and session, in the event's own key order. */
const dataOf = ({ seq: _seq, session_id: _session, ...event }: StoredEvent) => JSON.stringify(event)

test('a schema-8 database opens with every chat, event, viewer id, producer, byte count and open run in the log tables', async () => {
  const backend = new SqliteBackend(v8File())
  try {
    for (const { record, last_activity, events, bytes, producers } of expected) {
      // Byte for byte what schema 8 read back, journal rows a crash left behind included.
      expect(await backend.read(record.id, 0, 10_000)).toEqual(events.map((event) => ({ seq: event.seq, data: dataOf(event) })))
      const counted = events.reduce((sum, event) => sum + Buffer.byteLength(dataOf(event)), 0)
      expect(counted).toBe(bytes)
      const { id: _id, last_seq: _head, ...meta } = record
      expect(await backend.state(record.id)).toEqual({
        head: record.last_seq,
        tail: events.length > 0 ? events[0]!.seq - 1 : 0,
        count: events.length,
        bytes,
        createdAt: Date.parse(record.created_at),
        activeAt: Date.parse(last_activity),
        closed: false,
        forks: 0,
        meta: JSON.stringify(meta),
        ...(record.id.startsWith('fixture-open') ? { openRun: { id: 'run-open', from: 0 } } : {}),
      })
      expect(await backend.resolveAlias(record.viewer_id)).toBe(record.id)
      for (const { run, producer, state } of producers) {
        expect(await backend.producer(record.id, JSON.stringify([run, producer]))).toBe(JSON.stringify(state))
      }
      expect((await backend.producerKeys(record.id)).length).toBe(producers.length)
    }
    expect(await backend.openRuns()).toEqual([{ log: 'fixture-open-aaaaaaaaa', run: 'run-open', from: 0 }])
    expect(await backend.totals()).toEqual({
      logs: expected.length,
      entries: expected.reduce((sum, chat) => sum + chat.events.length, 0),
      bytes: expected.reduce((sum, chat) => sum + chat.bytes, 0),
    })
  } finally {
    await backend.close()
  }
})

test('the store opened on a schema-8 database answers what the store of schema 8 answered, byte for byte', async () => {
  const store = new SqliteStore(v8File())
  try {
    for (const { record, events, producers } of expected) {
      // The record's fields as they were (the event log orders its keys its own way), titled by its first message
      // (schema 8 kept no titles: the chat is titled on its first read); the events byte for byte.
      const first = events.find((event) => event.type === 'user')
      const title = first?.type === 'user' ? autoTitle(first.text) : ''
      expect(await store.getSession(record.id)).toEqual({ ...record, title })
      // Recorded: the next read needs no look at the log.
      if (first) expect(JSON.parse((await store.core.state(record.id))!.meta).auto_title).toBe(title)
      expect((await store.getSessionByViewer(record.viewer_id))?.id).toBe(record.id)
      expect(JSON.stringify(await store.read(record.id, 0, 10_000))).toBe(JSON.stringify(events))
      for (const { run, producer, state } of producers) expect(await store.producerState(record.id, run, producer)).toEqual(state as never)
    }
    // The run the crash left open is found and closed with what it had streamed.
    const open = expected.find((chat) => chat.record.id.startsWith('fixture-open'))!.record
    expect(await store.recoverOpenRuns()).toEqual([{ sessionId: open.id, stepId: 'run-open', seq: open.last_seq + 1 }])
    expect((await store.read(open.id, open.last_seq))[0]).toMatchObject({ type: 'interrupt', step_id: 'run-open', text: 'g' })
  } finally {
    await store.close()
  }
})

test('the migrated database takes appends after its last seq, and keeps only the log tables and sign-ins', async () => {
  const path = v8File()
  const backend = new SqliteBackend(path)
  const chat = expected[0]!.record
  const limits = { maxLogBytes: 1 << 20, reserveBytes: 0 }
  expect(await backend.append([{ log: chat.id, data: '{}', bytes: 2, exempt: false }], limits, Date.now())).toEqual([chat.last_seq + 1])
  await backend.close()
  const db = new Database(path, { readonly: true })
  const tables = db.query("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").all() as { name: string }[]
  expect(tables.map((t) => t.name)).toEqual(['aliases', 'entries', 'journal', 'log_producers', 'logs', 'sign_ins'])
  expect(db.query('PRAGMA user_version').get()).toEqual({ user_version: SCHEMA_VERSION })
  db.close()
})

test('a chat of schema 8 holding older runs never closed has every one closed by recovery, each with what it streamed', async () => {
  // Schema 8 kept a run open in its events alone: a closing event that could not be written (a full disk) left a run
  // open while the chat went on, and its store closed them all at its next start. Here, a chat with two such runs.
  const path = v8File()
  const chat = expected.find((c) => c.record.id.startsWith('fixture-empty'))!.record
  const db = new Database(path)
  const insert = db.query('INSERT INTO events (session, seq, type, step_id, ts, payload) VALUES (?, ?, ?, ?, ?, ?)')
  const ts = '2026-11-01T12:00:00.000Z'
  for (const [seq, type, run, payload] of [
    [1, 'user', 'run-old', { text: 'first' }],
    [2, 'start', 'run-old', { step_type: 'echo' }],
    [3, 'partial', 'run-old', { delta: 'fi' }],
    [4, 'user', 'run-new', { text: 'second' }],
    [5, 'start', 'run-new', { step_type: 'echo' }],
    [6, 'partial', 'run-new', { delta: 'se' }],
  ] as const) {
    insert.run(chat.id, seq, type, run, ts, JSON.stringify(payload))
  }
  db.close()
  const store = new SqliteStore(path)
  try {
    const recovered = await store.recoverOpenRuns()
    expect(recovered).toContainEqual({ sessionId: chat.id, stepId: 'run-new', seq: 8 })
    const closing = (await store.read(chat.id, 6)).map((e) => (e.type === 'interrupt' ? [e.seq, e.step_id, e.text] : [e.seq, e.type]))
    expect(closing).toEqual([
      [7, 'run-old', 'fi'],
      [8, 'run-new', 'se'],
    ])
    expect((await store.recoverOpenRuns()).filter((r) => r.sessionId === chat.id)).toEqual([])
  } finally {
    await store.close()
  }
})
