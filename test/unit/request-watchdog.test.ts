import { expect, test } from 'bun:test'
import { UPSTREAM_ERROR_MAX_BYTES } from '../../src/limits.ts'
import { RequestWatchdog } from '../../src/steps/request-watchdog.ts'

test("an upstream's error answer is read up to its bound and the rest is left unread, however long it goes on", async () => {
  let pulled = 0
  let cancelled = false
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled++
      controller.enqueue(new Uint8Array(16 * 1024).fill(120))
    },
    cancel() {
      cancelled = true
    },
  })
  const transport = (async () => new Response(endless, { status: 500, statusText: 'boom' })) as unknown as typeof fetch
  const watchdog = new RequestWatchdog(60_000)
  const response = await watchdog.fetch(transport)('http://upstream.invalid/')
  watchdog.pause()
  expect(response.status).toBe(500)
  expect((await response.text()).length).toBe(UPSTREAM_ERROR_MAX_BYTES)
  expect(cancelled).toBe(true)
  expect(pulled).toBeLessThan(UPSTREAM_ERROR_MAX_BYTES / 1024)
})
