import { expect, test } from 'bun:test'
import { canPrune } from '../../src/log/event-store.ts'
import { DEFAULT_RETENTION_POLICY } from '../../src/log/retention-policy.ts'
import { testApp, url } from '../helpers/test-app.ts'

/**
 * Retention over a store that holds streams as well as chats: compaction parses a quiet chat's entries as events, and
 * must never touch a stream's (a JSON message that looks like a finished run's `partial`, a text entry that is no
 * JSON at all). Streams are uncapped logs, which retention skips.
 */

async function pruned(setup: (handle: (path: string, init?: RequestInit) => Promise<Response>) => Promise<void>) {
  const made = await testApp()
  const handle = (path: string, init: RequestInit = {}) => made.app.handle(new Request(url(path), init))
  await setup(handle)
  const store = made.deps.store
  if (!canPrune(store)) throw new Error('the memory store prunes')
  const policy = { ...DEFAULT_RETENTION_POLICY, compactAfterMs: 0 }
  return { handle, prune: () => store.prune(policy, new Date(Date.now() + 60_000)), close: made.close }
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
