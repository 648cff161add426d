import { Database } from 'bun:sqlite'
import { afterAll, describe, expect, test } from 'bun:test'
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { SqliteBackend, type SqliteBackendOptions } from '../../src/log/backends/sqlite-backend.ts'
import { Checkpointer, WAL_MARK_JS, walMark } from '../../src/log/backends/sqlite-checkpointer.ts'
import { WAL_AUTOCHECKPOINT_PAGES } from '../../src/log/backends/sqlite-open.ts'
import { SQLITE_WAL_BACKSTOP_PAGES } from '../../src/limits.ts'
import { newId } from '../../src/session-id.ts'
import { entry } from '../contract/backend.contract.ts'
import { until } from '../helpers/wait.ts'
import { tempDir } from './helpers.ts'

const tmp = tempDir('stepstream-checkpointer-')
afterAll(tmp.remove)

const HOUR = 3_600_000
const LIMITS = { maxLogBytes: 64 << 20, reserveBytes: 0 }
const autocheckpoint = (db: Database) => (db.query('PRAGMA wal_autocheckpoint').get() as { wal_autocheckpoint: number }).wal_autocheckpoint
const size = (file: string) => (existsSync(file) ? statSync(file).size : 0)

function openWithHandle(path: string, options: SqliteBackendOptions = {}) {
  let db!: Database
  const backend = new SqliteBackend(path, { mergeEveryMs: HOUR, ...options, onOpen: (opened) => (db = opened) })
  return { backend, db: () => db }
}

/** Appends `batches` batches of `perBatch` entries of ~1 KiB each to a new log. */
async function write(backend: SqliteBackend, batches: number, perBatch = 4) {
  const log = newId()
  await backend.create({ log, meta: '{}' }, 1)
  for (let i = 0; i < batches; i++) {
    const entries = Array.from({ length: perBatch }, () => entry(log, JSON.stringify('x'.repeat(1000))))
    await backend.append(entries, LIMITS, 1)
  }
  return log
}

