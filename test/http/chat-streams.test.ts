import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type JsonBatch, stream } from '@durable-streams/client'
import { createServer, type StepstreamServer, type StoreSpec } from '../../src/create-server.ts'
import type { StoredEvent, ViewerEvent } from '../../src/events.ts'
import { silentLogger } from '../../src/log.ts'
import type { EventLog } from '../../src/log/event-log.ts'
import { newId } from '../../src/session-id.ts'
import { logCoreOf } from '../../src/streams/stream-log.ts'
import { echoStep } from '../../src/steps/echo-step.ts'
import { encodeOffset } from '../../src/streams/offsets.ts'
import { HeldStep } from '../helpers/held-step.ts'
import { parseMetrics, sampleSum } from '../helpers/prometheus.ts'
import { publishApi } from '../helpers/publish-api.ts'
import { redisAvailable, startRedis, type TestRedis } from '../helpers/redis-server.ts'
import { SseReader } from '../helpers/sse-client.ts'
import { fixedStep, testApp, url } from '../helpers/test-app.ts'
import { until, within } from '../helpers/wait.ts'

/**
 * Chats as Durable Streams: `/v1/stream/sessions/<id>` (the owner's) and `/v1/stream/view/<viewer_id>` (a read-only
 * link's) read a chat's log through the stream service's reads, one JSON item per event as the JSON API renders it,
 * at offsets of the chat's seqs. On every store where it touches the log (memory, SQLite, Redis); the routes' own
 * rules (writes, auth, limits, metrics) on memory.
 */

/** A long-poll's wait in these servers; milliseconds (short: an idle one answers within a test's time). */
const LONG_POLL_MS = 1000

interface Chat {
  id: string
  viewer_id: string
}

/** A server on a free port of 127.0.0.1 with the held step (the default) and the echo step. */
async function chatServer(store: StoreSpec, held: HeldStep, options: { authTokens?: string[] } = {}) {
  const server = await createServer({
    store,
    steps: [fixedStep(held), echoStep(1)],
    longPollMs: LONG_POLL_MS,
    rateLimit: false,
    log: silentLogger,
    ...(options.authTokens && { auth: { tokens: options.authTokens } }),
  })
  const base = server.listen({ port: 0, hostname: '127.0.0.1' })
  return { server, base }
}

/** The requests the tests make of a server at `base`. */
function client(base: string) {
  const json = { 'content-type': 'application/json' }
  const api = publishApi(base)
  return {
    api,
    newChat: async (step = 'held') =>
      (await (await fetch(`${base}/api/sessions`, { method: 'POST', headers: json, body: JSON.stringify({ step }) })).json()) as Chat,
    say: async (chat: Chat, text: string) => {
      const said = await fetch(`${base}/api/sessions/${chat.id}/messages`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ text }),
      })
      expect(said.status).toBe(202)
    },
    /** The owner's events from the JSON API. */
    events: (chat: Chat) => api.events(chat.id),
    viewerEvents: async (chat: Chat) => (await (await fetch(`${base}/api/sessions/view/${chat.viewer_id}/events`)).json()) as ViewerEvent[],
    /** The chat's events once its run has ended. */
    finished: (chat: Chat, runs = 1) => api.until(chat.id, (log) => log.filter((e) => e.type === 'final').length >= runs),
    owner: (chat: Chat, query = '') => `${base}/v1/stream/sessions/${chat.id}${query}`,
    viewer: (chat: Chat, query = '') => `${base}/v1/stream/view/${chat.viewer_id}${query}`,
  }
}

/** Everything a response says, headers and body, for a search of an id in it. */
async function bytesOf(response: Response): Promise<string> {
  return `${JSON.stringify([...response.headers])}\n${await response.text()}`
}

const seqOffset = (seq: number) => encodeOffset(seq)

/**
 * What the official client reads from `offset` to the tail, through as many pages as that takes. With `live: false`
 * the client (0.2.6) stops after its first response even when that page ends before the tail (its
 * `shouldContinueLive` answers false for `live: false` before it looks at up-to-date): `json()` on a live session
 * stops at the first up-to-date instead, as its documentation says of both.
 */
