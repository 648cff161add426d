import { Database } from 'bun:sqlite'
import { afterAll, describe, expect, test } from 'bun:test'
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { StoredEvent } from '../../src/events.ts'
import { newId } from '../../src/session-id.ts'
import { MIGRATIONS, SCHEMA_VERSION } from '../../src/log/backends/sqlite-schema.ts'
import { SqliteStore } from '../../src/store/sqlite-store.ts'
import { HeldModel } from '../helpers/held-model.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { SseReader } from '../helpers/sse-client.ts'
import { spawnServer, type SpawnedServer } from '../helpers/spawn-server.ts'
import { READY_MS, until } from '../helpers/wait.ts'
import { appendRun, DAY, idleSince, tempDir } from './helpers.ts'
import { ECHO } from '../helpers/echo-spec.ts'

// Each test starts real processes: a start may take seconds on a loaded machine (Bun's 5 s default is a guess).
slowTests()

/**
 * Real `bun src/main.ts` processes on a SQLite file: crashes, restarts and refusals. The tests marked "wiring"
 * need main.ts to call recoverOpenRuns before listening, schedulePruning after, and to parse --retention.
 */

const tmp = tempDir()
// Read by an unprivileged user in the read-only test.
chmodSync(tmp.dir, 0o755)
afterAll(tmp.remove)

const MAIN = [process.execPath, 'src/main.ts']
const serverArgs = (path: string, extra: string[] = []) => [
  '--store',
  `sqlite:${path}`,
  '--echo-delay',
  '20',
  '--log-level',
  'info',
  ...extra,
]
const start = (path: string, extra: string[] = []) => spawnServer(MAIN, { args: serverArgs(path, extra) })

/** Runs main.ts expecting it to refuse: its exit code and stderr. */
async function refused(args: string[], prefix: string[] = []) {
  const proc = Bun.spawn([...prefix, ...MAIN, '--port', '0', ...args], {
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    env: { PATH: process.env.PATH ?? '', HOME: '/tmp' },
  })
  // A refusal comes before listening: as long as a start may take on a loaded machine, no longer.
  const timer = setTimeout(() => proc.kill('SIGKILL'), READY_MS)
  const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()])
  clearTimeout(timer)
  return { code, lines: stderr.trim().split('\n') }
}

const json = (text: string): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ text }),
})

async function allEvents(server: SpawnedServer, id: string): Promise<StoredEvent[]> {
  return (await (await fetch(`${server.base}/api/sessions/${id}/events?limit=1000`)).json()) as StoredEvent[]
}

describe('a server killed mid-run (wiring: recovery at start)', () => {
  // The run is killed mid-answer whatever the load: its model (the openai step against a server the test holds)
  // streams 10 characters, then waits.
  const model = new HeldModel(10)
  afterAll(() => model.stop())

  test('restarted on the same file: every event a client saw is there, the cut run ends with interrupt, new messages continue the seq', async () => {
    const path = tmp.file()
    const first = await start(path, model.flags)
    const { id } = (await (await fetch(`${first.base}/api/sessions`, { method: 'POST' })).json()) as { id: string }
    const stream = await SseReader.open(`${first.base}/api/sessions/${id}/stream`)
    expect(
      (await fetch(`${first.base}/api/sessions/${id}/messages`, json('a message long enough to be cut half way through'))).status,
    ).toBe(202)
    await model.held()
    await stream.until((m) => m.length >= 12)
    first.proc.kill('SIGKILL')
    await first.proc.exited
    await stream.ended()
    const seen = stream.messages.map((m) => JSON.parse(m.data) as StoredEvent)
    expect(seen.some((e) => e.type === 'final')).toBe(false)

    const second = await start(path, model.flags)
    try {
      const log = await allEvents(second, id)
      for (const event of seen) expect(log[event.seq - 1]).toEqual(event)
      const cut = seen.find((e) => e.type === 'start')!.step_id
      const streamed = log.flatMap((e) => (e.step_id === cut && e.type === 'partial' ? [e.delta] : [])).join('')
      expect(log.at(-1)).toMatchObject({ type: 'interrupt', step_id: cut, text: streamed })
      expect(log.map((e) => e.seq)).toEqual(log.map((_, i) => i + 1))

      const next = await SseReader.open(`${second.base}/api/sessions/${id}/stream?after=${log.length}`)
      expect((await fetch(`${second.base}/api/sessions/${id}/messages`, json('again'))).status).toBe(202)
      const messages = await next.until((m) => m.some((x) => x.event === 'final'))
      next.close()
      expect(messages.map((m) => Number(m.id))).toEqual(messages.map((_, i) => log.length + 1 + i))
      expect(messages[0]).toMatchObject({ event: 'user' })
    } finally {
      await second.stop()
    }
  })

  test('runs left open in the file are closed before the server answers its first request', async () => {
    const path = tmp.file()
    const store = new SqliteStore(path)
    const id = newId()
    await store.createSession(id, ECHO)
    await appendRun(store, id, 'cut', 'open')
    await store.close()
    const server = await start(path)
    try {
      expect((await allEvents(server, id)).at(-1)).toMatchObject({ type: 'interrupt', text: 'cut' })
    } finally {
      await server.stop()
    }
  })
})