describe('the checkpoint worker of the SQLite backend', () => {
  test('copies committed pages into the database file off the serving thread, which keeps only a backstop', async () => {
    const path = tmp.file()
    const passes: { log: number; checkpointed: number }[] = []
    const { backend, db } = openWithHandle(path, {
      checkpointer: { everyMs: 20, tickMs: 10, onPass: (log, checkpointed) => passes.push({ log, checkpointed }) },
    })
    const emptySize = size(path)
    // Far fewer pages than even SQLite's own autocheckpoint needs: only a checkpoint from the worker moves them.
    await write(backend, 20)
    expect(autocheckpoint(db())).toBe(SQLITE_WAL_BACKSTOP_PAGES)
    // The worker's report comes after its pass: wait for both.
    await until(() => passes.some((pass) => pass.checkpointed > 0), { what: 'a pass of the worker that copied frames' })
    expect(size(path)).toBeGreaterThan(emptySize)
    await backend.close()
  })

  test('after a complete pass, the next write restarts the WAL from its start and cuts the file', async () => {
    const path = tmp.file()
    let complete = 0
    const { backend } = openWithHandle(path, {
      checkpointer: {
        everyMs: 20,
        tickMs: 10,
        onPass: (log, checkpointed) => {
          if (checkpointed >= log) complete = Math.max(complete, log)
        },
      },
    })
    const log = await write(backend, 50)
    const grown = size(`${path}-wal`)
    // A pass is complete as of its start: wait for one that copied every frame the file holds (32-byte header, then
    // frames of a 24-byte header and a 4 KiB page).
    const frames = (grown - 32) / (24 + 4096)
    await until(() => complete >= frames, { what: 'a checkpoint of every frame written' })
    await backend.append([entry(log, '"after"')], LIMITS, 1)
    expect(size(`${path}-wal`)).toBeLessThan(grown / 4)
    await backend.close()
  })

  test('under steady writes the WAL still restarts: the serving connection finishes what the worker copied', async () => {
    const path = tmp.file()
    // A commit lands during nearly every pass of the worker: alone, it never leaves the WAL wholly in the database.
    const { backend } = openWithHandle(path, { checkpointer: { everyMs: 200, tickMs: 50, finishAtPages: 100, backstopPages: 1_000_000 } })
    const log = newId()
    await backend.create({ log, meta: '{}' }, 1)
    let largest = 0
    let restarted = false
    const deadline = Date.now() + 10_000
    while (!restarted && Date.now() < deadline) {
      await backend.append([entry(log, JSON.stringify('x'.repeat(1000)))], LIMITS, 1)
      // A turn of the event loop, as a server takes between two batches: the worker's reports arrive in them.
      await new Promise((resolve) => setImmediate(resolve))
      const now = size(`${path}-wal`)
      restarted = now < largest / 2
      largest = Math.max(largest, now)
    }
    expect(restarted).toBe(true)
    await backend.close()
  }, 20_000)

  test('no worker runs until the first write, nor once the WAL has been checkpointed and quiet; the next write starts one again', async () => {
    const path = tmp.file()
    const running: boolean[] = []
    let complete = 0
    const { backend, db } = openWithHandle(path, {
      checkpointer: {
        everyMs: 20,
        tickMs: 10,
        restMs: 100,
        onRunning: (now) => running.push(now),
        onPass: (log, checkpointed) => {
          if (checkpointed >= log) complete++
        },
      },
    })
    // Opened, read, pinged: nothing to checkpoint, so no thread (an idle server's CPU, issue 24).
    await backend.totals()
    await backend.ping()
    expect(running).toEqual([])
    expect(autocheckpoint(db())).toBe(WAL_AUTOCHECKPOINT_PAGES)
    const log = await write(backend, 20)
    expect(running).toEqual([true])
    await until(() => running.length === 2, { what: 'the worker to be ended once the WAL was checkpointed and quiet' })
    expect(running).toEqual([true, false])
    expect(complete).toBeGreaterThan(0)
    // With no worker, SQLite checkpoints by itself again, for what writes without telling (sign-ins, merges).
    expect(autocheckpoint(db())).toBe(WAL_AUTOCHECKPOINT_PAGES)
    // The WAL it left is wholly in the database: a write restarts it.
    const before = complete
    await backend.append([entry(log, '"again"')], LIMITS, 1)
    expect(running).toEqual([true, false, true])
    expect(autocheckpoint(db())).toBe(SQLITE_WAL_BACKSTOP_PAGES)
    await until(() => complete > before, { what: 'the new worker to checkpoint the new write' })
    await backend.close()
  })

  test('a write that restarts the WAL at its old length is still seen, checkpointed, and the worker not ended before', async () => {
    const path = tmp.file()
    const running: boolean[] = []
    const passes: { log: number; checkpointed: number }[] = []
    const { backend } = openWithHandle(path, {
      checkpointer: {
        everyMs: 20,
        tickMs: 10,
        restMs: 300,
        onRunning: (now) => running.push(now),
        onPass: (log, checkpointed) => passes.push({ log, checkpointed }),
      },
    })
    const log = newId()
    const completeAfter = (n: number) => passes.length > n && passes.at(-1)!.checkpointed >= passes.at(-1)!.log
    await backend.create({ log, meta: '{}' }, 1)
    await until(() => completeAfter(0), { what: 'a complete pass of the create' })
    await backend.setMeta(log, JSON.stringify({ m: 'A'.repeat(16) }))
    const afterA = passes.length
    const sizeA = size(`${path}-wal`)
    await until(() => completeAfter(afterA), { what: 'a complete pass of the first write' })
    const afterB = passes.length
    // The same length again: the WAL restarts from its start and ends where it ended, so its size says nothing.
    await backend.setMeta(log, JSON.stringify({ m: 'B'.repeat(16) }))
    expect(size(`${path}-wal`)).toBe(sizeA)
    await until(() => passes.length > afterB || running.length > 1, { what: 'a pass of the second write, or the worker ended' })
    expect(running).toEqual([true])
    await until(() => completeAfter(afterB), { what: 'a complete pass of the second write' })
    expect(readFileSync(path).toString('latin1')).toContain('B'.repeat(16))
    await backend.close()
  })

  test('the worker and the serving thread mark the WAL alike', async () => {
    const path = tmp.file()
    const { backend } = openWithHandle(path, { checkpointer: false })
    await write(backend, 3)
    const workers = new Function('statSync', 'openSync', 'readSync', 'closeSync', `${WAL_MARK_JS}\nreturn walMark`)(
      statSync,
      openSync,
      readSync,
      closeSync,
    ) as typeof walMark
    for (const file of [path, join(tmp.dir, 'no-such.db')]) {
      const ours = walMark(file, Buffer.alloc(12))
      expect(workers(file, Buffer.alloc(12))).toEqual(ours)
    }
    expect(walMark(path, Buffer.alloc(12)).mark).toMatch(/^\d+:[0-9a-f]{24}$/)
    await backend.close()
  })

  test('a worker that never checkpoints leaves the WAL bounded: the serving connection checkpoints at the backstop', async () => {
    const path = tmp.file()
    const backstopPages = 100
    const { backend } = openWithHandle(path, { checkpointer: { everyMs: HOUR, atBytes: 1 << 40, backstopPages } })
    let largest = 0
    const log = newId()
    await backend.create({ log, meta: '{}' }, 1)
    // About 2,000 pages of WAL, twenty times the backstop.
    for (let i = 0; i < 500; i++) {
      await backend.append(
        Array.from({ length: 4 }, () => entry(log, JSON.stringify('x'.repeat(1000)))),
        LIMITS,
        1,
      )
      // In steady state: the worker opening its connection can put a restart off while it reads the schema.
      if (i >= 250) largest = Math.max(largest, size(`${path}-wal`))
    }
    // About the backstop, never the whole 8 MB written.
    expect(largest).toBeLessThan(backstopPages * 2 * 4096)
    await backend.close()
  })

  test('a worker that fails hands checkpoints back to the serving connection and says why', async () => {
    const db = new Database(tmp.file(), { strict: true })
    db.exec('PRAGMA journal_mode = WAL')
    const reasons: string[] = []
    // The worker opens the database without creating it: a path that does not exist makes it fail at once.
    const checkpointer = new Checkpointer(db, join(tmp.dir, 'missing', 'nothing.db'), { onFailure: (reason) => reasons.push(reason) })
    // A write starts the worker.
    checkpointer.wrote()
    expect(autocheckpoint(db)).toBe(SQLITE_WAL_BACKSTOP_PAGES)
    await until(() => reasons.length > 0, { what: 'the failure to be reported' })
    expect(checkpointer.failed).toBe(true)
    expect(reasons[0]).toMatch(/unable to open/)
    expect(autocheckpoint(db)).toBe(WAL_AUTOCHECKPOINT_PAGES)
    await checkpointer.close()
    db.close()
  })

  test('a Bun that cannot start the worker leaves checkpoints to SQLite, and the store opens and writes as before', async () => {
    const real = globalThis.Worker
    globalThis.Worker = class {
      constructor() {
        throw new Error('no threads here')
      }
    } as unknown as typeof Worker
    try {
      const reasons: string[] = []
      const { backend, db } = openWithHandle(tmp.file(), { checkpointer: { onFailure: (reason) => reasons.push(reason) } })
      await write(backend, 2)
      expect(reasons).toEqual(['no threads here'])
      expect(autocheckpoint(db())).toBe(WAL_AUTOCHECKPOINT_PAGES)
      await backend.close()
    } finally {
      globalThis.Worker = real
    }
  })

  test('never keeps a process alive: one that closes a store, and leaves another open, exits by itself', async () => {
    const script = `import { SqliteBackend } from ${JSON.stringify(join(import.meta.dir, '../../src/log/backends/sqlite-backend.ts'))}
      const open = (path) => new SqliteBackend(path, { mergeEveryMs: 3_600_000, checkpointer: { tickMs: 10 } })
      const closed = open(${JSON.stringify(tmp.file())})
      await closed.create({ log: 'a', meta: '{}' }, 1)
      await closed.close()
      await open(${JSON.stringify(tmp.file())}).create({ log: 'a', meta: '{}' }, 1)
      console.log('open')`
    const child = Bun.spawn([process.execPath, '-e', script], { stdout: 'pipe', stderr: 'pipe' })
    const exited = await Promise.race([child.exited, Bun.sleep(15_000).then(() => 'still running' as const)])
    if (exited === 'still running') child.kill()
    expect(exited).toBe(0)
    expect(await new Response(child.stdout).text()).toBe('open\n')
  }, 20_000)
})
