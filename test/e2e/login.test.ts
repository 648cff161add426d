import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Browser } from 'playwright-core'
import { DEFAULT_USER_MESSAGE } from '../../src/steps/conversation.ts'
import { browserAvailable, launchBrowser, watchErrors } from '../helpers/browser.ts'
import { testServer } from '../helpers/test-app.ts'
import { slowTests } from '../helpers/slow-tests.ts'

slowTests()

const TOKEN = 'a-long-enough-access-token-42'
const enabled = browserAvailable('sign-in browser tests')

describe.skipIf(!enabled)('signing in, in a real browser', () => {
  let browser: Browser
  let server: Awaited<ReturnType<typeof testServer>>

  beforeAll(async () => {
    server = await testServer({ authTokens: [TOKEN], echoDelayMs: 5 })
    browser = await launchBrowser()
  })
  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })

  test('a visitor is sent to the sign-in page, signs in under the strict CSP, and chats with the stream on the cookie', async () => {
    const page = await browser.newPage()
    const errors = watchErrors(page)
    await page.goto(`${server.base}/`)
    expect(new URL(page.url()).pathname).toBe('/login')
    await page.locator('#token').fill('not-the-right-token-at-all')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.locator('.notice.warn').waitFor()
    expect(await page.locator('.notice.warn').textContent()).toContain('That token is not right')
    await page.locator('#token').fill(TOKEN)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('button', { name: 'Start New Chat' }).click()
    await page.waitForURL(/\/\?client_id=[A-Za-z0-9_-]{22}$/)
    await page.locator('.answer.final').waitFor({ timeout: 15_000 })
    expect(await page.locator('.msg.assistant .answer .text').allInnerTexts()).toEqual([DEFAULT_USER_MESSAGE])
    expect(await page.locator('#connection').textContent()).toBe('live')
    // The wrong token's 401 page is an answer the browser logs as a failed load; nothing else may be.
    expect(errors.filter((error) => !error.includes('401'))).toEqual([])
    await page.close()
  })
})
