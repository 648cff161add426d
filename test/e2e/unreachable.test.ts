import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Browser } from 'playwright-core'
import { browserAvailable, launchBrowser, leaveScreenshot, watchErrors } from '../helpers/browser.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { testServer } from '../helpers/test-app.ts'

slowTests()

const enabled = browserAvailable('unreachable-server tests')
const UNREACHABLE = 'Could not reach the server, so this was not sent. Check the connection and try again.'

/** A request that never reaches the server (it is down, the network is): the page says so, and keeps what was typed. */
describe.skipIf(!enabled)('a server out of reach', () => {
  let browser: Browser
  let server: Awaited<ReturnType<typeof testServer>>

  beforeAll(async () => {
    server = await testServer()
    browser = await launchBrowser()
  })
  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })

  test('a message sent meanwhile says it was not sent and stays in its box; Start New Chat says the same', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    const errors = watchErrors(page)
    await page.goto(`${server.base}/`)
    await page.getByRole('button', { name: 'Start New Chat' }).click()
    await page.locator('.answer.final').first().waitFor()

    // The server is out of reach for the page's requests from now on (its stream stays: it is not a request of a form).
    await page.route('**/chat?*', (route) => route.abort('connectionrefused'))
    await page.locator('#message').fill('are you there?')
    await page.locator('#message').press('Enter')
    await page.locator('#notice', { hasText: UNREACHABLE }).waitFor()
    expect(await page.locator('#message').inputValue()).toBe('are you there?')
    expect(await page.locator('.msg.user').count()).toBe(1)
    // A lost stream tries again at most 5 s apart, however long the server was away.
    expect(
      await page.evaluate(
        () => (window as unknown as { htmx: { config: { sse: { reconnectMaxDelay: number } } } }).htmx.config.sse.reconnectMaxDelay,
      ),
    ).toBe(5000)
    await leaveScreenshot(page, 'unreachable-send')

    const landing = await context.newPage()
    await landing.goto(`${server.base}/`)
    await landing.route('**/start', (route) => route.abort('connectionrefused'))
    await landing.getByRole('button', { name: 'Start New Chat' }).click()
    await landing.locator('#new-chat-notice', { hasText: UNREACHABLE }).waitFor()
    await leaveScreenshot(landing, 'unreachable-start')
    // What the browser logs of the refused requests, and nothing else.
    expect(errors.filter((e) => !/ERR_CONNECTION_REFUSED|Failed to fetch/.test(e))).toEqual([])
    await context.close()
  })
})
