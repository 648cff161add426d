import { Database } from 'bun:sqlite'
import { afterAll, describe, expect, test } from 'bun:test'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ID_PATTERN, newId } from '../../src/session-id.ts'
import { MIGRATIONS, SCHEMA_VERSION } from '../../src/log/backends/sqlite-schema.ts'
import { SqliteStore } from '../../src/store/sqlite-store.ts'
import { createServer } from '../../src/create-server.ts'
import { silentLogger } from '../../src/log.ts'
import { StoreOpenError } from '../../src/log/backends/sqlite-errors.ts'
import { ev, seqsOf, tempDir } from './helpers.ts'
import { ECHO } from '../helpers/echo-spec.ts'

const tmp = tempDir()
afterAll(tmp.remove)

const isRoot = process.getuid?.() === 0

/** The error the constructor throws for `path`, checked to be a one-line StoreOpenError. */
function refusal(path: string): StoreOpenError {
  let thrown: unknown
  try {
    new SqliteStore(path)
  } catch (error) {
    thrown = error
  }
  expect(thrown).toBeInstanceOf(StoreOpenError)
  const error = thrown as StoreOpenError
  expect(error.message).not.toContain('\n')
  return error
}

const schema = (path: string) => {
  const db = new Database(path, { readonly: true })
  const version = (db.query('PRAGMA user_version').get() as { user_version: number }).user_version
  const names = (db.query('SELECT name FROM sqlite_schema ORDER BY name').all() as { name: string }[]).map((r) => r.name)
  db.close()
  return { version, names }
}

