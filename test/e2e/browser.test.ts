import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Browser, Page } from 'playwright-core'
import { DEFAULT_USER_MESSAGE } from '../../src/steps/conversation.ts'
import { browserAvailable, launchBrowser, leaveScreenshot, watchErrors } from '../helpers/browser.ts'
import { HeldStep } from '../helpers/held-step.ts'
import { TcpProxy } from '../helpers/tcp-proxy.ts'
import { startChat } from '../helpers/start-chat.ts'
import { testServer } from '../helpers/test-app.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { until } from '../helpers/wait.ts'

slowTests()

const enabled = browserAvailable('browser tests')

describe.skipIf(!enabled)('in a real browser', () => {
  let browser: Browser
  let server: Awaited<ReturnType<typeof testServer>>
  // Tests that act while a run is going (its buttons, a cancel, a pulled cable) use this server: its answers hold
  // after 20 characters until the test releases them, so the answer never ends before the test acts.
  const held = new HeldStep(20)
  let heldServer: Awaited<ReturnType<typeof testServer>>
  let proxy: TcpProxy
  let viaProxy: string

  beforeAll(async () => {
    server = await testServer({ echoDelayMs: 5 })
    heldServer = await testServer({ step: held })
    proxy = new TcpProxy(heldServer.app.server!.port!)
    viaProxy = `http://127.0.0.1:${await proxy.start()}`
    browser = await launchBrowser()
  })
  afterAll(async () => {
    await browser?.close()
    proxy?.stop()
    await server?.close()
    await heldServer?.close()
  })

  async function open(url: string): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage()
    const errors = watchErrors(page)
    await page.goto(url)
    return { page, errors }
  }
  /** Waits for the `nth` element matching `selector`; on timeout, says what the page showed instead. */
  async function waitFor(page: Page, selector: string, nth = 0, timeout = 15_000) {
    try {
      await page.locator(selector).nth(nth).waitFor({ timeout })
    } catch {
      const state = await page.evaluate(() => ({
        connection: document.getElementById('connection')?.textContent,
        run: document.getElementById('run-status')?.dataset.state,
        transcript: document.getElementById('transcript')?.innerHTML.slice(-600),
      }))
      throw new Error(`no ${selector} #${nth} on ${page.url()} after ${timeout} ms: ${JSON.stringify(state)}`)
    }
  }
  const answers = (page: Page) => page.locator('.msg.assistant .answer .text')
  const lastAnswer = (page: Page) => page.locator('.msg.assistant .answer').last()
  async function send(page: Page, text: string) {
    await page.locator('#message').fill(text)
    await page.locator('#message').press('Enter')
  }
  /** Records every state the `index`th answer's text goes through, to prove it only ever grows as a prefix. */
  async function recordAnswerStates(page: Page, index: number) {
    await page.evaluate((index) => {
      const states: string[] = []
      ;(window as unknown as { answerStates: string[] }).answerStates = states
      new MutationObserver(() => {
        const text = document.querySelectorAll('.msg.assistant .answer .text')[index]
        if (text) states.push((text as HTMLElement).innerText)
      }).observe(document.getElementById('transcript')!, { subtree: true, childList: true, characterData: true })
    }, index)
  }
  const answerStates = (page: Page) => page.evaluate(() => (window as unknown as { answerStates: string[] }).answerStates)
  /** Opens a chat on the held server (or through `base`, a proxy to it) and lets its first answer finish. */
  async function heldChat(base = heldServer.base) {
    const opened = await open(await startChat(base))
    await held.held()
    held.release()
    await waitFor(opened.page, '.answer.final')
    return opened
  }

  test('Start New Chat streams the default answer once, in order, and the URL names the session', async () => {
    const { page, errors } = await open(`${server.base}/`)
    await page.getByRole('button', { name: 'Start New Chat' }).click()
    await page.waitForURL(/\/\?client_id=[A-Za-z0-9_-]{22}$/)
    await waitFor(page, '.answer.final')
    expect(await answers(page).allInnerTexts()).toEqual([DEFAULT_USER_MESSAGE])
    expect(await page.locator('.msg.user .text').allInnerTexts()).toEqual([DEFAULT_USER_MESSAGE])
    expect(await page.locator('#connection').textContent()).toBe('live')
    expect(errors).toEqual([])
    await leaveScreenshot(page, 'start-chat')
  })

  test('the stream connects even when the SSE extension arrives late (script order is not a race)', async () => {
    const page = await browser.newPage()
    const errors = watchErrors(page)
    // The extension is held until htmx itself has run: it arrives after the library it extends, which a slow network
    // may do, and what a page that initialised htmx before its extensions were in would miss.
    await page.route('**/assets/hx-sse.min.js*', async (route) => {
      await until(() => page.evaluate(() => 'htmx' in window).catch(() => false), { what: 'htmx to run before its SSE extension arrives' })
      await route.continue()
    })
    await page.goto(await startChat(server.base))
    await waitFor(page, '.answer.final')
    expect(await page.locator('#connection').textContent()).toBe('live')
    expect(errors).toEqual([])
    await leaveScreenshot(page, 'late-extension')
  })

  test('a copied URL shows the same transcript, and a message typed in one tab streams into both', async () => {
    const { page: first, errors } = await open(await startChat(server.base))
    await waitFor(first, '.answer.final')
    const { page: second } = await open(first.url())
    expect(await answers(second).allInnerTexts()).toEqual([DEFAULT_USER_MESSAGE])
    await send(first, 'seen in both tabs')
    for (const page of [first, second]) {
      await waitFor(page, '.answer.final', 1)
      expect(await answers(page).allInnerTexts()).toEqual([DEFAULT_USER_MESSAGE, 'seen in both tabs'])
      expect(await page.locator('.msg.user .text').allInnerTexts()).toEqual([DEFAULT_USER_MESSAGE, 'seen in both tabs'])
    }
    expect(await first.locator('#message').inputValue()).toBe('')
    expect(errors).toEqual([])
    await leaveScreenshot(first, 'two-tabs-first')
    await leaveScreenshot(second, 'two-tabs-second')
  })

  test('Enter sends, Shift+Enter makes a new line; Send is disabled and Cancel shown while a run is active', async () => {
    const { page, errors } = await heldChat()
    await expect(page.locator('#cancel').isHidden()).resolves.toBe(true)
    const text = 'the first line is long\nand the second one too'
    const [first, second] = text.split('\n') as [string, string]
    await page.locator('#message').fill(first)
    await page.locator('#message').press('Shift+Enter')
    await page.locator('#message').pressSequentially(second)
    expect(await page.locator('#message').inputValue()).toBe(text)
    await page.locator('#message').press('Enter')
    await held.held()
    await waitFor(page, '.answer.running')
    expect(await page.locator('#send').isDisabled()).toBe(true)
    expect(await page.locator('#cancel').isVisible()).toBe(true)
    held.release()
    await waitFor(page, '.answer.final', 1)
    expect(await answers(page).last().innerText()).toBe(text)
    expect(await page.locator('#send').isDisabled()).toBe(false)
    expect(await page.locator('#cancel').isHidden()).toBe(true)
    expect(errors).toEqual([])
    await leaveScreenshot(page, 'enter-and-buttons')
  })

  test('Cancel stops the answer with an interrupted mark, and the next message works', async () => {
    // The run holds after a few characters until cancelled, so the click never races the end of the answer.
    const { page, errors } = await open(await startChat(heldServer.base))
    await held.held()
    await page.locator('#cancel').click()
    await waitFor(page, '.answer.interrupt')
    expect(await lastAnswer(page).textContent()).toContain('interrupted')
    const cut = await answers(page).first().innerText()
    expect(DEFAULT_USER_MESSAGE.startsWith(cut)).toBe(true)
    expect(cut.length).toBeLessThan(DEFAULT_USER_MESSAGE.length)
    await send(page, 'after cancel: a message longer than what is streamed before the hold')
    await held.held()
    held.release()
    await waitFor(page, '.answer.final')
    expect(await answers(page).last().innerText()).toBe('after cancel: a message longer than what is streamed before the hold')
    expect(errors).toEqual([])
    await leaveScreenshot(page, 'cancel')
  })

  test('a pulled cable: reconnecting, then live, and the answer is neither missing nor doubled', async () => {
    const { page } = await heldChat(viaProxy)
    const id = new URL(page.url()).searchParams.get('client_id')!
    await recordAnswerStates(page, 1)
    const text = 'the network goes away in the middle of this sentence and then comes back again'
    await send(page, text)
    await held.held()
    await page.waitForFunction(() => (document.querySelectorAll('.answer .text')[1]?.textContent?.length ?? 0) >= 20)
    proxy.cut()
    await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'reconnecting', null, { timeout: 10_000 })
    // The rest of the answer is stored while the page is cut off: it must come with the reconnect, once, in order.
    held.release()
    const events = async () => (await (await fetch(`${heldServer.base}/api/sessions/${id}/events`)).json()) as { type: string }[]
    await until(async () => (await events()).at(-1)?.type === 'final', { what: 'the answer to end while the cable is out' })
    proxy.restore()
    await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'live', null, { timeout: 20_000 })
    await waitFor(page, '.answer.final', 1, 20_000)
    expect(await answers(page).allInnerTexts()).toEqual([DEFAULT_USER_MESSAGE, text])
    const states = await answerStates(page)
    expect(states.length).toBeGreaterThan(10)
    for (const state of states) expect(text.startsWith(state)).toBe(true)
    await leaveScreenshot(page, 'pulled-cable')
  }, 60_000)
})
