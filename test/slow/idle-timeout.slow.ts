import { afterAll, beforeAll, expect, test } from 'bun:test'
import { hasEnd, SseReader } from '../helpers/sse-client.ts'
import { testServer } from '../helpers/test-app.ts'

// Slow by nature (`bun run test:slow`): what is tested is half a minute of silence.
let server: Awaited<ReturnType<typeof testServer>>
beforeAll(async () => {
  // The default heartbeat (15 s) is longer than Bun's idle timeout (10 s): the quiet stream must outlive the latter.
  server = await testServer()
})
afterAll(() => server.close())

test('a quiet stream outlives Bun’s idle timeout: two heartbeats and no event in 30 s, then it still delivers', async () => {
  const { id } = (await (await fetch(`${server.base}/api/sessions`, { method: 'POST' })).json()) as { id: string }
  const stream = await SseReader.open(`${server.base}/api/sessions/${id}/stream`)
  await stream.until(() => stream.comments.filter((c) => c.trim() === 'ping').length >= 2, 45_000)
  expect(stream.messages).toEqual([])
  await fetch(`${server.base}/api/sessions/${id}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text: 'still here' }),
  })
  await stream.until((m) => hasEnd(m))
  stream.close()
  expect(JSON.parse(stream.messages.at(-1)!.data)).toMatchObject({ type: 'final', text: 'still here' })
}, 60_000)