test("with the echo step, the hint to talk to a model is in the operator's log, not on the users' page", async () => {
  const server = await start(tmp.file())
  try {
    await server.logged('start with --step openai --model <name> to talk to a model')
    expect(await (await fetch(`${server.base}/`)).text()).not.toContain('--step')
  } finally {
    await server.stop()
  }
})

test('a session idle past --retention is gone soon after start (wiring: pruning at start)', async () => {
  const path = tmp.file()
  const store = new SqliteStore(path)
  const [old, recent] = [newId(), newId()]
  for (const id of [old, recent]) await store.createSession(id, ECHO)
  await idleSince(store, old, Date.now() - 2 * DAY)
  await store.close()
  const server = await start(path, ['--retention', '1d'])
  try {
    const status = async (id: string) => (await fetch(`${server.base}/api/sessions/${id}`)).status
    await until(async () => (await status(old)) === 404, { what: 'the idle session to be pruned', everyMs: 50 })
    expect(await status(recent)).toBe(200)
  } finally {
    await server.stop()
  }
})

describe('refusing to start: exit 2 and one line on stderr', () => {
  test('a --step no registered step has, naming the ones there are', async () => {
    const { code, lines } = await refused(['--store', 'memory', '--step', 'gpt'])
    expect(code).toBe(2)
    expect(lines).toEqual([expect.stringMatching(/--step: There is no step called "gpt"; this server knows echo, openai, agui\./)])
  })

  test('--step agui without --agui-url, saying how to fix it', async () => {
    const { code, lines } = await refused(['--store', 'memory', '--step', 'agui'])
    expect(code).toBe(2)
    expect(lines).toEqual([expect.stringMatching(/--step: The agui step needs the AG-UI endpoint of an agent: pass --agui-url/)])
  })

  test('a wrong --step is named before the database is opened, even one a running server holds', async () => {
    const path = tmp.file()
    const first = await start(path)
    try {
      const { code, lines } = await refused([...serverArgs(path), '--step', 'gpt'])
      expect(code).toBe(2)
      expect(lines).toEqual([expect.stringMatching(/^stepstream: --step: There is no step called "gpt"/)])
    } finally {
      await first.stop()
    }
  })

  test('a second process on a database in use, while the first keeps serving', async () => {
    const path = tmp.file()
    const first = await start(path)
    try {
      const { code, lines } = await refused(serverArgs(path))
      expect(code).toBe(2)
      expect(lines).toHaveLength(1)
      expect(lines[0]).toContain('another stepstream process is already using it')
      expect((await fetch(`${first.base}/healthz`)).status).toBe(200)
    } finally {
      await first.stop()
    }
  })

  test('a file that is not a database, which stays byte for byte the same', async () => {
    const path = join(tmp.dir, 'readme.txt')
    writeFileSync(path, 'not a database\n')
    const { code, lines } = await refused(serverArgs(path))
    expect(code).toBe(2)
    expect(lines).toEqual([expect.stringContaining('not a SQLite database')])
    expect(readFileSync(path, 'utf8')).toBe('not a database\n')
  })

  test('a database from a newer stepstream', async () => {
    const path = tmp.file()
    const db = new Database(path, { create: true })
    db.exec(MIGRATIONS.join('\n'))
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`)
    db.close()
    const { code, lines } = await refused(serverArgs(path))
    expect(code).toBe(2)
    expect(lines).toEqual([expect.stringContaining('newer than this stepstream understands')])
  })

  test('a path in a missing folder, which is not created', async () => {
    const folder = join(tmp.dir, 'missing')
    const { code, lines } = await refused(serverArgs(join(folder, 'x.db')))
    expect(code).toBe(2)
    expect(lines).toEqual([expect.stringContaining(`the folder ${folder} does not exist`)])
    expect(existsSync(folder)).toBe(false)
  })

  // As root, file modes do not stop writes: run the server as `nobody` then.
  const asRoot = process.getuid?.() === 0
  test.skipIf(asRoot && !Bun.which('setpriv'))('a read-only database file, which stays untouched', async () => {
    const path = tmp.file()
    await new SqliteStore(path).close()
    // bun:sqlite closes a database for good (and checkpoints its WAL into the file) only once its prepared statements
    // are collected: let that happen now, so the bytes compared below are the file's last.
    Bun.gc(true)
    chmodSync(path, 0o444)
    const before = readFileSync(path)
    const unprivileged = asRoot ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : []
    const { code, lines } = await refused(serverArgs(path), unprivileged)
    expect(code).toBe(2)
    expect(lines).toEqual([expect.stringContaining('read-only')])
    expect(readFileSync(path).equals(before)).toBe(true)
  })

  test.skipIf(asRoot && !Bun.which('setpriv'))('a database in a read-only folder', async () => {
    const folder = join(tmp.dir, 'read-only')
    mkdirSync(folder)
    chmodSync(folder, 0o555)
    const unprivileged = asRoot ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : []
    const { code, lines } = await refused(serverArgs(join(folder, 'x.db')), unprivileged)
    expect(code).toBe(2)
    expect(lines).toEqual([expect.stringContaining('read-only')])
    expect(readdirSync(folder)).toEqual([])
  })

  test('a malformed --retention (wiring: the flag)', async () => {
    const { code, lines } = await refused(serverArgs(tmp.file(), ['--retention', 'forever']))
    expect(code).toBe(2)
    expect(lines).toEqual([expect.stringContaining('--retention')])
  })
})