async function readAll<T>(url: string, offset = '-1', live: 'long-poll' | 'sse' = 'long-poll'): Promise<T[]> {
  const session = await stream<T>({ url, offset, live, warnOnHttp: false })
  return session.json()
}

interface StoreCase {
  kind: string
  available: boolean
  /** Whether several server processes share the store (Redis): a chat is then followed on one, written on another. */
  shared?: boolean
  open: () => Promise<{ spec: StoreSpec; cleanup: () => Promise<void> }>
}

const STORES: StoreCase[] = [
  { kind: 'memory', available: true, open: async () => ({ spec: { kind: 'memory' }, cleanup: async () => {} }) },
  {
    kind: 'sqlite',
    available: true,
    open: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'stepstream-chat-streams-'))
      return { spec: { kind: 'sqlite', path: join(dir, 'chats.db') }, cleanup: async () => rmSync(dir, { recursive: true, force: true }) }
    },
  },
  {
    kind: 'redis',
    available: redisAvailable('the chat streams on Redis'),
    shared: true,
    open: async () => {
      const redis: TestRedis = await startRedis()
      return { spec: { kind: 'redis', url: redis.url }, cleanup: () => redis.destroy() }
    },
  },
]

for (const store of STORES) {
  describe.if(store.available)(`chats as Durable Streams on ${store.kind}`, () => {
    const held = new HeldStep()
    let server: StepstreamServer
    let spec: StoreSpec
    let cleanup: () => Promise<void>
    let c: ReturnType<typeof client>
    beforeAll(async () => {
      const opened = await store.open()
      cleanup = opened.cleanup
      spec = opened.spec
      const made = await chatServer(opened.spec, held)
      server = made.server
      c = client(made.base)
    })
    afterAll(async () => {
      held.release()
      await server?.stop()
      await cleanup?.()
    })

    /** A chat whose one run has ended: `hello, stream` answered by the held step, released at once. */
    async function finishedChat(): Promise<{ chat: Chat; events: StoredEvent[] }> {
      const chat = await c.newChat()
      await c.say(chat, 'hello, stream')
      await within(held.held(), { what: 'the held step to hold' })
      held.release()
      return { chat, events: await c.finished(chat) }
    }

    test('a catch-up read is the JSON API: one item per event, the owner with its events, a viewer with its own', async () => {
      const { chat, events } = await finishedChat()
      const owner = await fetch(c.owner(chat, '?offset=-1'))
      expect(owner.status).toBe(200)
      expect(owner.headers.get('content-type')).toBe('application/json')
      expect(owner.headers.get('stream-next-offset')).toBe(seqOffset(events.at(-1)!.seq))
      expect(owner.headers.get('stream-up-to-date')).toBe('true')
      expect(owner.headers.get('stream-closed')).toBeNull()
      expect(await owner.json()).toEqual(events)
      const viewer = await fetch(c.viewer(chat))
      expect(viewer.status).toBe(200)
      expect(await viewer.json()).toEqual(await c.viewerEvents(chat))
      // `now`: nothing, at the tail, as for any stream.
      const now = await fetch(c.owner(chat, '?offset=now'))
      expect(await now.text()).toBe('[]')
      expect(now.headers.get('stream-next-offset')).toBe(seqOffset(events.at(-1)!.seq))
    })

    test('every offset a read handed out resumes exactly after its event; one never handed out is refused', async () => {
      const { chat, events } = await finishedChat()
      for (const [i, event] of events.entries()) {
        const page = await fetch(c.owner(chat, `?offset=${seqOffset(event.seq)}`))
        expect(page.status).toBe(200)
        expect(await page.json()).toEqual(events.slice(i + 1))
      }
      expect((await fetch(c.owner(chat, `?offset=${seqOffset(events.at(-1)!.seq + 1)}`))).status).toBe(400)
    })

    test('a long-poll waits for the chat’s next event; an idle one answers 204 with a cursor, never closed', async () => {
      const chat = await c.newChat()
      await c.say(chat, 'long poll me')
      await within(held.held(), { what: 'the held step to hold' })
      const before = await c.events(chat)
      const at = seqOffset(before.at(-1)!.seq)
      const polled = fetch(c.owner(chat, `?offset=${at}&live=long-poll`))
      // Answered only once there is something after `at`: the release makes it.
      held.release()
      const answered = await polled
      expect(answered.status).toBe(200)
      expect(answered.headers.get('stream-cursor')).toMatch(/^\d+$/)
      const items = (await answered.json()) as StoredEvent[]
      expect(items.length).toBeGreaterThan(0)
      expect(items[0]!.seq).toBe(before.at(-1)!.seq + 1)
      const all = await c.finished(chat)
      const idle = await fetch(c.viewer(chat, `?offset=${seqOffset(all.at(-1)!.seq)}&live=long-poll`))
      expect(idle.status).toBe(204)
      expect(idle.headers.get('stream-up-to-date')).toBe('true')
      expect(idle.headers.get('stream-cursor')).toMatch(/^\d+$/)
      expect(idle.headers.get('stream-closed')).toBeNull()
    })

    test('SSE pairs each data event with a control event and stays live past the end of a run', async () => {
      const chat = await c.newChat()
      const reader = await SseReader.open(c.viewer(chat, '?offset=-1&live=sse'))
      try {
        expect(reader.response.headers.get('content-type')).toBe('text/event-stream')
        await reader.until((m) => m.some((e) => e.event === 'control' && JSON.parse(e.data).upToDate === true))
        await c.say(chat, 'stream me live')
        await within(held.held(), { what: 'the held step to hold' })
        held.release()
        const items = () => reader.messages.filter((m) => m.event === 'data').flatMap((m) => JSON.parse(m.data) as ViewerEvent[])
        await reader.until(() => items().some((e) => e.type === 'final'))
        expect(items()).toEqual(await c.viewerEvents(chat))
        for (const [i, message] of reader.messages.entries()) {
          if (message.event === 'data') expect(reader.messages[i + 1]?.event).toBe('control')
        }
        const controls = reader.messages.filter((m) => m.event === 'control').map((m) => JSON.parse(m.data))
        expect(controls.some((control) => control.streamClosed)).toBe(false)
        // Still live after the run: the next message's events come on the same response.
        await c.say(chat, 'again, live')
        await within(held.held(), { what: 'the held step to hold' })
        held.release()
        await reader.until(() => items().filter((e) => e.type === 'final').length === 2)
        expect(items()).toEqual(await c.viewerEvents(chat))
      } finally {
        reader.close()
      }
    })

    for (const live of ['long-poll', 'sse'] as const) {
      test(`the official client follows a chat by ${live}, reads it back whole, and resumes exactly from an offset it was handed`, async () => {
        const chat = await c.newChat()
        const batches: JsonBatch<StoredEvent>[] = []
        const following = await stream<StoredEvent>({ url: c.owner(chat), offset: '-1', live, warnOnHttp: false })
        following.subscribeJson((batch) => {
          batches.push(batch)
        })
        const seen = () => batches.flatMap((batch) => batch.items)
        try {
          await c.say(chat, 'follow this chat')
          await within(held.held(), { what: 'the held step to hold' })
          // Seen while the run holds, then the rest once it goes on: followed live, not read afterwards.
          await until(() => seen().filter((e) => e.type === 'partial').length === 5, { what: 'the held partials', describe: seen })
          held.release()
          await until(() => seen().some((e) => e.type === 'final'), { what: 'the final event', describe: seen })
        } finally {
          following.cancel()
        }
        const events = await c.finished(chat)
        // Every event once, in order, none missing: the client's items are the JSON API's events.
        expect(seen()).toEqual(events)
        expect(await readAll(c.owner(chat))).toEqual(events)
        // Resumed from each offset a batch handed out: exactly what came after that batch.
        for (const [i, batch] of batches.entries()) {
          expect(await readAll(c.owner(chat), batch.offset)).toEqual(batches.slice(i + 1).flatMap((later) => later.items))
        }
        expect(await readAll(c.viewer(chat))).toEqual(await c.viewerEvents(chat))
      })
    }

    // Only where servers share the store: elsewhere there is no other server to follow the chat on.
    if (store.shared) {
      test('a chat written on one server is followed live on another, by long-poll and by SSE', async () => {
        const other = await chatServer(spec, new HeldStep())
        try {
          const chat = await c.newChat()
          const on = client(other.base)
          const followers = await Promise.all(
            (['long-poll', 'sse'] as const).map(async (live) => {
              const items: ViewerEvent[] = []
              const session = await stream<ViewerEvent>({ url: on.viewer(chat), offset: '-1', live, warnOnHttp: false })
              session.subscribeJson((batch) => {
                items.push(...batch.items)
              })
              return { items, session }
            }),
          )
          try {
            await c.say(chat, 'across servers')
            await within(held.held(), { what: 'the held step to hold' })
            for (const { items } of followers) {
              await until(() => items.filter((e) => e.type === 'partial').length === 5, {
                what: 'the held partials',
                describe: () => items,
              })
            }
            held.release()
            for (const { items } of followers)
              await until(() => items.some((e) => e.type === 'final'), { what: 'the final event', describe: () => items })
            await c.finished(chat)
            for (const { items } of followers) expect(items).toEqual(await on.viewerEvents(chat))
          } finally {
            for (const { session } of followers) session.cancel()
          }
        } finally {
          await other.server.stop()
        }
      })
    }

    test('nothing a read-only link answers holds the owner’s id: not an item, a header, an ETag or a refusal', async () => {
      const { chat, events } = await finishedChat()
      const last = seqOffset(events.at(-1)!.seq)
      const answers = [
        await fetch(c.viewer(chat)),
        await fetch(c.viewer(chat, `?offset=${seqOffset(1)}`)),
        await fetch(c.viewer(chat, '?offset=now')),
        await fetch(c.viewer(chat), { method: 'HEAD' }),
        await fetch(c.viewer(chat, `?offset=${last}&live=long-poll`)),
        await fetch(c.viewer(chat, `?offset=${seqOffset(events.at(-1)!.seq + 1)}`)),
        await fetch(c.viewer(chat), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }),
        await fetch(c.viewer(chat), { method: 'OPTIONS' }),
      ]
      const etag = answers[0]!.headers.get('etag')!
      answers.push(await fetch(c.viewer(chat), { headers: { 'if-none-match': etag } }))
      expect(answers.at(-1)!.status).toBe(304)
      for (const answer of answers) expect(await bytesOf(answer)).not.toContain(chat.id)
      const sse = await SseReader.open(c.viewer(chat, '?offset=-1&live=sse'))
      try {
        await sse.until((m) => m.some((e) => e.event === 'control' && JSON.parse(e.data).upToDate === true))
        expect(JSON.stringify([...sse.response.headers])).not.toContain(chat.id)
        expect(JSON.stringify(sse.messages)).not.toContain(chat.id)
        expect(sse.messages.filter((m) => m.event === 'data').flatMap((m) => JSON.parse(m.data))).toHaveLength(events.length)
      } finally {
        sse.close()
      }
    })

    test('events of large and odd JSON are one item each, as the JSON API gives them, over pages', async () => {
      const p = await c.api.publisher()
      const run = await c.api.openRun(p)
      const odd = 'a,b],[{"c":1},"\u2028\u2029\\"\n'
      const big = (n: number) => `${odd}${'x'.repeat(n)}`
      const results = [
        { type: 'tool-call', tool_call: { id: 't1', name: 'odd', input: [[1, 2], [3], { ',': '],[' }, odd] } },
        { type: 'tool-result', tool_result: { id: 't1', result: [] } },
        { type: 'tool-result', tool_result: { id: 't2', result: big(600_000) } },
      ]
      expect((await c.api.append(p, run, results)).status).toBe(200)
      expect((await c.api.append(p, run, [{ type: 'tool-result', tool_result: { id: 't3', result: [big(600_000)] } }])).status).toBe(200)
      expect((await c.api.append(p, run, [{ type: 'final', text: odd }])).status).toBe(200)
      const events = await c.api.until(p.id, (log) => log.some((e) => e.type === 'final'))
      expect(await readAll(c.owner(p))).toEqual(events)
      // In SSE's data lines too: U+2028 and U+2029 are no line ends there, and JSON escapes every CR and LF.
      expect(await readAll(c.owner(p), '-1', 'sse')).toEqual(events)
      // Two events of 600 kB do not share a 1 MiB page: the first page ends before the head, at an event.
      const first = await fetch(c.owner(p))
      expect(first.headers.get('stream-up-to-date')).toBeNull()
      const page = (await first.json()) as StoredEvent[]
      expect(page).toEqual(events.slice(0, page.length))
    })
  })
}

