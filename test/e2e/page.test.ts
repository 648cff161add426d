import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { browserAvailable, launchBrowser, leaveScreenshot, watchErrors } from '../helpers/browser.ts'
import { lowContrast } from '../helpers/contrast.ts'
import { HeldModel } from '../helpers/held-model.ts'
import { HELD_AFTER, HOLD, MARKDOWN_ANSWER, ScriptedStep } from '../helpers/scripted-step.ts'
import { freePort, spawnServer, type SpawnedServer } from '../helpers/spawn-server.ts'
import { startChat } from '../helpers/start-chat.ts'
import { testServer } from '../helpers/test-app.ts'
import { slowTests } from '../helpers/slow-tests.ts'

slowTests()

const enabled = browserAvailable('page tests')
const shots = join(import.meta.dir, '../../test-results')

describe.skipIf(!enabled)('the page people use', () => {
  let browser: Browser
  let context: BrowserContext
  let server: Awaited<ReturnType<typeof testServer>>
  // Its answers that must still be streaming when the test looks are sent with HOLD, and released by the test.
  const scripted = new ScriptedStep()

  beforeAll(async () => {
    server = await testServer({ step: scripted })
    browser = await launchBrowser()
    context = await browser.newContext()
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.base })
  })
  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })

  /** A page whose CSP violations, page errors and console errors are collected for the test to assert empty. */
  async function open(url: string, where: BrowserContext = context): Promise<{ page: Page; errors: string[] }> {
    const page = await where.newPage()
    const errors = watchErrors(page)
    await page.exposeFunction('reportViolation', (v: string) => errors.push(`csp: ${v}`))
    await page.addInitScript(() =>
      document.addEventListener('securitypolicyviolation', (e) =>
        (window as unknown as { reportViolation: (v: string) => void }).reportViolation(`${e.violatedDirective} ${e.blockedURI}`),
      ),
    )
    await page.goto(url)
    return { page, errors }
  }
  async function chat(where?: BrowserContext) {
    const opened = await open(`${server.base}/`, where)
    await opened.page.getByRole('button', { name: 'Start New Chat' }).click()
    await opened.page.locator('.answer.final').first().waitFor()
    return opened
  }
  async function send(page: Page, text: string) {
    await page.locator('#message').fill(text)
    await page.locator('#message').press('Enter')
  }
  const finals = (page: Page, n: number) =>
    page
      .locator('.answer.final, .answer.error, .answer.interrupt')
      .nth(n - 1)
      .waitFor()

  test('tool calls and results are collapsible blocks with pretty JSON; errors stand apart', async () => {
    const { page, errors } = await chat()
    await send(page, 'tools')
    await finals(page, 2)
    const tool = page.locator('details.tool')
    expect(await tool.count()).toBe(1)
    expect(await tool.getAttribute('open')).toBeNull()
    await tool.locator('summary').click()
    expect(await tool.locator('pre').first().innerText()).toBe('{\n  "a": 2,\n  "b": 3,\n  "note": "<b>not bold</b>"\n}')
    expect(await tool.locator('.tool-result pre').innerText()).toBe('{\n  "sum": 5\n}')
    await send(page, 'error')
    await finals(page, 3)
    const failed = page.locator('.answer.error')
    expect(await failed.locator('[role=alert]').innerText()).toBe('The model service answered 503: try again in a minute.')
    expect(await failed.evaluate((el) => getComputedStyle(el).borderLeftStyle)).toBe('solid')
    expect(errors).toEqual([])
    await leaveScreenshot(page, 'tools-and-errors')
  })

  test('a finished answer is rendered Markdown; while streaming it is plain text', async () => {
    const { page, errors } = await chat()
    await send(page, `${HOLD}markdown`)
    await scripted.held()
    await page.locator('.answer.running .text').filter({ hasText: '## Plan' }).waitFor()
    expect(await page.locator('.answer.running h2').count()).toBe(0)
    scripted.release()
    await finals(page, 2)
    const answer = page.locator('.answer.final').last()
    expect(await answer.locator('h2').innerText()).toBe('Plan')
    expect(await answer.locator('li').allInnerTexts()).toEqual(['first', 'second'])
    expect(await answer.locator('a').getAttribute('target')).toBe('_blank')
    expect(await answer.locator('pre code').innerText()).toBe('const x = 1 < 2\n')
    await answer.locator('..').locator('.copy').click()
    expect(await page.evaluate(() => navigator.clipboard.readText())).toContain('const x = 1 < 2')
    expect(MARKDOWN_ANSWER).toContain('## Plan')
    expect(errors).toEqual([])
    await leaveScreenshot(page, 'markdown')
  })

  test('hostile text from a user or a model renders as text', async () => {
    const { page, errors } = await chat()
    const hostile = '<img src=x onerror="window.owned=1"><script>window.owned=2</script>'
    await send(page, hostile)
    await finals(page, 2)
    expect(await page.locator('#transcript img, #transcript script').count()).toBe(0)
    expect(await page.locator('.msg.user .text').last().innerText()).toBe(hostile)
    expect(await page.locator('.answer.final .text').last().innerText()).toBe(hostile)
    expect(await page.evaluate(() => (window as unknown as { owned?: number }).owned)).toBeUndefined()
    expect(errors).toEqual([])
    await leaveScreenshot(page, 'hostile-text')
  })

  test('the indicator says offline while the browser is offline, and live again after', async () => {
    const where = await browser.newContext()
    const { page, errors } = await chat(where)
    expect(await page.locator('#connection').textContent()).toBe('live')
    await where.setOffline(true)
    await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'offline')
    await where.setOffline(false)
    await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'live')
    await send(page, 'back online')
    await finals(page, 2)
    expect(errors).toEqual([])
    await leaveScreenshot(page, 'offline-and-back')
    await where.close()
  })

  test('reload mid-answer: the transcript comes back complete and the answer continues, nothing doubled', async () => {
    const { page, errors } = await chat()
    const text = 'a reload in the middle of this answer must not lose or double a single character'
    await send(page, `${HOLD}${text}`)
    await scripted.held()
    await page.waitForFunction((n) => (document.querySelectorAll('.answer .text')[1]?.textContent?.length ?? 0) >= n, HELD_AFTER)
    await page.reload()
    const resumed = await page.locator('.answer .text').nth(1).innerText()
    expect(resumed).toBe(text.slice(0, HELD_AFTER))
    scripted.release()
    await finals(page, 2)
    expect(await page.locator('.answer .text').nth(1).innerText()).toBe(text)
    expect(await page.locator('.msg.user').count()).toBe(2)
    expect(errors).toEqual([])
    await leaveScreenshot(page, 'reload-mid-answer')
  })

  test('the landing page lists this browser’s recent chats, and only them', async () => {
    const own = await browser.newContext()
    const { page } = await chat(own)
    const id = new URL(page.url()).searchParams.get('client_id')!
    // An entry whose id does not have the server's id shape (data-id-pattern on the page) is never listed.
    await page.evaluate(() => {
      const list = JSON.parse(localStorage.getItem('stepstream.recent') ?? '[]')
      list.push({ id: '../forged?x=1', title: 'forged', at: new Date().toISOString() })
      localStorage.setItem('stepstream.recent', JSON.stringify(list))
    })
    await page.goto(`${server.base}/`)
    const recent = page.locator('#recent')
    await recent.waitFor()
    expect(await recent.locator('a').count()).toBe(1)
    expect(await recent.locator('a').first().getAttribute('href')).toBe(`/?client_id=${id}`)
    expect(await recent.locator('a').first().innerText()).toBe('Hello! Please tell me a short story about a robot.')
    const stranger = await browser.newContext()
    const other = await stranger.newPage()
    await other.goto(`${server.base}/`)
    expect(await other.locator('#recent').isHidden()).toBe(true)
    await leaveScreenshot(page, 'recent-chats')
    await own.close()
    await stranger.close()
  })

  test('auto-scroll follows the stream until the reader scrolls up; then "jump to latest" appears', async () => {
    const { page, errors } = await chat()
    await page.setViewportSize({ width: 800, height: 400 })
    for (let i = 0; i < 3; i++) {
      await send(page, `message ${i} `.repeat(8))
      await finals(page, i + 2)
    }
    const atBottom = () => page.evaluate(() => window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 80)
    expect(await atBottom()).toBe(true)
    await send(page, `${HOLD}the reader scrolls away while this streams in, and it goes on for quite a while longer`)
    await scripted.held()
    await page.locator('.answer.running').waitFor()
    await page.mouse.wheel(0, -2000)
    await page.waitForFunction(() => window.innerHeight + window.scrollY < document.documentElement.scrollHeight - 80)
    // What streams in after the reader scrolled away brings the button.
    scripted.release()
    await page.locator('#jump').waitFor()
    expect(await atBottom()).toBe(false)
    await page.locator('#jump').click()
    expect(await page.locator('#jump').isHidden()).toBe(true)
    await finals(page, 5)
    expect(await atBottom()).toBe(true)
    expect(errors).toEqual([])
    await leaveScreenshot(page, 'auto-scroll')
  })

  test('keyboard only: start a chat, send a message, cancel a run', async () => {
    const { page, errors } = await open(`${server.base}/`)
    const focusOn = async (selector: string) => {
      for (let i = 0; i < 15 && !(await page.locator(selector).evaluate((el) => el === document.activeElement)); i++)
        await page.keyboard.press('Tab')
      expect(await page.locator(selector).evaluate((el) => el === document.activeElement)).toBe(true)
    }
    await focusOn('button.primary')
    await page.keyboard.press('Enter')
    await page.locator('.answer.final').waitFor()
    await focusOn('#message')
    // Held: the run is still going whatever the time the keys take.
    await page.keyboard.type(`${HOLD}typed without a mouse, and held until cancelled`)
    await page.keyboard.press('Enter')
    await scripted.held()
    await page.locator('#cancel:not([hidden])').waitFor()
    await focusOn('#cancel')
    await page.keyboard.press('Enter')
    await page.locator('.answer.interrupt').waitFor()
    expect(errors).toEqual([])
    await leaveScreenshot(page, 'keyboard-only')
  })

  for (const scheme of ['light', 'dark'] as const) {
    test(`text meets WCAG AA contrast in ${scheme} mode, at desktop and 360 px phone width`, async () => {
      for (const viewport of [
        { name: 'desktop', width: 1280, height: 800 },
        { name: 'phone', width: 360, height: 740 },
      ]) {
        const where = await browser.newContext({ colorScheme: scheme, viewport })
        const { page, errors } = await chat(where)
        await send(page, 'tools')
        await finals(page, 2)
        await page.locator('details.tool summary').click()
        expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(viewport.width)
        const low = await page.evaluate(
          lowContrast,
          '.text, time, .run-state, .run-error, .connection, .run-indicator, button, summary, .brand, textarea, .notice, pre',
        )
        expect(low).toEqual([])
        await page.screenshot({ path: join(shots, `screenshot-${viewport.name}-${scheme}.png`), fullPage: viewport.name === 'phone' })
        expect(errors).toEqual([])
        await where.close()
      }
    })
  }
})

