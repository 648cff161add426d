import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { RedisClient } from 'bun'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TITLE_MAX_BYTES, TITLE_MAX_CHARS } from '../../src/limits.ts'
import type { EventLog } from '../../src/log/event-log.ts'
import { newId } from '../../src/session-id.ts'
import { HeldStep } from '../helpers/held-step.ts'
import { publishApi } from '../helpers/publish-api.ts'
import { redisAvailable, startRedis, type TestRedis } from '../helpers/redis-server.ts'
import { SseReader } from '../helpers/sse-client.ts'
import { type TestAppOptions, testServer } from '../helpers/test-app.ts'
import { until } from '../helpers/wait.ts'

// It starts redis-server: seconds on a loaded machine, past Bun's 5 s default.
const TIMEOUT_MS = 30_000

type Made = Awaited<ReturnType<typeof testServer>>

/** How a suite opens its store, and reads back everything the store keeps, raw, as text to search. */
interface StoreCase {
  options(): TestAppOptions
  /** `ids`: the chats' ids and read-only ids, asked about by name where the store answers by name. */
  raw(made: Made, ids: string[]): Promise<string>
}

interface Created {
  id: string
  viewer_id: string
}

/**
 * Chats (issue 23): a title from the first message unless renamed, a rename by the owner only, and a delete that
 * leaves nothing of the chat in the store, on every store.
 */
