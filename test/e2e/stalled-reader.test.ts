import { afterEach, expect, test } from 'bun:test'
import { connect, type Socket } from 'node:net'
import { testServer } from '../helpers/test-app.ts'
import { until } from '../helpers/wait.ts'
import { ReadCountingStore } from '../helpers/read-counting-store.ts'

/** Counts the store's reads: a stream that stops reading the store is one whose client stopped reading it. */
const EVENTS = 1000
const EVENT_CHARS = 20_000

let done: (() => Promise<void>) | undefined
afterEach(async () => {
  await done?.()
  done = undefined
})

test('a client that stops reading stops its stream reading the store once the socket buffers are full', async () => {
  const store = new ReadCountingStore()
  const server = await testServer({ store })
  const id = ((await (await fetch(`${server.base}/api/sessions`, { method: 'POST' })).json()) as { id: string }).id
  const ts = new Date().toISOString()
  await store.append(id, { type: 'start', step_id: 'big', ts, step_type: 'echo' })
  for (let i = 1; i < EVENTS; i++)
    await store.append(id, { type: 'partial', step_id: 'big', ts, delta: String(i % 10).repeat(EVENT_CHARS) })
  const before = store.reads
  // A raw socket, paused: it sends its request and never reads a byte.
  const socket: Socket = connect(server.app.server!.port!, '127.0.0.1')
  socket.pause()
  socket.write(`GET /api/sessions/${id}/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n`)
  done = async () => {
    socket.destroy()
    await server.close()
  }
  // Settled: the count stays put across ten looks in a row (the stream is parked on a write the socket cannot take).
  let last = -1
  let still = 0
  await until(
    () => {
      const reads = store.reads - before
      still = reads === last && reads > 0 ? still + 1 : 0
      last = reads
      return still >= 10
    },
    { what: 'the stream to stop reading', timeoutMs: 20_000, everyMs: 100 },
  )
  // Reading it all takes at least one read per chunk of 64 Ki characters: 3 events of 20,000 a chunk, 333 reads.
  // What the kernel's buffers take (a few MiB) is a small part of the 20 MB.
  expect(last).toBeLessThan(EVENTS / 3 / 2)
})
