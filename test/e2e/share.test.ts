import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { browserAvailable, launchBrowser, leaveScreenshot, watchErrors } from '../helpers/browser.ts'
import { HELD_AFTER, HOLD, ScriptedStep } from '../helpers/scripted-step.ts'
import { testServer } from '../helpers/test-app.ts'
import { slowTests } from '../helpers/slow-tests.ts'

slowTests()

const enabled = browserAvailable('share tests')

describe.skipIf(!enabled)('a read-only link, in a real browser', () => {
  let browser: Browser
  let server: Awaited<ReturnType<typeof testServer>>
  // The run the viewer watches holds part-way until the test has seen it streaming there.
  const scripted = new ScriptedStep()

  beforeAll(async () => {
    server = await testServer({ step: scripted })
    browser = await launchBrowser()
  })
  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })

  /** A page whose CSP violations, page errors and console errors are collected, and every URL it asked for. */
  async function open(context: BrowserContext, url: string): Promise<{ page: Page; errors: string[]; requests: string[] }> {
    const page = await context.newPage()
    const errors = watchErrors(page)
    const requests: string[] = []
    page.on('request', (request) => requests.push(request.url()))
    await page.exposeFunction('reportViolation', (v: string) => errors.push(`csp: ${v}`))
    await page.addInitScript(() =>
      document.addEventListener('securitypolicyviolation', (e) =>
        (window as unknown as { reportViolation: (v: string) => void }).reportViolation(`${e.violatedDirective} ${e.blockedURI}`),
      ),
    )
    await page.goto(url)
    return { page, errors, requests }
  }

  test('the owner copies the read-only link; a second page watches a run stream there with no controls, and keeps it', async () => {
    const ownerContext = await browser.newContext()
    await ownerContext.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.base })
    const owner = await open(ownerContext, `${server.base}/`)
    await owner.page.getByRole('button', { name: 'Start New Chat' }).click()
    await owner.page.locator('.answer.final').first().waitFor()
    const ownerId = new URL(owner.page.url()).searchParams.get('client_id')!

    await owner.page.getByRole('button', { name: 'Copy read-only link' }).click()
    await owner.page.getByRole('button', { name: 'Link copied' }).waitFor()
    const link = await owner.page.evaluate(() => navigator.clipboard.readText())
    expect(link).toMatch(new RegExp(`^${server.base}/\\?view=[A-Za-z0-9_-]{22}$`))
    const viewerId = new URL(link).searchParams.get('view')!

    // A colleague's browser: another context, so nothing of the owner's storage or cookies is there.
    const colleague = await browser.newContext()
    const viewer = await open(colleague, link)
    await viewer.page.locator('.answer.final').first().waitFor()
    expect(await viewer.page.locator('.viewer-note').innerText()).toContain('Read-only')
    for (const control of ['#composer', '#message', '#send', '#cancel', '#copy-view-link'])
      expect(await viewer.page.locator(control).count()).toBe(0)

    // The owner asks again; the viewer's page streams the answer as it is written, then shows it finished.
    await viewer.page.evaluate(() => {
      const seen: string[] = []
      ;(window as unknown as { seen: string[] }).seen = seen
      new MutationObserver(() => {
        const answer = document.querySelectorAll('.msg.assistant .answer')[1]
        if (answer) seen.push(`${answer.getAttribute('data-state')}:${answer.textContent}`)
      }).observe(document.getElementById('transcript')!, { subtree: true, childList: true, characterData: true })
    })
    const question = 'is anyone watching this?'
    await owner.page.locator('#message').fill(`${HOLD}${question}`)
    await owner.page.locator('#message').press('Enter')
    await scripted.held()
    await viewer.page.waitForFunction(
      (n) => (document.querySelectorAll('.msg.assistant .answer.running .text')[0]?.textContent?.length ?? 0) >= n,
      HELD_AFTER,
    )
    scripted.release()
    await viewer.page.locator('.answer.final').nth(1).waitFor()
    const seen = await viewer.page.evaluate(() => (window as unknown as { seen: string[] }).seen)
    const streaming = seen.filter((s) => s.startsWith('running:') && s.length > 'running:'.length)
    expect(streaming.length).toBeGreaterThan(0)
    for (const state of streaming) expect(question.startsWith(state.slice('running:'.length).replace('streaming…', ''))).toBe(true)
    expect(await viewer.page.locator('.msg.assistant .answer .text').nth(1).innerText()).toBe(question)
    expect(await viewer.page.locator('#connection').innerText()).toBe('live')

    // The transcript downloads from the viewer's page, by the viewer id.
    const [download] = await Promise.all([
      viewer.page.waitForEvent('download'),
      viewer.page.getByRole('link', { name: 'Download .md' }).click(),
    ])
    expect(download.suggestedFilename()).toMatch(/^stepstream-chat-\d{4}-\d{2}-\d{2}-\d{4}\.md$/)
    expect(readFileSync((await download.path())!, 'utf8')).toContain(`## You — `)

    // Nothing the viewer's browser holds or asked for names the owner id.
    expect(await viewer.page.content()).not.toContain(ownerId)
    expect(viewer.requests.length).toBeGreaterThan(3)
    for (const url of viewer.requests) expect(url).not.toContain(ownerId)
    expect(viewer.requests).toContainEqual(expect.stringContaining(`/events?view=${viewerId}`))

    // The colleague's landing page remembers the chat, marked read-only, and leads back to the read-only page.
    await viewer.page.goto(`${server.base}/`)
    const recent = viewer.page.locator('#recent li')
    await recent.first().waitFor()
    expect(await recent.count()).toBe(1)
    expect(await recent.locator('a').getAttribute('href')).toBe(`/?view=${viewerId}`)
    expect(await recent.locator('.badge').innerText()).toBe('read-only')
    // Opened again once the run has ended, the read-only page still says the run's state in its header.
    await recent.locator('a').click()
    await viewer.page.waitForFunction(() => document.getElementById('run-indicator')?.textContent === 'idle')
    await viewer.page.goto(`${server.base}/`)
    expect(JSON.stringify(await viewer.page.evaluate(() => localStorage.getItem('stepstream.recent')))).not.toContain(ownerId)
    // The owner's own list keeps the owner link, unmarked.
    await owner.page.goto(`${server.base}/`)
    await owner.page.locator('#recent li').first().waitFor()
    expect(await owner.page.locator('#recent li a').getAttribute('href')).toBe(`/?client_id=${ownerId}`)
    expect(await owner.page.locator('#recent .badge').count()).toBe(0)

    expect([...owner.errors, ...viewer.errors]).toEqual([])
    await leaveScreenshot(viewer.page, 'read-only-recent')
    await owner.page.close()
    await ownerContext.close()
    await colleague.close()
  })
})
