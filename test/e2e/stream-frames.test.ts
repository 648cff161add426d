import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { SqliteStore } from '../../src/store/sqlite-store.ts'
import { browserAvailable, launchBrowser, leaveScreenshot, watchErrors } from '../helpers/browser.ts'
import { FailingStore } from '../helpers/failing-store.ts'
import { ScriptedStep } from '../helpers/scripted-step.ts'
import { freePort } from '../helpers/spawn-server.ts'
import { testApp, testServer } from '../helpers/test-app.ts'
import { startChat } from '../helpers/start-chat.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { until as waitUntil } from '../helpers/wait.ts'

// It launches Chromium: seconds on a loaded machine, past Bun's 5 s default.
slowTests()

slowTests(60_000)

const enabled = browserAvailable('stream frame tests')

/** What the page's connection indicator says. */
const connection = (page: Page) => page.locator('#connection').textContent()
const waitForConnection = (page: Page, text: string) =>
  page.waitForFunction((want) => document.getElementById('connection')?.textContent === want, text, { timeout: 20_000 })
async function send(page: Page, text: string) {
  await page.locator('#message').fill(text)
  await page.locator('#message').press('Enter')
}

describe.skipIf(!enabled)('the page and the stream’s own frames', () => {
  let browser: Browser
  beforeAll(async () => {
    browser = await launchBrowser()
  })
  afterAll(() => browser?.close())

  test('restarted on an older copy of its database, the server resets the page: it reloads and shows that transcript, live', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stepstream-older-copy-'))
    const db = join(dir, 'db.sqlite')
    const backup = join(dir, 'backup.sqlite')
    const port = freePort()
    /** The app on a fixed port, so the page's stream reconnects to each new instance. */
    const serve = async (path: string) => {
      const made = await testApp({ store: new SqliteStore(path), step: new ScriptedStep(2) })
      made.app.listen({ port, hostname: '127.0.0.1' })
      return made
    }
    let server = await serve(db)
    const page = await browser.newPage()
    const errors = watchErrors(page)
    try {
      await page.goto(await startChat(`http://127.0.0.1:${port}`))
      await page.locator('.answer.final').waitFor()
      await server.close()
      // The backup, taken as a file copy of a stopped server: the database and whatever its WAL still holds.
      for (const suffix of ['', '-wal']) if (existsSync(db + suffix)) copyFileSync(db + suffix, backup + suffix)

      server = await serve(db)
      await waitForConnection(page, 'live')
      await send(page, 'a message the backup does not hold')
      await page.locator('.answer.final').nth(1).waitFor()
      await server.close()
      await page.evaluate(() => Object.assign(window, { beforeReset: true }))
      // The operator restores the backup: the page's Last-Event-ID now points past the log's head. (A new path rather
      // than a copy over the old one: SQLite in this process may still hold the old files open.)
      server = await serve(backup)
      await page.waitForFunction(() => !('beforeReset' in window), null, { timeout: 20_000 })
      await page.locator('.answer.final').first().waitFor()
      expect(await page.locator('.msg.user').count()).toBe(1)
      expect(await page.locator('.answer').count()).toBe(1)
      await waitForConnection(page, 'live')
      await send(page, 'after the restore')
      await page.locator('.answer.final').nth(1).waitFor()
      expect(await page.locator('.answer.final .text').nth(1).innerText()).toBe('after the restore')
      // An in-process server stops with `stop(true)`, which tears its open streams: Chromium and htmx log the torn
      // response before reconnecting (as after a SIGKILL in page.test.ts). Nothing else may reach the console.
      const torn = /^console: (htmx: htmx:sse:error: network error|Failed to load resource: net::ERR_INCOMPLETE_CHUNKED_ENCODING)/
      expect(errors.filter((e) => !torn.test(e))).toEqual([])
      await leaveScreenshot(page, 'reset-after-restore')
    } finally {
      await server.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('a run’s error is the run’s; the stream’s own failure shows its sentence and "server error", then live again', async () => {
    const store = new FailingStore()
    // A short heartbeat: a quiet stream reads the store at each one, so a failing store is met within 300 ms.
    const server = await testServer({ store, step: new ScriptedStep(2), heartbeatMs: 300 })
    const page = await browser.newPage()
    const errors = watchErrors(page)
    try {
      await page.goto(await startChat(server.base))
      await page.locator('.answer.final').waitFor()
      await send(page, 'error')
      await page.locator('.answer.error').waitFor()
      expect(await page.locator('.answer.error [role=alert]').innerText()).toBe('The model service answered 503: try again in a minute.')
      expect(await connection(page)).toBe('live')
      expect(await page.locator('#notice').textContent()).toBe('')

      store.failReads = true
      await waitForConnection(page, 'server error')
      expect(await page.locator('#connection').getAttribute('data-state')).toBe('failed')
      expect(await page.locator('#notice').textContent()).toBe('The stream failed on the server; reconnect to resume.')
      await page.screenshot({ path: `${import.meta.dir}/../../test-results/stream-error.png` })

      store.failReads = false
      await waitForConnection(page, 'live')
      await send(page, 'back again')
      await page.locator('.answer.final').nth(1).waitFor()
      expect(await page.locator('#notice').textContent()).toBe('')
      expect(errors).toEqual([])
      await leaveScreenshot(page, 'stream-error-recovered')
    } finally {
      await server.close()
    }
  })

  test('a browser EventSource tells a run’s error (a MessageEvent with data) from the stream’s failure and from a broken connection', async () => {
    const store = new FailingStore()
    const server = await testServer({ store, step: new ScriptedStep(2), heartbeatMs: 300 })
    const page = await browser.newPage()
    try {
      const { id } = (await (await fetch(`${server.base}/api/sessions`, { method: 'POST' })).json()) as { id: string }
      await page.goto(`${server.base}/healthz`)
      await page.evaluate((sessionId) => {
        const seen: { name: string; message: boolean; data?: string; state: number }[] = []
        Object.assign(window, { seen })
        const source = new EventSource(`/api/sessions/${sessionId}/stream`)
        const record = (name: string) => (event: Event) =>
          seen.push({
            name,
            message: event instanceof MessageEvent,
            data: event instanceof MessageEvent ? event.data : undefined,
            state: source.readyState,
          })
        for (const name of ['error', 'stream-error', 'final']) source.addEventListener(name, record(name))
        source.addEventListener('open', record('open'))
      }, id)
      type Seen = { name: string; message: boolean; data?: string; state: number }
      const seen = () => page.evaluate(() => (window as unknown as { seen: Seen[] }).seen)
      const until = (predicate: (events: Seen[]) => boolean) =>
        waitUntil(async () => predicate(await seen()), { what: 'the page’s EventSource to see it', describe: seen, everyMs: 50 })

      await fetch(`${server.base}/api/sessions/${id}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: 'error' }),
      })
      await until((events) => events.some((e) => e.name === 'error' && e.message))
      store.failReads = true
      await until((events) => events.some((e) => e.name === 'stream-error') && events.some((e) => e.name === 'error' && !e.message))
      store.failReads = false
      await until((events) => events.filter((e) => e.name === 'open').length >= 2)

      const events = await seen()
      const runErrors = events.filter((e) => e.name === 'error' && e.message)
      expect(runErrors).toHaveLength(1)
      expect(JSON.parse(runErrors[0]!.data!)).toMatchObject({
        type: 'error',
        error: 'The model service answered 503: try again in a minute.',
      })
      const failure = events.find((e) => e.name === 'stream-error')!
      expect(failure.message).toBe(true)
      expect(JSON.parse(failure.data!)).toEqual({ error: 'The stream failed on the server; reconnect to resume.' })
      // The connection's own error is a plain Event without data, and the browser is reconnecting (CONNECTING = 0).
      const broken = events.filter((e) => e.name === 'error' && !e.message)
      expect(broken.length).toBeGreaterThanOrEqual(1)
      expect(broken[0]).toMatchObject({ data: undefined, state: 0 })
    } finally {
      await page.close()
      await server.close()
    }
  })
})
