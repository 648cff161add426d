import { afterEach, describe, expect, test } from 'bun:test'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Elysia } from 'elysia'
import { createServer, defineStep, MemoryStore, SqliteStore, silentLogger, type StepstreamServer, type StoredEvent } from 'stepstream'
import { DEFAULT_RATE_LIMIT } from '../../src/defaults.ts'
import { SseReader } from '../helpers/sse-client.ts'
import { url } from '../helpers/test-app.ts'
import { redisAvailable, startRedis } from '../helpers/redis-server.ts'
import { eventually, READY_MS, until } from '../helpers/wait.ts'

let server: StepstreamServer | undefined
afterEach(() => server?.stop())

const shout = defineStep({
  name: 'shout',
  async run(conversation, { partial }) {
    const last = conversation.findLast((m) => m.role === 'user')
    const text = last?.role === 'user' ? last.content.toUpperCase() : ''
    await partial(text)
    return text
  },
})

test('mounted in an application’s own Elysia app, stepstream serves beside its routes', async () => {
  server = await createServer({ steps: [shout], log: silentLogger })
  const mine = new Elysia().get('/hello', () => 'hi from the host app').use(server.app)
  const call = (path: string, body?: unknown) =>
    mine.handle(
      new Request(`http://localhost${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    )
  expect(await (await call('/hello')).text()).toBe('hi from the host app')
  expect((await call('/')).status).toBe(200)
  const { id } = (await (await call('/api/sessions', {})).json()) as { id: string }
  expect((await call(`/api/sessions/${id}/messages`, { text: 'hey' })).status).toBe(202)
  const log = await eventually(
    async () => {
      const now = (await (await call(`/api/sessions/${id}/events`)).json()) as StoredEvent[]
      return now.some((e) => e.type === 'final') ? now : undefined
    },
    { what: 'the run’s final' },
  )
  expect(log.at(-1)).toMatchObject({ type: 'final', text: 'HEY' })
  // Its own error handling comes along: a malformed id is a 400 with a sentence, not the host app's default.
  expect((await call('/api/sessions/not-an-id')).status).toBe(400)
})

test('listen() on a free port answers, and stop() ends it', async () => {
  server = await createServer({ steps: [shout], log: silentLogger })
  const url = server.listen({ port: 0, hostname: '127.0.0.1' })
  expect((await fetch(`${url}/healthz`)).status).toBe(200)
  await server.stop()
  await expect(fetch(`${url}/healthz`)).rejects.toThrow()
  server = undefined
})

test('mounted with auth on, the host app’s own routes stay open and take posts; stepstream’s routes need the token', async () => {
  const token = 'operator-token-0123456789'
  server = await createServer({ steps: [shout], log: silentLogger, auth: { tokens: [token] } })
  const mine = new Elysia()
    .get('/hello', () => 'hi')
    .post('/echo', ({ body }) => body)
    .use(server.app)
  const call = (path: string, init: RequestInit = {}) => mine.handle(new Request(`http://localhost${path}`, init))
  expect((await call('/hello')).status).toBe(200)
  const echoed = await call('/echo', {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: 'https://elsewhere.example' },
    body: '{"a":1}',
  })
  expect(await echoed.json()).toEqual({ a: 1 })
  expect((await call('/api/sessions', { method: 'POST' })).status).toBe(401)
  expect((await call('/api/sessions', { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status).toBe(201)
})

describe('createServer honours each option it is given', () => {
  const json = (body: unknown): RequestInit => ({
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  const handle = (path: string, init?: RequestInit) => server!.app.handle(new Request(url(path), init))
  const newChat = async (init: RequestInit = json({})) => (await (await handle('/api/sessions', init)).json()) as { id: string }
  /** Sends `text` and waits for its run to end (the runner says when: no clock involved). */
  const answer = async (id: string, text: string) => {
    expect((await handle(`/api/sessions/${id}/messages`, json({ text }))).status).toBe(202)
    await server!.deps.runner.settled(id)
    return (await (await handle(`/api/sessions/${id}/events`)).json()) as StoredEvent[]
  }

  test('a store spec is opened, and what the server wrote is in it after stop()', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stepstream-create-server-'))
    try {
      const path = join(dir, 'chats.db')
      server = await createServer({ steps: [shout], log: silentLogger, store: { kind: 'sqlite', path } })
      const { id } = await newChat()
      expect((await answer(id, 'kept')).at(-1)).toMatchObject({ type: 'final', text: 'KEPT' })
      await server.stop()
      server = undefined
      const reopened = new SqliteStore(path)
      expect((await reopened.read(id, 0)).at(-1)).toMatchObject({ type: 'final', text: 'KEPT' })
      await reopened.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('a store given as an object is the one it writes', async () => {
    const store = new MemoryStore()
    server = await createServer({ steps: [shout], log: silentLogger, store })
    expect(server.store).toBe(store)
    const { id } = await newChat()
    await answer(id, 'mine')
    expect((await store.read(id, 0)).at(-1)).toMatchObject({ type: 'final', text: 'MINE' })
  })

  test('the store limits and retention reach the store it opens', async () => {
    server = await createServer({
      steps: [shout],
      log: silentLogger,
      store: { kind: 'memory' },
      storeLimits: { maxSessions: 1 },
      retention: { maxEventsPerSession: 2 },
    })
    const { id } = await newChat()
    expect((await answer(id, 'a few words')).length).toBeLessThanOrEqual(2)
    expect((await handle('/api/sessions', json({}))).status).toBe(503)
  })

  /**
   * A SQLite file or a Redis takes the per-chat bounds; the store-wide ones sized for a demo's RAM (events, bytes) are
   * memory's. --max-sessions, when set, holds on every store, counting chats and streams together.
   */
  const perChatBoundsOnly = async (store: { kind: 'sqlite'; path: string } | { kind: 'redis'; url: string }) => {
    server = await createServer({
      steps: [shout],
      log: silentLogger,
      store,
      storeLimits: { maxSessions: 2, maxEvents: 1, maxStoreBytes: 1 },
      retention: { maxEventsPerSession: 2 },
    })
    const { id } = await newChat()
    expect((await answer(id, 'a few words')).length).toBeLessThanOrEqual(2)
    expect((await handle('/api/sessions', json({}))).status).toBe(201)
    const third = await handle('/v1/stream/third', { method: 'PUT' })
    expect(third.status).toBe(503)
    expect(((await third.json()) as { error: { message: string } }).error.message).toContain('2 chats and streams, --max-sessions')
  }

  test('a SQLite file takes the per-chat bounds and --max-sessions, not the memory store’s store-wide ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stepstream-create-server-'))
    try {
      await perChatBoundsOnly({ kind: 'sqlite', path: join(dir, 'chats.db') })
    } finally {
      await server?.stop()
      server = undefined
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test.skipIf(!redisAvailable('createServer on a Redis store'))(
    'a Redis takes the per-chat bounds and --max-sessions, not the memory store’s store-wide ones',
    async () => {
      const redis = await startRedis()
      try {
        await perChatBoundsOnly({ kind: 'redis', url: redis.url })
      } finally {
        await server?.stop()
        server = undefined
        await redis.destroy()
      }
    },
    READY_MS * 2,
  )

  test('the default step is the one named, of the steps given; an unknown one is refused before any store is opened', async () => {
    const whisper = defineStep({
      name: 'whisper',
      run: async (conversation) => conversation.findLast((m) => m.role === 'user')?.content.toLowerCase() ?? '',
    })
    server = await createServer({ steps: [shout, whisper], defaultStep: 'whisper', log: silentLogger })
    const { id } = await newChat()
    expect((await answer(id, 'QUIET')).at(-1)).toMatchObject({ type: 'final', text: 'quiet' })
    const dir = mkdtempSync(join(tmpdir(), 'stepstream-create-server-'))
    try {
      const store = { kind: 'sqlite' as const, path: join(dir, 'never.db') }
      await expect(createServer({ steps: [shout], defaultStep: 'gpt', log: silentLogger, store })).rejects.toMatchObject({
        code: 'UNKNOWN_STEP',
      })
      expect(readdirSync(dir)).toEqual([])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('auth: the tokens given and those of a token file open it; nothing else does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stepstream-create-server-'))
    try {
      const file = join(dir, 'tokens')
      writeFileSync(file, '# the operators\nfile-token-0123456789abcdef\n')
      server = await createServer({ steps: [shout], log: silentLogger, auth: { tokens: ['given-token-0123456789'], tokenFile: file } })
      const bearer = (token: string): RequestInit => ({ method: 'POST', headers: { authorization: `Bearer ${token}` } })
      expect((await handle('/api/sessions', { method: 'POST' })).status).toBe(401)
      expect((await handle('/api/sessions', bearer('given-token-0123456789'))).status).toBe(201)
      expect((await handle('/api/sessions', bearer('file-token-0123456789abcdef'))).status).toBe(201)
      expect((await handle('/api/sessions', bearer('wrong-token-0123456789'))).status).toBe(401)
      writeFileSync(file, '# nobody\n')
      await expect(createServer({ log: silentLogger, auth: { tokenFile: file } })).rejects.toThrow(/holds no token/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('the message limit and the rate limit given; the rate limit by default; none when turned off', async () => {
    server = await createServer({ steps: [shout], log: silentLogger, maxMessageBytes: 4, rateLimit: { capacity: 2, perMs: 60_000 } })
    const { id } = await newChat()
    expect((await handle(`/api/sessions/${id}/messages`, json({ text: 'hello' }))).status).toBe(413)
    expect((await handle('/api/sessions', json({}))).status).toBe(429)
    await server.stop()
    server = await createServer({ steps: [shout], log: silentLogger })
    const statuses: number[] = []
    for (let i = 0; i <= DEFAULT_RATE_LIMIT.capacity; i++) statuses.push((await handle('/api/sessions', json({}))).status)
    expect(statuses.at(-1)).toBe(429)
    expect(statuses.slice(0, -1).every((status) => status === 201)).toBe(true)
    await server.stop()
    server = await createServer({ steps: [shout], log: silentLogger, rateLimit: false })
    for (let i = 0; i <= DEFAULT_RATE_LIMIT.capacity; i++) expect((await handle('/api/sessions', json({}))).status).toBe(201)
  })

  test('on a real port: the connection limit per address and the heartbeat given', async () => {
    server = await createServer({ steps: [shout], log: silentLogger, connections: { maxPerIp: 1 }, heartbeatMs: 100 })
    const base = server.listen({ port: 0, hostname: '127.0.0.1' })
    const { id } = (await (await fetch(`${base}/api/sessions`, json({}))).json()) as { id: string }
    const first = await SseReader.open(`${base}/api/sessions/${id}/stream`)
    try {
      expect(first.response.status).toBe(200)
      const second = await fetch(`${base}/api/sessions/${id}/stream`, { headers: { accept: 'text/event-stream' } })
      expect(second.status).toBe(429)
      await second.body?.cancel()
      // The heartbeat is a comment on a quiet stream: wait for it, whatever the clock.
      await until(() => first.comments.length > 0, { what: 'a heartbeat comment on the quiet stream' })
    } finally {
      first.close()
    }
  }, 15_000)
})
