import { afterAll, beforeAll, describe, test } from 'bun:test'
import { slowTests } from '../helpers/slow-tests.ts'
import { AbuseServer, announceSeed, openPublisherRun, propertyTimeout, RSS_BOUND_BYTES, rssOf } from './harness.ts'

/**
 * Budgets that take thousands of requests or hundreds of megabytes to reach, so only `bun run fuzz` (FUZZ_SECONDS or
 * FUZZ_RUNS set) runs them: the memory store's budget in bytes (finding 6), and producer state that other
 * producers cannot evict (finding 5).
 */

slowTests(120_000)
announceSeed('budgets')

const long = process.env.FUZZ_SECONDS !== undefined || process.env.FUZZ_RUNS !== undefined

describe.skipIf(!long)('on a memory store (fuzz only)', () => {
  let server: AbuseServer
  beforeAll(async () => {
    server = await AbuseServer.start({ args: ['--store', 'memory', '--rate-limit', 'off', '--publish-timeout', '600000'] })
  })
  afterAll(() => server?.stop())

  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${server.base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body })

  const publisherRun = () => openPublisherRun(server.base)

  test(
    'a producer’s applied batch is recognised on retry even after another publisher made 10,001 producers',
    async () => {
      await server.batch('10,001 other producers, then a retry', async () => {
        const mine = await publisherRun()
        const batch = '[{"type":"partial","delta":"once"}]'
        const headers = { ...mine.auth, 'producer-id': 'mine', 'producer-seq': '0' }
        await (await post(mine.path, batch, headers)).text()
        const theirs = await publisherRun()
        let next = 0
        const worker = async () => {
          while (next < 10_001) {
            const n = next++
            await (await post(theirs.path, '[]', { ...theirs.auth, 'producer-id': `p${n}`, 'producer-seq': '0' })).text()
          }
        }
        await Promise.all(Array.from({ length: 16 }, worker))
        await (await post(mine.path, batch, headers)).text()
        const events = (await (await fetch(`${server.base}/api/sessions/${mine.id}/events?limit=1000`)).json()) as {
          type: string
          delta?: string
        }[]
        const stored = events.filter((e) => e.delta === 'once').length
        if (stored !== 1) server.note(`a retried batch was stored ${stored} times after another session made 10,001 producers`)
      })
    },
    propertyTimeout(120_000),
  )

  // Last: it leaves the server holding what the store took.
  test(
    'events of ~1 MB each, published until the store refuses: the RSS stays under its bound, and the refusal is a sentence',
    async () => {
      await server.batch('a memory store filled with 1 MB events', async () => {
        const event = JSON.stringify([{ type: 'partial', delta: 'x'.repeat(999_000) }])
        // Twice the RSS bound in bytes published: a store bounded in bytes refuses long before.
        for (let sent = 0; sent < (2 * RSS_BOUND_BYTES) / 1_000_000; ) {
          const run = await publisherRun()
          for (let i = 0; i < 50; i++, sent++) {
            const res = await post(run.path, event, run.auth)
            const text = await res.text()
            if (res.status >= 400) {
              if (!/"error"/.test(text)) server.note(`a full store answered ${res.status} without a sentence: ${text.slice(0, 200)}`)
              return
            }
          }
          await post(run.path, '[{"type":"final","text":"ok"}]', run.auth)
        }
      })
    },
    propertyTimeout(120_000),
  )
})

describe.skipIf(!long)('on a memory store of 32 MiB, events of many small values (fuzz only)', () => {
  /** `--max-store-bytes`: 32 MiB. */
  const STORE_BYTES = 32 * 1024 * 1024
  let server: AbuseServer
  beforeAll(async () => {
    server = await AbuseServer.start({
      args: ['--store', 'memory', '--rate-limit', 'off', '--publish-timeout', '600000', '--max-store-bytes', String(STORE_BYTES)],
    })
  })
  afterAll(() => server?.stop())

  const post = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${server.base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body })

  test(
    'tool calls of 99,000 `{}` each (297 KB of JSON, ~7 MB parsed) are refused long before the RSS passes 4 times the budget',
    async () => {
      await server.batch('a memory store filled with events of many small values', async () => {
        const before = rssOf(server.pid)
        const input = Array.from({ length: 99_000 }, () => ({}))
        let stored = 0
        // 112 of them are the store's 32 MiB counted as JSON: they once held 875 MB.
        outer: for (let sessions = 0; sessions < 20; sessions++) {
          const made = (await (await post('/api/sessions', '{"publisher":true}')).json()) as { id: string; publisher_token: string }
          const auth = { authorization: `Bearer ${made.publisher_token}` }
          const { run_id } = (await (await post(`/api/sessions/${made.id}/runs`, '', auth)).json()) as { run_id: string }
          const path = `/api/sessions/${made.id}/runs/${run_id}/events`
          for (let i = 0; i < 200 && stored < 200; i++) {
            const body = JSON.stringify([{ type: 'tool-call', tool_call: { id: `c${i}`, name: 'n', input } }])
            const res = await post(path, body, auth)
            const text = await res.text()
            if (res.status === 503 || res.status === 413) {
              if (!/"error"/.test(text)) server.note(`a full store answered ${res.status} without a sentence: ${text.slice(0, 200)}`)
              if (res.status === 503) break outer
              continue outer
            }
            if (res.status !== 200) server.note(`a tool call of 99,000 {} answered ${res.status}: ${text.slice(0, 200)}`)
            stored++
          }
        }
        const grown = rssOf(server.pid) - before
        if (stored >= 112) server.note(`the 32 MiB memory store took ${stored} events of 99,000 {} (their JSON alone fills it)`)
        if (grown > 4 * STORE_BYTES) {
          server.note(`the server's RSS grew ${(grown / 2 ** 20).toFixed(0)} MiB holding a 32 MiB memory store (${stored} events)`)
        }
      })
    },
    propertyTimeout(120_000),
  )
})