function chatsSuite(name: string, store: StoreCase) {
  describe(`chats on the ${name} store`, () => {
    let made: Made
    afterEach(() => made?.close())

    const call = (method: string, path: string, body?: unknown) =>
      fetch(`${made.base}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
    const create = async (body?: unknown): Promise<Created> => (await (await call('POST', '/api/sessions', body)).json()) as Created
    const session = async (id: string) => (await (await call('GET', `/api/sessions/${id}`)).json()) as { title: string; running: boolean }
    const finished = (id: string) =>
      until(
        async () => {
          const events = (await (await call('GET', `/api/sessions/${id}/events`)).json()) as { type: string }[]
          return events.some((e) => e.type === 'final')
        },
        { what: 'the run to finish' },
      )

    test(
      'the title is the first message, trimmed to one line and cut on a character boundary; a new chat has none',
      async () => {
        made = await testServer(store.options())
        const chat = await create()
        expect((await session(chat.id)).title).toBe('')
        const first = `  Plan a trip\n\tto <b>Lisbon</b> ${'🇵🇹'.repeat(200)}`
        expect((await call('POST', `/api/sessions/${chat.id}/messages`, { text: first })).status).toBe(202)
        const title = (await session(chat.id)).title
        expect(title.startsWith('Plan a trip to <b>Lisbon</b> 🇵🇹')).toBe(true)
        expect(title.endsWith('🇵🇹…')).toBe(true)
        expect([...title].length).toBeLessThanOrEqual(TITLE_MAX_CHARS)
        expect(Buffer.byteLength(title)).toBeLessThanOrEqual(TITLE_MAX_BYTES)
        await finished(chat.id)
        // A second message does not change it.
        expect((await call('POST', `/api/sessions/${chat.id}/messages`, { text: 'another' })).status).toBe(202)
        expect((await session(chat.id)).title).toBe(title)
        const viewer = (await (await call('GET', `/api/sessions/view/${chat.viewer_id}`)).json()) as { title: string }
        expect(viewer.title).toBe(title)
      },
      TIMEOUT_MS,
    )

    test(
      'PATCH renames; "" gives the first message back; bad titles get 422 with a sentence; a viewer id gets 403',
      async () => {
        made = await testServer(store.options())
        const chat = await create()
        await call('POST', `/api/sessions/${chat.id}/messages`, { text: 'hello there' })
        const renamed = await call('PATCH', `/api/sessions/${chat.id}`, { title: '  Lisbon  ' })
        expect(renamed.status).toBe(200)
        expect(((await renamed.json()) as { title: string }).title).toBe('Lisbon')
        expect((await session(chat.id)).title).toBe('Lisbon')
        // Kept in the store: a reopened server (a durable one) or another instance reads it there.
        expect((await made.deps.store.getSession(chat.id))?.title).toBe('Lisbon')
        expect((await call('PATCH', `/api/sessions/${chat.id}`, { title: '' })).status).toBe(200)
        expect((await session(chat.id)).title).toBe('hello there')
        for (const [title, sentence] of [
          ['x'.repeat(TITLE_MAX_CHARS + 1), `keep it to ${TITLE_MAX_CHARS} at most`],
          ['😀'.repeat(TITLE_MAX_CHARS), `keep it to ${TITLE_MAX_BYTES} bytes`],
          ['two\nlines', 'one line of plain text'],
          ['nul\u0000', 'one line of plain text'],
          ['right\u202Eleft', 'one line of plain text'],
          ['\uD800', 'lone surrogate'],
        ] as const) {
          const res = await call('PATCH', `/api/sessions/${chat.id}`, { title })
          expect(res.status).toBe(422)
          expect(((await res.json()) as { error: { message: string } }).error.message).toContain(sentence)
        }
        for (const body of [{}, { title: 1 }, { name: 'a' }, 'title']) {
          const res = await call('PATCH', `/api/sessions/${chat.id}`, body)
          expect(res.status).toBe(400)
          expect(((await res.json()) as { error: { message: string } }).error.message).toContain('{"title": "Trip to Lisbon"}')
        }
        expect((await session(chat.id)).title).toBe('hello there')
        // A read-only id renames nothing and deletes nothing, by either path.
        for (const path of [`/api/sessions/${chat.viewer_id}`, `/api/sessions/view/${chat.viewer_id}`]) {
          expect((await call('PATCH', path, { title: 'mine now' })).status).toBe(403)
          expect((await call('DELETE', path)).status).toBe(403)
        }
        expect((await session(chat.id)).title).toBe('hello there')
        expect((await call('PATCH', `/api/sessions/${newId()}`, { title: 'x' })).status).toBe(404)
      },
      TIMEOUT_MS,
    )

    test(
      'DELETE answers 204 and leaves nothing of the chat in the store: events, meta, viewer id, producers, token hash',
      async () => {
        made = await testServer(store.options())
        const marker = `marker-${newId()}`
        const chat = await create()
        await call('POST', `/api/sessions/${chat.id}/messages`, { text: `${marker} chat` })
        await finished(chat.id)
        await call('PATCH', `/api/sessions/${chat.id}`, { title: `${marker} title` })
        const api = publishApi(made.base)
        const published = await api.publisher()
        const run = await api.openRun(published)
        const events = [{ type: 'user', text: `${marker} published` }]
        expect(
          (await api.append(published, run, events, { headers: { 'producer-id': `${marker}-producer`, 'producer-seq': '0' } })).status,
        ).toBe(200)
        const hash = new Bun.CryptoHasher('sha256').update(published.publisher_token).digest('hex')
        const ids = [chat.id, chat.viewer_id, published.id, published.viewer_id]
        const before = await store.raw(made, ids)
        for (const kept of [marker, hash, ...ids]) expect(before).toContain(kept)

        for (const gone of [chat, published]) {
          const res = await call('DELETE', `/api/sessions/${gone.id}`)
          expect(res.status).toBe(204)
          expect(await res.text()).toBe('')
          expect((await call('GET', `/api/sessions/${gone.id}`)).status).toBe(404)
          expect((await call('GET', `/api/sessions/view/${gone.viewer_id}`)).status).toBe(404)
          expect((await call('DELETE', `/api/sessions/${gone.id}`)).status).toBe(404)
        }
        const after = await store.raw(made, ids)
        for (const kept of [marker, hash, ...ids]) expect(after).not.toContain(kept)
      },
      TIMEOUT_MS,
    )

    test(
      'DELETE of a chat a branch names: gone for everyone but the branch, and gone from the store with the branch',
      async () => {
        made = await testServer(store.options())
        const marker = `marker-${newId()}`
        const chat = await create()
        await call('POST', `/api/sessions/${chat.id}/messages`, { text: marker })
        await finished(chat.id)
        const branch = await (made.deps.store as EventLog).forkSession(chat.id, 1, newId())
        expect((await call('DELETE', `/api/sessions/${chat.id}`)).status).toBe(204)
        expect((await call('GET', `/api/sessions/${chat.id}`)).status).toBe(404)
        expect((await call('GET', `/api/sessions/view/${chat.viewer_id}`)).status).toBe(404)
        expect((await call('PATCH', `/api/sessions/${chat.id}`, { title: 'x' })).status).toBe(404)
        // The branch still reads the events it shares.
        const shared = (await (await call('GET', `/api/sessions/${branch.id}/events`)).json()) as { text?: string }[]
        expect(shared[0]?.text).toBe(marker)
        expect(await store.raw(made, [chat.id, chat.viewer_id])).toContain(marker)
        expect((await call('DELETE', `/api/sessions/${branch.id}`)).status).toBe(204)
        const after = await store.raw(made, [chat.id, chat.viewer_id, branch.id, branch.viewer_id])
        for (const kept of [marker, chat.id, chat.viewer_id, branch.id, branch.viewer_id]) expect(after).not.toContain(kept)
      },
      TIMEOUT_MS,
    )

    test(
      'DELETE of a running chat cancels its run first; its live SSE readers end cleanly',
      async () => {
        const held = new HeldStep()
        made = await testServer({ ...store.options(), step: held })
        const chat = await create()
        await call('POST', `/api/sessions/${chat.id}/messages`, { text: 'a long answer that holds' })
        await held.held()
        const owner = await SseReader.open(`${made.base}/api/sessions/${chat.id}/stream`)
        const viewer = await SseReader.open(`${made.base}/api/sessions/view/${chat.viewer_id}/stream`)
        await owner.until((m) => m.some((e) => e.event === 'partial'))
        expect((await session(chat.id)).running).toBe(true)
        expect((await call('DELETE', `/api/sessions/${chat.id}`)).status).toBe(204)
        for (const reader of [owner, viewer]) {
          await reader.ended()
          expect(reader.messages.at(-1)).toMatchObject({ event: 'stream-error' })
          expect(reader.messages.at(-1)!.data).toContain('No chat has that id')
          // The code says the chat is gone, so a client knows a reconnect would only meet a 404.
          expect(JSON.parse(reader.messages.at(-1)!.data).code).toBe('SESSION_NOT_FOUND')
        }
        // The run is over and its lease let go: nothing runs for the id any more.
        expect(await made.deps.runner.running(chat.id)).toBeUndefined()
        expect((await call('GET', `/api/sessions/${chat.id}`)).status).toBe(404)
      },
      TIMEOUT_MS,
    )
  })
}

/**
 * Everything the backend answers about every log it lists and every id asked about (its state, the log an alias names,
 * its producers, its entries), as a dump to search: the memory store keeps nothing it does not answer.
 */
async function backendDump(made: Made, ids: string[]): Promise<string> {
  const backend = (made.deps.store as EventLog).core.backend
  const logs = (await backend.activeBetween(0, Number.MAX_SAFE_INTEGER, 10_000)).map((cursor) => cursor.log)
  const dump: unknown[] = [logs, await backend.openRuns(), await backend.totals()]
  for (const log of [...logs, ...ids]) {
    dump.push(await backend.state(log), await backend.resolveAlias(log), await backend.producerKeys(log))
    dump.push(await backend.read(log, 0, 100_000))
  }
  return JSON.stringify(dump)
}

chatsSuite('memory', { options: () => ({}), raw: backendDump })

{
  let dir: string
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'stepstream-chats-'))
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  let path = ''
  chatsSuite('SQLite', {
    options: () => {
      path = join(dir, `${newId()}.db`)
      return { store: { kind: 'sqlite' as const, path } }
    },
    // Every row of every table, read by a second connection, as SQLite answers it.
    raw: async () => {
      const db = new Database(path, { readonly: true })
      try {
        const tables = db.query("SELECT name FROM sqlite_schema WHERE type = 'table'").all() as { name: string }[]
        return JSON.stringify(tables.map(({ name }) => db.query(`SELECT * FROM "${name}"`).all()))
      } finally {
        db.close()
      }
    },
  })
}

if (redisAvailable('the chats on Redis')) {
  let redis: TestRedis
  let prefix = ''
  beforeAll(async () => {
    redis = await startRedis()
  }, TIMEOUT_MS)
  afterAll(() => redis?.destroy())
  chatsSuite('Redis', {
    options: () => {
      prefix = `t${newId()}:`
      return { store: { kind: 'redis' as const, url: redis.url }, redis: { prefix } }
    },
    // Every key under the prefix, with its whole value, whatever its type.
    raw: async () => {
      const client = new RedisClient(redis.url)
      try {
        const keys = (await client.send('KEYS', [`${prefix}*`])) as string[]
        const dump: unknown[] = [keys]
        for (const key of keys) {
          const type = (await client.send('TYPE', [key])) as string
          const read: Record<string, string[]> = {
            string: ['GET', key],
            hash: ['HGETALL', key],
            set: ['SMEMBERS', key],
            zset: ['ZRANGE', key, '0', '-1', 'WITHSCORES'],
            stream: ['XRANGE', key, '-', '+'],
            list: ['LRANGE', key, '0', '-1'],
          }
          const [command, ...args] = read[type] ?? ['TYPE', key]
          dump.push(type, await client.send(command!, args))
        }
        return JSON.stringify(dump)
      } finally {
        client.close()
      }
    },
  })
}