describe.skipIf(!enabled)('a server restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stepstream-restart-'))
  const port = freePort()
  // The stop must land mid-answer, whatever the load: the answers come from a model server the test holds (the
  // production openai step against it), which streams 6 characters and then waits for the test.
  const model = new HeldModel(6)
  const args = ['--store', `sqlite:${join(dir, 'db.sqlite')}`, ...model.flags]
  let server: SpawnedServer
  let browser: Browser

  beforeAll(async () => {
    browser = await launchBrowser()
    server = await spawnServer([process.execPath, 'src/main.ts'], { cwd: join(import.meta.dir, '../..'), args, port })
  })
  afterAll(async () => {
    await browser?.close()
    await server?.stop()
    await model.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    test(`${signal} mid-answer, start again on the same database: reconnecting, then live; the cut answer is marked interrupted; the next message works`, async () => {
      const page = await browser.newPage()
      const errors = watchErrors(page)
      await page.goto(await startChat(server.base))
      await model.held()
      await page.waitForFunction(() => (document.querySelector('.answer .text')?.textContent?.length ?? 0) >= 6)
      const streamed = await page.locator('.answer .text').first().innerText()
      // SIGTERM: the server interrupts the run itself. SIGKILL: crash recovery interrupts it at the next start.
      expect(await server.stop(signal)).toBe(signal === 'SIGTERM' ? 0 : 137)
      await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'reconnecting', null, { timeout: 10_000 })
      server = await spawnServer([process.execPath, 'src/main.ts'], { cwd: join(import.meta.dir, '../..'), args, port })
      await page.waitForFunction(() => document.getElementById('connection')?.textContent === 'live', null, { timeout: 20_000 })
      await page.locator('.answer.interrupt').waitFor({ timeout: 10_000 })
      expect(await page.locator('.answer.interrupt .run-state').innerText()).toBe('interrupted')
      expect((await page.locator('.answer.interrupt .text').innerText()).startsWith(streamed)).toBe(true)
      await page.locator('#message').fill(`after the ${signal}`)
      await page.locator('#message').press('Enter')
      await model.held(`after the ${signal}`)
      model.release()
      await page.locator('.answer.final').waitFor()
      expect(await page.locator('.answer.final .text').innerText()).toBe(`after the ${signal}`)
      // Either way a reconnect that comes before the new process listens is refused (how soon it comes is the
      // retry's jitter against the restart's speed on a loaded machine). A killed process also tears its streams
      // mid-chunk: Chromium reports the torn response and htmx the network error. A stopped process closes its streams
      // cleanly, so for SIGTERM a torn stream fails the test.
      const refused = /^console: (htmx: htmx:sse:error: Failed to fetch|Failed to load resource: net::ERR_CONNECTION_REFUSED)/
      const torn = /^console: (htmx: htmx:sse:error: network error|Failed to load resource: net::ERR_INCOMPLETE_CHUNKED_ENCODING)/
      expect(errors.filter((e) => !refused.test(e) && (signal === 'SIGTERM' || !torn.test(e)))).toEqual([])
      await leaveScreenshot(page, `server-restart-${signal}`)
    }, 60_000)
  }
})
