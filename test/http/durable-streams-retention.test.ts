import { expect, test } from 'bun:test'
import { canPrune } from '../../src/log/event-store.ts'
import { DEFAULT_RETENTION_POLICY } from '../../src/log/retention-policy.ts'
import { testApp, url } from '../helpers/test-app.ts'

/**
 * Retention and the store's limits over a store that holds streams as well as chats. Compaction parses a quiet chat's
 * entries as events, and must never touch a stream's (a JSON message that looks like a finished run's `partial`, a
 * text entry that is no JSON at all); nor does the per-chat cap trim one (streams are uncapped logs). A stream idle
 * past --retention goes as a chat does (unless forks still name it), and --max-sessions counts streams with chats.
 */

async function pruned(
  setup: (handle: (path: string, init?: RequestInit) => Promise<Response>) => Promise<void>,
  options: Parameters<typeof testApp>[0] = {},
) {
  const made = await testApp(options)
  const handle = (path: string, init: RequestInit = {}) => made.app.handle(new Request(url(path), init))
  await setup(handle)
  const store = made.deps.store
  if (!canPrune(store)) throw new Error('the memory store prunes')
  const policy = { ...DEFAULT_RETENTION_POLICY, compactAfterMs: 0, maxEventsPerSession: 2 }
  return {
    handle,
    prune: (later = 60_000) => store.prune(policy, new Date(Date.now() + later)),
    idle: () => store.prune(policy, new Date(Date.now() + policy.idleMs + 10 * 60_000)),
    close: made.close,
  }
}

test("compaction never deletes a stream's message, whatever it looks like", async () => {
  const { handle, prune, close } = await pruned(async (handle) => {
    const json = { 'content-type': 'application/json' }
    await handle('/v1/stream/lookalike', { method: 'PUT', headers: json, body: '{"type":"partial","step_id":"r","delta":"x"}' })
    await handle('/v1/stream/lookalike', { method: 'POST', headers: json, body: '{"type":"final","step_id":"r","text":"x"}' })
  })
  try {
    await prune()
    expect(await (await handle('/v1/stream/lookalike')).json()).toHaveLength(2)
  } finally {
    await close()
  }
})

test('a text stream never makes a retention pass throw', async () => {
  const { prune, close } = await pruned(async (handle) => {
    await handle('/v1/stream/text', { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: 'hello' })
  })
  await prune().finally(close)
})

test('the per-chat cap never trims a stream: every acknowledged message stays', async () => {
  const { handle, prune, close } = await pruned(async (handle) => {
    await handle('/v1/stream/long', { method: 'PUT', headers: { 'content-type': 'text/plain' } })
    for (const piece of ['a;', 'b;', 'c;', 'd;', 'e;']) {
      await handle('/v1/stream/long', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: piece })
    }
  })
  try {
    await prune()
    expect(await (await handle('/v1/stream/long?offset=-1')).text()).toBe('a;b;c;d;e;')
  } finally {
    await close()
  }
})

test('a stream idle past --retention goes as a chat does; a source forks still name is kept for them (410)', async () => {
  const text = { 'content-type': 'text/plain' }
  const { handle, idle, close } = await pruned(async (handle) => {
    await handle('/v1/stream/idle', { method: 'PUT', headers: text, body: 'x' })
    await handle('/v1/stream/source', { method: 'PUT', headers: text, body: 'kept' })
    await handle('/v1/stream/fork', { method: 'PUT', headers: { ...text, 'stream-forked-from': '/v1/stream/source' } })
  })
  try {
    const report = await idle()
    expect((await handle('/v1/stream/idle', { method: 'HEAD' })).status).toBe(404)
    // The source went soft (its fork still reads it); the fork went; then the source goes with it, next pass.
    expect(report.sessionsDeleted).toBeGreaterThanOrEqual(2)
    expect((await handle('/v1/stream/fork', { method: 'HEAD' })).status).toBe(404)
    expect((await handle('/v1/stream/source', { method: 'HEAD' })).status).toBe(404)
  } finally {
    await close()
  }
})

test('--max-sessions counts streams with chats: past it a PUT is 503 with a sentence naming both', async () => {
  const { handle, close } = await pruned(async () => {}, { storeLimits: { maxSessions: 2 } })
  try {
    expect((await handle('/api/sessions', { method: 'POST' })).status).toBe(201)
    expect((await handle('/v1/stream/one', { method: 'PUT' })).status).toBe(201)
    const refused = await handle('/v1/stream/two', { method: 'PUT' })
    expect(refused.status).toBe(503)
    expect(refused.headers.get('retry-after')).not.toBeNull()
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain('2 chats and streams, --max-sessions')
    expect((await handle('/api/sessions', { method: 'POST' })).status).toBe(503)
  } finally {
    await close()
  }
})