describe('schema migrations', () => {
  test('sessions from before version 4 ran the echo step, and say so', async () => {
    const path = tmp.file()
    const db = new Database(path, { create: true })
    db.exec(MIGRATIONS.slice(0, 3).join('\n'))
    db.exec('PRAGMA user_version = 3')
    db.query("INSERT INTO sessions (id, created_at, last_activity) VALUES ('old', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')").run()
    db.close()
    const store = new SqliteStore(path)
    expect((await store.getSession('old'))?.step).toEqual({ name: 'echo' })
    await store.close()
  })

  test('sessions from before version 5 get distinct, well-formed viewer ids, each finding its session', async () => {
    const path = tmp.file()
    const db = new Database(path, { create: true })
    db.exec(MIGRATIONS.slice(0, 4).join('\n'))
    db.exec('PRAGMA user_version = 4')
    const old = Array.from({ length: 50 }, () => newId())
    const insert = db.query(
      "INSERT INTO sessions (id, created_at, last_activity) VALUES (?, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
    )
    for (const id of old) insert.run(id)
    db.close()
    const store = new SqliteStore(path)
    const viewers = await Promise.all(old.map(async (id) => (await store.getSession(id))!.viewer_id))
    expect(new Set(viewers).size).toBe(old.length)
    for (const [i, viewer] of viewers.entries()) {
      expect(viewer).toMatch(ID_PATTERN)
      expect((await store.getSessionByViewer(viewer))?.id).toBe(old[i]!)
    }
    await store.close()
  })

  test('an empty file is brought to the current schema', async () => {
    const path = tmp.file()
    writeFileSync(path, '')
    const store = new SqliteStore(path)
    await store.close()
    const { version, names } = schema(path)
    expect(version).toBe(SCHEMA_VERSION)
    expect(names).toEqual(
      expect.arrayContaining([
        'logs',
        'entries',
        'journal',
        'aliases',
        'log_producers',
        'logs_by_activity',
        'logs_by_expiry',
        'logs_with_open_run',
        'aliases_by_log',
      ]),
    )
    expect(names).not.toContain('events')
  })

  test('a version-1 database is migrated with its sessions and events intact, and its seqs continue', async () => {
    const path = tmp.file()
    const id = newId()
    const v1 = new Database(path, { create: true })
    v1.exec(MIGRATIONS[0]!)
    v1.exec('PRAGMA user_version = 1')
    v1.query(
      "INSERT INTO sessions (id, created_at, last_activity, state) VALUES (?, '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z', 'active')",
    ).run(id)
    const insert = v1.query('INSERT INTO events (session, seq, type, step_id, ts, payload) VALUES (?, ?, ?, ?, ?, ?)')
    insert.run(id, 1, 'user', 'r1', '2025-01-01T00:00:00.000Z', JSON.stringify({ text: 'hi' }))
    insert.run(id, 2, 'start', 'r1', '2025-01-01T00:00:00.000Z', JSON.stringify({ step_type: 'echo' }))
    insert.run(id, 3, 'final', 'r1', '2025-01-01T00:00:00.000Z', JSON.stringify({ text: 'hi' }))
    v1.close()

    const store = new SqliteStore(path)
    expect(await store.getSession(id)).toMatchObject({ id, created_at: '2025-01-01T00:00:00.000Z', last_seq: 3 })
    expect(await store.read(id, 0)).toMatchObject([
      { seq: 1, type: 'user', text: 'hi' },
      { seq: 2, type: 'start', step_type: 'echo' },
      { seq: 3, type: 'final', text: 'hi' },
    ])
    expect((await store.append(id, ev.user('r2', 'again'))).seq).toBe(4)
    await store.close()
    expect(schema(path).version).toBe(SCHEMA_VERSION)
    expect(schema(path).names).toEqual(expect.arrayContaining(['logs', 'entries']))
  })

  test('a version-2 database keeps its events, and new appends follow them', async () => {
    const path = tmp.file()
    const id = newId()
    const v2 = new Database(path, { create: true })
    v2.exec(MIGRATIONS.slice(0, 2).join('\n'))
    v2.exec('PRAGMA user_version = 2')
    v2.query("INSERT INTO sessions (id, created_at, last_activity) VALUES (?, '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z')").run(
      id,
    )
    v2.query('INSERT INTO events (session, seq, type, step_id, ts, payload) VALUES (?, 1, ?, ?, ?, ?)').run(
      id,
      'user',
      'r1',
      '2025-01-01T00:00:00.000Z',
      JSON.stringify({ text: 'hi' }),
    )
    v2.close()

    const store = new SqliteStore(path)
    expect((await store.append(id, ev.user('r2', 'again'))).seq).toBe(2)
    expect((await store.read(id, 0)).map((e) => e.type === 'user' && e.text)).toEqual(['hi', 'again'])
    await store.close()
    expect(schema(path)).toMatchObject({ version: SCHEMA_VERSION, names: expect.arrayContaining(['journal']) })
  })

  test('a database from a newer stepstream is refused in one line and left byte for byte as it was', () => {
    const path = tmp.file()
    const newer = new Database(path, { create: true })
    newer.exec(MIGRATIONS.join('\n'))
    newer.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`)
    newer.close()
    const before = readFileSync(path)
    const error = refusal(path)
    expect(error.reason).toBe('newer-schema')
    expect(error.message).toMatch(/schema version \d+, newer than this stepstream understands/)
    expect(readFileSync(path).equals(before)).toBe(true)
  })
})

describe('paths that cannot be opened', () => {
  test('a file that is not a database is refused and left untouched, with nothing created beside it', () => {
    const path = join(tmp.dir, 'notes.txt')
    writeFileSync(path, 'hello, I am a text file\n'.repeat(20))
    const before = readFileSync(path)
    const error = refusal(path)
    expect(error.reason).toBe('not-a-database')
    expect(error.message).toContain('not a SQLite database')
    expect(readFileSync(path).equals(before)).toBe(true)
    for (const suffix of ['-wal', '-shm', '.lock']) expect(existsSync(path + suffix)).toBe(false)
  })

  test("another program's SQLite database is refused and left untouched", () => {
    const path = tmp.file()
    const other = new Database(path, { create: true })
    other.exec('CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)')
    other.close()
    const before = readFileSync(path)
    expect(refusal(path).reason).toBe('not-a-database')
    expect(readFileSync(path).equals(before)).toBe(true)
  })

  test('a path in a missing folder is refused, naming the folder, and creates nothing', () => {
    const folder = join(tmp.dir, 'no', 'such', 'folder')
    const error = refusal(join(folder, 'x.db'))
    expect(error.reason).toBe('cannot-open')
    expect(error.message).toContain(`the folder ${folder} does not exist`)
    expect(existsSync(join(tmp.dir, 'no'))).toBe(false)
  })

  // Root writes through file modes; test/durability/process.test.ts runs the same refusal as an unprivileged user.
  test.skipIf(isRoot)('a read-only database file is refused and left untouched', async () => {
    const path = tmp.file()
    await new SqliteStore(path).close()
    chmodSync(path, 0o444)
    const before = readFileSync(path)
    expect(refusal(path).reason).toBe('read-only')
    expect(readFileSync(path).equals(before)).toBe(true)
  })

  test.skipIf(isRoot)('a database in a read-only folder is refused', () => {
    const folder = join(tmp.dir, 'read-only')
    mkdirSync(folder)
    chmodSync(folder, 0o555)
    expect(refusal(join(folder, 'x.db')).reason).toBe('read-only')
  })
})

describe('one writer', () => {
  test('a second store on the same file is refused with a sentence while the first is open, and opens once it closes', async () => {
    const path = tmp.file()
    const first = new SqliteStore(path)
    const id = newId()
    await first.createSession(id, ECHO)
    const error = refusal(path)
    expect(error.reason).toBe('locked')
    expect(error.message).toContain('another stepstream process is already using it')
    expect((await first.append(id, ev.partial('s', 'still writing'))).seq).toBe(1)
    await first.close()
    const second = new SqliteStore(path)
    expect(seqsOf(await second.read(id, 0))).toEqual([1])
    await second.close()
  })

  // .ci/run installs the sqlite3 shell; locally, without it, this one test says so and skips.
  const sqlite3 = Bun.which('sqlite3') !== null || process.env.CI === 'true'
  if (!sqlite3) console.log('skipping the live .backup test: no sqlite3 shell (apt-get install -y sqlite3)')
  test.skipIf(!sqlite3)('sqlite3 .backup copies a live database while the store holds the writer lock', async () => {
    const path = tmp.file()
    const backup = tmp.file('backup')
    const store = new SqliteStore(path)
    const id = newId()
    await store.createSession(id, ECHO)
    for (const char of 'abc') await store.append(id, ev.partial('s', char))
    const run = Bun.spawnSync(['sqlite3', path, `.backup '${backup}'`])
    expect(run.stderr.toString()).toBe('')
    expect(run.exitCode).toBe(0)
    expect((await store.append(id, ev.partial('s', 'd'))).seq).toBe(4)
    await store.close()
    // The copy may hold the newest events in its journal, not yet in `events`: opening it merges them.
    const copy = new SqliteStore(backup)
    expect(seqsOf(await copy.read(id, 0))).toEqual([1, 2, 3])
    await copy.close()
  })
})

describe('opened by createServer', () => {
  test("takes the per-chat bounds and none of the memory store's store-wide ones (--max-sessions only when set)", async () => {
    const path = tmp.file()
    const server = await createServer({
      log: silentLogger,
      store: { kind: 'sqlite', path },
      storeLimits: { maxEvents: 1, maxStoreBytes: 1 },
    })
    try {
      for (let i = 0; i < 2; i++) {
        const created = await server.app.handle(new Request('http://localhost/api/sessions', { method: 'POST' }))
        expect(created.status).toBe(201)
      }
    } finally {
      await server.stop()
    }
  })
})
