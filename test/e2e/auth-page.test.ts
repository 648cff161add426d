import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Browser } from 'playwright-core'
import { browserAvailable, launchBrowser, leaveScreenshot, watchErrors } from '../helpers/browser.ts'
import { HELD_AFTER, HOLD, ScriptedStep } from '../helpers/scripted-step.ts'
import { testServer } from '../helpers/test-app.ts'
import { slowTests } from '../helpers/slow-tests.ts'

slowTests()

const TOKEN = 'auth-page-test-token-0123456789'
const bearer = { authorization: `Bearer ${TOKEN}` }
const enabled = browserAvailable('auth page tests')

describe.skipIf(!enabled)('with auth on, in a real browser', () => {
  let browser: Browser
  let server: Awaited<ReturnType<typeof testServer>>
  const scripted = new ScriptedStep()

  beforeAll(async () => {
    server = await testServer({ authTokens: [TOKEN], step: scripted })
    browser = await launchBrowser()
  })
  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })

  test('a read-only link opens in a fresh browser (no cookie) and shows the chat live, with nothing to sign out of', async () => {
    const made = (await (await fetch(`${server.base}/api/sessions`, { method: 'POST', headers: bearer })).json()) as {
      id: string
      view_url: string
    }
    const fresh = await browser.newContext()
    const page = await fresh.newPage()
    const errors = watchErrors(page)
    await page.goto(`${server.base}${made.view_url}`)
    expect(new URL(page.url()).pathname).toBe('/')
    expect(await page.locator('.viewer-note').innerText()).toContain('Read-only')
    await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'live')
    expect(await page.locator('#sign-out').count()).toBe(0)

    // The owner asks with the token; the stranger's page streams the answer as it is written.
    const question = 'who is watching?'
    const sent = await fetch(`${server.base}/api/sessions/${made.id}/messages`, {
      method: 'POST',
      headers: { ...bearer, 'content-type': 'application/json' },
      body: JSON.stringify({ text: `${HOLD}${question}` }),
    })
    expect(sent.status).toBe(202)
    await scripted.held()
    await page.waitForFunction((n) => (document.querySelector('.answer.running .text')?.textContent?.length ?? 0) >= n, HELD_AFTER)
    scripted.release()
    await page.locator('.answer.final').waitFor()
    expect(await page.locator('.answer.final .text').innerText()).toBe(question)
    expect(await fresh.cookies()).toEqual([])
    expect(await page.content()).not.toContain(made.id)
    expect(errors).toEqual([])
    await leaveScreenshot(page, 'read-only-with-auth')
    await fresh.close()
  })

  test('sign in, then Sign out (from the keyboard): back to the sign-in page, and the old cookie opens nothing', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    const errors = watchErrors(page)
    await page.goto(`${server.base}/`)
    await page.locator('#token').fill(TOKEN)
    await page.getByRole('button', { name: 'Sign in' }).click()
    const signOut = page.getByRole('button', { name: 'Sign out' })
    await signOut.waitFor()
    const [cookie] = await context.cookies()
    expect(cookie?.name).toBe('stepstream_auth')
    const withOldCookie = () => fetch(`${server.base}/metrics`, { headers: { cookie: `${cookie!.name}=${cookie!.value}` } })
    expect((await withOldCookie()).status).toBe(200)

    await signOut.focus()
    await page.keyboard.press('Enter')
    await page.waitForURL((url) => url.pathname === '/login')
    await page.locator('#token').waitFor()
    expect(await context.cookies()).toEqual([])
    // The sign-in ended on the server: a copy of the cookie kept elsewhere is refused too.
    expect((await withOldCookie()).status).toBe(401)
    await page.goto(`${server.base}/`)
    expect(new URL(page.url()).pathname).toBe('/login')
    expect(errors).toEqual([])
    await leaveScreenshot(page, 'signed-out')
    await context.close()
  })
})
