import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Browser } from 'playwright-core'
import { browserAvailable, launchBrowser, leaveScreenshot, watchErrors } from '../helpers/browser.ts'
import { HeldModel } from '../helpers/held-model.ts'
import { redisAvailable, startRedis, type TestRedis } from '../helpers/redis-server.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { type SpawnedServer, spawnServer } from '../helpers/spawn-server.ts'

slowTests()

const enabled = redisAvailable('the page on two instances') && browserAvailable('the page on two instances')

/**
 * A load balancer at its most unhelpful: every GET (the page, its assets, its streams) goes to A, every POST (new
 * chat, message, cancel) to B. Counts what each got, so the test can show both served.
 */
function splittingProxy(a: string, b: string) {
  const seen = { a: [] as string[], b: [] as string[] }
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    idleTimeout: 0,
    async fetch(request) {
      const url = new URL(request.url)
      const toB = request.method !== 'GET' && request.method !== 'HEAD'
      seen[toB ? 'b' : 'a'].push(`${request.method} ${url.pathname}`)
      const upstream = await fetch(`${toB ? b : a}${url.pathname}${url.search}`, {
        method: request.method,
        headers: request.headers,
        body: toB ? await request.arrayBuffer() : undefined,
        redirect: 'manual',
        signal: request.signal,
      })
      // fetch has decoded the body already: the encoding and length it arrived with no longer describe it.
      const headers = new Headers(upstream.headers)
      headers.delete('content-encoding')
      headers.delete('content-length')
      return new Response(upstream.body, { status: upstream.status, headers })
    },
  })
  return { base: `http://127.0.0.1:${server.port}`, seen, stop: () => server.stop(true) }
}

describe.if(enabled)('the page on two instances', () => {
  let redis: TestRedis
  let a: SpawnedServer
  let b: SpawnedServer
  let proxy: ReturnType<typeof splittingProxy>
  let browser: Browser
  // The chats' model, held by the test: answers up to 50 characters (the default chat's) come whole, a longer one
  // holds there until cancelled, so the cancel never races the end of the answer.
  const model = new HeldModel(50)
  const LONG = 'a long message, whose answer holds after fifty characters until the page cancels it'
  beforeAll(async () => {
    redis = await startRedis()
    const args = ['--store', redis.url, ...model.flags, '--rate-limit', 'off']
    ;[a, b] = await Promise.all([
      spawnServer([process.execPath, 'src/main.ts'], { args }),
      spawnServer([process.execPath, 'src/main.ts'], { args }),
    ])
    proxy = splittingProxy(a.base, b.base)
    browser = await launchBrowser()
  })
  afterAll(async () => {
    await browser?.close()
    proxy?.stop()
    await Promise.allSettled([a?.stop(), b?.stop()])
    await redis?.destroy()
    await model.stop()
  })

  test('with its stream on A and its posts on B: start a chat, send a message, cancel a run', async () => {
    const page = await browser.newPage()
    const errors = watchErrors(page)
    await page.goto(`${proxy.base}/`)
    await page.getByRole('button', { name: 'Start New Chat' }).click()
    await page.locator('.answer.final').first().waitFor()
    await page.locator('#message').fill('hello from the other instance')
    await page.locator('#message').press('Enter')
    await page.locator('.answer.final').nth(1).waitFor()
    expect(await page.locator('.answer.final').nth(1).textContent()).toContain('hello from the other instance')
    await page.locator('#message').fill(LONG)
    await page.locator('#message').press('Enter')
    await model.held(LONG)
    await page.locator('#cancel:not([hidden])').click()
    await page.locator('.answer.interrupt').first().waitFor()
    expect(proxy.seen.a.some((r) => r.startsWith('GET /events'))).toBe(true)
    expect(proxy.seen.b).toEqual(expect.arrayContaining(['POST /start', 'POST /chat', 'POST /cancel']))
    expect(proxy.seen.a.some((r) => r.startsWith('POST'))).toBe(false)
    expect(errors).toEqual([])
    await leaveScreenshot(page, 'redis-two-instances')
  })
})