describe('chats as Durable Streams: the routes', () => {
  const TOKEN = 'a-token-of-sixteen-chars-or-more'
  let close: (() => Promise<void>) | undefined
  afterEach(async () => {
    await close?.()
    close = undefined
  })

  async function app(options: Parameters<typeof testApp>[0] = {}) {
    const made = await testApp({ longPollMs: LONG_POLL_MS, ...options })
    close = made.close
    const handle = (path: string, init: RequestInit = {}) => made.app.handle(new Request(url(path), init))
    const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
      handle(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
    const chat = async (headers: Record<string, string> = {}) => {
      const made = (await (await post('/api/sessions', {}, headers)).json()) as Chat
      expect((await post(`/api/sessions/${made.id}/messages`, { text: 'hi' }, headers)).status).toBe(202)
      await until(async () =>
        ((await (await handle(`/api/sessions/${made.id}/events`, { headers })).json()) as StoredEvent[]).some((e) => e.type === 'final'),
      )
      return made
    }
    return { handle, post, chat, deps: made.deps }
  }

  const message = async (response: Response) => ((await response.json()) as { error: { message: string } }).error.message

  test('writes are refused with 405, Allow: GET, HEAD and a sentence, and change nothing', async () => {
    const { handle, chat } = await app()
    const made = await chat()
    const before = await (await handle(`/v1/stream/sessions/${made.id}`)).text()
    for (const path of [`/v1/stream/sessions/${made.id}`, `/v1/stream/view/${made.viewer_id}`]) {
      for (const method of ['PUT', 'POST', 'DELETE']) {
        const refused = await handle(path, { method, headers: { 'content-type': 'application/json' }, body: '{"type":"user"}' })
        expect(refused.status).toBe(405)
        expect(refused.headers.get('allow')).toBe('GET, HEAD')
        expect(await message(refused)).toContain('read-only views of chats')
      }
      // A method no stream route has: the 405 still lists what a chat's stream answers.
      const patched = await handle(path, { method: 'PATCH' })
      expect(patched.status).toBe(405)
      expect(patched.headers.get('allow')).toBe('GET, HEAD')
    }
    expect(await (await handle(`/v1/stream/sessions/${made.id}`)).text()).toBe(before)
  })

  test('a name that reads no chat is 404 with a sentence: unknown ids, ids swapped, a stream’s log under a chat’s name', async () => {
    const { handle, chat } = await app()
    const made = await chat()
    expect((await handle('/v1/stream/x', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '[1]' })).status).toBe(201)
    const unknown = 'AAAAAAAAAAAAAAAAAAAAAA'
    const names = [
      `sessions/${unknown}`,
      `view/${unknown}`,
      `view/${made.id}`,
      `sessions/${made.viewer_id}`,
      'sessions/stream:x',
      `sessions/${made.id}/x`,
      'view',
    ]
    for (const name of names) {
      for (const query of ['', '?offset=-1&live=long-poll', '?offset=-1&live=sse']) {
        const refused = await handle(`/v1/stream/${name}${query}`)
        expect(refused.status).toBe(404)
        expect(await message(refused)).toMatch(/^No (chat|session) has/)
      }
      expect((await handle(`/v1/stream/${name}`, { method: 'HEAD' })).status).toBe(404)
    }
  })

  test('a chat deleted while a branch of it lives is gone under both its names, as on its own routes; the branch reads on', async () => {
    const { handle, chat, deps } = await app()
    const made = await chat()
    const store = deps.store as EventLog
    const branch = await store.forkSession(made.id, 2, newId())
    expect(await logCoreOf(store)!.delete(made.id)).toBe('SOFT')
    expect((await handle(`/api/sessions/${made.id}/events`)).status).toBe(404)
    for (const path of [`/v1/stream/sessions/${made.id}`, `/v1/stream/view/${made.viewer_id}`]) {
      const gone = await handle(path)
      expect(gone.status).toBe(404)
      expect(await message(gone)).toMatch(/^No (chat|session) has/)
    }
    const read = await handle(`/v1/stream/sessions/${branch.id}`)
    expect(await read.json()).toEqual(await (await handle(`/api/sessions/${branch.id}/events`)).json())
  })

  test('with --auth-token on, each name opens as the chat’s own read routes do: the owner’s with the token, a read-only link’s without unless private', async () => {
    for (const viewerLinks of ['open', 'private'] as const) {
      const { handle, chat } = await app({ authTokens: [TOKEN], viewerLinks })
      const bearer = { authorization: `Bearer ${TOKEN}` }
      const made = await chat(bearer)
      const pairs = [
        [`/api/sessions/${made.id}/events`, `/v1/stream/sessions/${made.id}`, 401],
        [`/api/sessions/view/${made.viewer_id}/events`, `/v1/stream/view/${made.viewer_id}`, viewerLinks === 'open' ? 200 : 401],
      ] as const
      for (const [api, stream, without] of pairs) {
        for (const path of [api, stream]) {
          expect((await handle(path)).status).toBe(without)
          expect((await handle(path, { headers: bearer })).status).toBe(200)
        }
        if (without === 401) expect((await handle(`${stream}?offset=-1&live=long-poll`)).status).toBe(401)
        const read = await handle(stream, { headers: bearer })
        expect(read.headers.get('access-control-allow-origin')).toBeNull()
      }
      // Writes never open without the token.
      expect((await handle(`/v1/stream/view/${made.viewer_id}`, { method: 'POST', body: '[]' })).status).toBe(401)
    }
  })

  test('HEAD tells the tail; ETags answer 304, and differ between the owner’s bytes and the viewer’s', async () => {
    const { handle, chat } = await app()
    const made = await chat()
    const head = await handle(`/v1/stream/sessions/${made.id}`, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(head.headers.get('content-type')).toBe('application/json')
    expect(head.headers.get('cache-control')).toBe('no-store')
    expect(await head.text()).toBe('')
    const owner = await handle(`/v1/stream/sessions/${made.id}`)
    expect(owner.headers.get('stream-next-offset')).toBe(head.headers.get('stream-next-offset'))
    const etag = owner.headers.get('etag')!
    const again = await handle(`/v1/stream/sessions/${made.id}`, { headers: { 'if-none-match': etag } })
    expect(again.status).toBe(304)
    const viewer = await handle(`/v1/stream/view/${made.viewer_id}`)
    expect(viewer.headers.get('etag')).not.toBe(etag)
    expect((await handle(`/v1/stream/view/${made.viewer_id}`, { headers: { 'if-none-match': etag } })).status).toBe(200)
  })

  test('live reads of a chat count against --max-connections-per-ip, and give their connection back', async () => {
    const { handle, chat, deps } = await app({ connections: { maxPerIp: 1 } })
    const made = await chat()
    const tail = (await handle(`/v1/stream/sessions/${made.id}`, { method: 'HEAD' })).headers.get('stream-next-offset')
    const waiting = handle(`/v1/stream/sessions/${made.id}?offset=${tail}&live=long-poll`)
    await until(() => deps.connections.open === 1, { what: 'the long-poll to hold its connection' })
    expect((await handle(`/v1/stream/view/${made.viewer_id}?offset=${tail}&live=long-poll`)).status).toBe(429)
    expect((await handle(`/v1/stream/view/${made.viewer_id}?offset=-1&live=sse`)).status).toBe(429)
    expect((await waiting).status).toBe(204)
    expect((await handle(`/v1/stream/view/${made.viewer_id}?offset=${tail}&live=long-poll`)).status).toBe(204)
  })

  test('reads of a chat are counted in stepstream_stream_operations_total by operation and status', async () => {
    const { handle, chat } = await app()
    const made = await chat()
    const count = async (labels: Record<string, string>) =>
      sampleSum(parseMetrics(await (await handle('/metrics')).text()), 'stepstream_stream_operations_total', labels)
    await handle(`/v1/stream/sessions/${made.id}`)
    await handle(`/v1/stream/view/${made.viewer_id}`, { method: 'HEAD' })
    await handle(`/v1/stream/view/${made.viewer_id}`, { method: 'POST' })
    expect(await count({ operation: 'read', status: '200' })).toBe(1)
    expect(await count({ operation: 'head', status: '200' })).toBe(1)
    expect(await count({ operation: 'append', status: '405' })).toBe(1)
  })
})
