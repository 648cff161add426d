import { describe, expect, test } from 'bun:test'
import type { BrowserContext, Page } from 'playwright-core'
import { browserAvailable, leaveScreenshot, watchErrors } from '../helpers/browser.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { browserAndServer } from '../helpers/browser-server.ts'
import { until } from '../helpers/wait.ts'

slowTests()

const enabled = browserAvailable('chat list tests')

/** Issue 23, in a real browser: the list of this browser's chats, the tab's title, rename and delete. */
describe.skipIf(!enabled)('the chats of this browser', () => {
  const env = browserAndServer()

  async function open(context: BrowserContext, path: string): Promise<{ page: Page; errors: string[] }> {
    const page = await context.newPage()
    const errors = watchErrors(page)
    // Delete asks first; the test says yes.
    page.on('dialog', (dialog) => void dialog.accept())
    await page.goto(`${env.server.base}${path}`)
    return { page, errors }
  }
  /** A new chat from the landing page, its first message sent; answers its id. */
  async function newChat(page: Page, text: string): Promise<string> {
    await page.goto(`${env.server.base}/`)
    await page.getByRole('button', { name: 'Start New Chat' }).click()
    await page.locator('.answer.final').first().waitFor()
    await page.locator('#message').fill(text)
    await page.locator('#message').press('Enter')
    await page.locator('.answer.final').nth(1).waitFor()
    return new URL(page.url()).searchParams.get('client_id')!
  }
  const listed = (page: Page) => page.locator('#recent li a').allInnerTexts()

  test('the list shows the chats this browser owns, newest first, titled by their first message; the tab shows the title; a read-only visit is kept read-only', async () => {
    const context = await env.browser.newContext()
    const { page, errors } = await open(context, '/')
    const first = await newChat(page, 'ignored: the first message is the default one')
    // A chat started by the page: its title is its first message, in the tab and in the list.
    await until(async () => (await page.title()) === 'Hello! Please tell me a short story about a robot.', { what: 'the tab title' })
    const api = (await (await fetch(`${env.server.base}/api/sessions`, { method: 'POST' })).json()) as { id: string; viewer_id: string }
    await fetch(`${env.server.base}/api/sessions/${api.id}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: '<img src=x onerror=alert(1)> second chat' }),
    })
    // Opened once by its owner link: this browser owns it now, and it is the newest.
    await page.goto(`${env.server.base}/?client_id=${api.id}`)
    expect(await page.title()).toBe('<img src=x onerror=alert(1)> second chat')
    await until(async () => (await listed(page)).length === 2, { what: 'two chats in the list' })
    expect(await listed(page)).toEqual(['<img src=x onerror=alert(1)> second chat', 'Hello! Please tell me a short story about a robot.'])
    expect(await page.locator('#recent img').count()).toBe(0)
    expect(await page.locator('#recent li a').nth(1).getAttribute('href')).toBe(`/?client_id=${first}`)

    // Another browser has a list of its own: a read-only visit keeps the chat by its read-only id, marked, with
    // neither rename nor delete, and the tab says the title.
    const stranger = await env.browser.newContext()
    const other = await open(stranger, `/?view=${api.viewer_id}`)
    expect(await other.page.title()).toBe('<img src=x onerror=alert(1)> second chat (read-only)')
    await other.page.locator('#recent li').first().waitFor()
    expect(await other.page.locator('#recent li a').allInnerTexts()).toEqual(['<img src=x onerror=alert(1)> second chat'])
    expect(await other.page.locator('#recent li a').getAttribute('href')).toBe(`/?view=${api.viewer_id}`)
    expect(await other.page.locator('#recent .chat-actions').count()).toBe(0)
    expect(await other.page.evaluate(() => localStorage.getItem('stepstream.recent'))).not.toContain(api.id)
    expect(other.errors).toEqual([])
    expect(errors).toEqual([])
    await leaveScreenshot(page, 'chat-list')
    await stranger.close()
    await context.close()
  })

  test('rename from the list changes the list and the tab; a bad title shows its sentence; delete removes it everywhere', async () => {
    const context = await env.browser.newContext()
    const { page, errors } = await open(context, '/')
    const id = await newChat(page, 'x')
    await until(async () => (await listed(page)).length === 1, { what: 'the chat in the list' })
    const item = page.locator(`#recent li[data-chat="${id}"]`)
    await item.locator('summary').click()
    // At 1280 pixels the list is a sidebar: its menu's buttons fit in it.
    const rename = (await item.getByRole('button', { name: 'Rename' }).boundingBox())!
    const sidebar = (await page.locator('aside.chats').boundingBox())!
    expect(rename.x + rename.width).toBeLessThanOrEqual(sidebar.x + sidebar.width)
    await item.locator('input[name="title"]').fill('Robots, renamed')
    await item.getByRole('button', { name: 'Rename' }).click()
    await until(async () => (await listed(page))[0] === 'Robots, renamed', { what: 'the renamed chat in the list' })
    await until(async () => (await page.title()) === 'Robots, renamed', { what: 'the tab to follow the rename' })
    expect(((await (await fetch(`${env.server.base}/api/sessions/${id}`)).json()) as { title: string }).title).toBe('Robots, renamed')

    const again = page.locator(`#recent li[data-chat="${id}"]`)
    await again.locator('summary').click()
    await again.locator('input[name="title"]').fill('a'.repeat(50))
    await again.locator('input[name="title"]').evaluate((input: HTMLInputElement) => (input.value = 'two\u0007bells'))
    await again.getByRole('button', { name: 'Rename' }).click()
    await page.locator('#recent [role="alert"]').waitFor()
    expect(await page.locator('#recent [role="alert"]').innerText()).toContain('one line of plain text')
    expect(await listed(page)).toEqual(['Robots, renamed'])

    // Another tab on the same chat, and a read-only visitor, to see what a reader of a chat deleted elsewhere is shown.
    const { page: other, errors: otherErrors } = await open(context, `/?client_id=${id}`)
    await other.locator('#connection[data-state="live"]').waitFor()
    const { viewer_id } = (await (await fetch(`${env.server.base}/api/sessions/${id}`)).json()) as { viewer_id: string }
    const visitor = await env.browser.newContext()
    const watching = await open(visitor, `/?view=${viewer_id}`)
    await watching.page.locator('#connection[data-state="live"]').waitFor()

    // The list's answer to the delete is held until the page's stream has met the delete, so the page cannot leave
    // first (as a quick server lets it): a page that reconnected into the deleted chat would log its 404 by then.
    const connection = (p: Page) => p.locator('#connection').getAttribute('data-state')
    const logged = errors.length
    let noticeWhileLeaving: string | undefined
    await page.route('**/chats/delete', async (route) => {
      const answer = await route.fetch()
      await until(async () => (await connection(page)) === 'gone' || errors.length > logged, { what: 'the deleted chat’s stream to end' })
      noticeWhileLeaving = await page.locator('#notice').innerText()
      await route.fulfill({ response: answer })
    })
    const deleting = page.locator(`#recent li[data-chat="${id}"]`)
    await deleting.locator('summary').click()
    await deleting.getByRole('button', { name: 'Delete' }).click()
    // The page of a deleted chat leaves for the start page, and the browser forgets the chat.
    await page.waitForURL(`${env.server.base}/`)
    expect((await fetch(`${env.server.base}/api/sessions/${id}`)).status).toBe(404)
    expect(await page.evaluate(() => localStorage.getItem('stepstream.recent'))).toBe('[]')
    expect(await page.locator('aside.chats').isHidden()).toBe(true)
    // The bad title's 422, which the browser logs: nothing else.
    expect(errors.filter((e) => !/status of 422/.test(e))).toEqual([])
    // The tab that deleted its chat leaves without a word about a missing session.
    expect(noticeWhileLeaving).toBe('')
    // The other tab and the read-only visitor say the chat is gone and stop: no reconnect into a 404, which the
    // browser would log.
    expect(otherErrors).toEqual([])
    for (const reader of [other, watching.page]) {
      await until(async () => (await connection(reader)) === 'gone', { what: 'each reader to say its chat is gone' })
      expect(await reader.locator('#connection').innerText()).toBe('chat gone')
      expect(await reader.locator('#notice').innerText()).toContain('No chat has that id: it was deleted')
    }
    expect(watching.errors).toEqual([])
    await visitor.close()
    await leaveScreenshot(other, 'chat-deleted-elsewhere')
    await leaveScreenshot(page, 'chat-deleted')
    await context.close()
  })
  test('a tab that missed the delete (hidden then) stops at its first 404 and says the chat is gone', async () => {
    const context = await env.browser.newContext()
    const { page, errors } = await open(context, '/')
    const id = await newChat(page, 'x')
    const connection = () => page.locator('#connection').getAttribute('data-state')
    const streams: number[] = []
    page.on('response', (response) => {
      if (new URL(response.url()).pathname === '/events') streams.push(response.status())
    })
    // A hidden tab's stream is let go (hx-sse pauses in the background), so it hears nothing of the delete.
    const setHidden = (hidden: boolean) =>
      page.evaluate((hidden) => {
        Object.defineProperty(document, 'hidden', { value: hidden, configurable: true })
        document.dispatchEvent(new Event('visibilitychange'))
      }, hidden)
    await setHidden(true)
    expect((await fetch(`${env.server.base}/api/sessions/${id}`, { method: 'DELETE' })).status).toBe(204)
    expect(streams).toEqual([])
    await setHidden(false)
    await until(async () => (await connection()) === 'gone', { what: 'the page to stop at the 404', describe: () => streams })
    expect(await page.locator('#connection').innerText()).toBe('chat gone')
    expect(await page.locator('#notice').innerText()).toBe('This chat no longer exists: it was deleted, or it expired.')
    // One 404, which the browser logs once (with htmx's note of it), and no reconnect after it.
    expect(streams).toEqual([404])
    expect(errors.filter((e) => !/404/.test(e))).toEqual([])
    await leaveScreenshot(page, 'chat-gone-after-offline')
    await context.close()
  })
  test('by keyboard: Start New Chat leaves the cursor in the message box; Escape closes a chat’s menu and returns to its button', async () => {
    const context = await env.browser.newContext()
    const { page, errors } = await open(context, '/')
    await page.getByRole('button', { name: 'Start New Chat' }).focus()
    await page.keyboard.press('Enter')
    await page.locator('.answer.final').first().waitFor()
    await until(async () => page.evaluate(() => document.activeElement?.id === 'message'), { what: 'the message box to have the focus' })
    await page.keyboard.type('typed at once')
    expect(await page.locator('#message').inputValue()).toBe('typed at once')

    await page.locator('#recent li summary').first().waitFor()
    const summary = page.locator('#recent li summary').first()
    await summary.focus()
    await page.keyboard.press('Enter')
    await page.locator('#recent details[open] input[name="title"]').focus()
    await page.keyboard.press('Escape')
    expect(await page.locator('#recent details[open]').count()).toBe(0)
    expect(await page.evaluate(() => document.activeElement?.tagName)).toBe('SUMMARY')
    expect(errors).toEqual([])
    await leaveScreenshot(page, 'keyboard-new-chat')
    await context.close()
  })
  test('a rename in one tab shows in the other tabs of the browser: their list and, on that chat, their tab’s title', async () => {
    const context = await env.browser.newContext()
    const { page, errors } = await open(context, '/')
    const id = await newChat(page, 'x')
    const { page: other, errors: otherErrors } = await open(context, `/?client_id=${id}`)
    await other.locator(`#recent li[data-chat="${id}"]`).waitFor()
    const item = page.locator(`#recent li[data-chat="${id}"]`)
    await item.locator('summary').click()
    await item.locator('input[name="title"]').fill('Renamed elsewhere')
    await item.getByRole('button', { name: 'Rename' }).click()
    await until(async () => (await other.locator('#recent li a').allInnerTexts())[0] === 'Renamed elsewhere', {
      what: 'the other tab’s list to show the new title',
    })
    await until(async () => (await other.title()) === 'Renamed elsewhere', { what: 'the other tab’s title to follow' })
    expect([...errors, ...otherErrors]).toEqual([])
    await leaveScreenshot(other, 'renamed-in-another-tab')
    await context.close()
  })
  test('a tab with a chat’s menu open keeps what is typed in it when another tab renames; its list follows once it closes', async () => {
    const context = await env.browser.newContext()
    const { page } = await open(context, '/')
    const id = await newChat(page, 'x')
    const { page: other } = await open(context, `/?client_id=${id}`)
    const theirs = other.locator(`#recent li[data-chat="${id}"]`)
    await theirs.locator('summary').click()
    await theirs.locator('input[name="title"]').fill('half-typed')
    const item = page.locator(`#recent li[data-chat="${id}"]`)
    await item.locator('summary').click()
    await item.locator('input[name="title"]').fill('Renamed meanwhile')
    await item.getByRole('button', { name: 'Rename' }).click()
    await page.locator('#recent li a', { hasText: 'Renamed meanwhile' }).waitFor()
    // The other tab heard of it (its list is stale) but keeps the menu as it is.
    expect(await theirs.locator('input[name="title"]').inputValue()).toBe('half-typed')
    await theirs.locator('input[name="title"]').focus()
    await other.keyboard.press('Escape')
    await other.locator('#recent li a', { hasText: 'Renamed meanwhile' }).waitFor()
    await context.close()
  })

  test('two tabs streaming two chats do not take the top of the list from each other at every event', async () => {
    const context = await env.browser.newContext()
    const { page } = await open(context, '/')
    const first = await newChat(page, 'x')
    const { page: other } = await open(context, '/')
    await newChat(other, 'y')
    await page.goto(`${env.server.base}/?client_id=${first}`)
    await page.locator('.answer.final').nth(1).waitFor()
    const asked: string[] = []
    for (const tab of [page, other]) {
      tab.on('request', (request) => {
        if (new URL(request.url()).pathname === '/chats') asked.push(request.url())
      })
    }
    const long = 'a message long enough for its echo to stream for a while, one character at a time. '.repeat(4)
    for (const tab of [page, other]) {
      await tab.locator('#message').fill(long)
      await tab.locator('#message').press('Enter')
    }
    for (const tab of [page, other]) await tab.locator('.answer.final').nth(2).waitFor()
    // Neither asks for the list again: nothing in it changed (it did, once per streamed event, taking the top in turn).
    expect(asked).toEqual([])
    await context.close()
  })
})
