import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Browser } from 'playwright-core'
import { newId } from '../../src/session-id.ts'
import { MemoryStore } from '../../src/store/memory-store.ts'
import { browserAvailable, launchBrowser, watchErrors } from '../helpers/browser.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { testServer } from '../helpers/test-app.ts'
import { ECHO } from '../helpers/echo-spec.ts'

slowTests()

const enabled = browserAvailable('load-earlier tests')
/** Turns in the chat: about 20 KB each, so the page shows about a third of them at first. */
const TURNS = 60

describe.skipIf(!enabled)('a long chat, in a real browser', () => {
  let browser: Browser
  let server: Awaited<ReturnType<typeof testServer>>
  const store = new MemoryStore()

  beforeAll(async () => {
    server = await testServer({ store })
    browser = await launchBrowser()
  })
  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })

  async function longChat() {
    const session = await store.createSession(newId(), ECHO)
    const ts = new Date().toISOString()
    for (let i = 1; i <= TURNS; i++) {
      const step_id = `run-${i}`
      await store.append(session.id, { type: 'user', step_id, ts, text: `question-${i}` })
      await store.append(session.id, { type: 'start', step_id, ts, step_type: 'echo' })
      await store.append(session.id, { type: 'final', step_id, ts, text: `answer-${i} `.padEnd(20_000, '.') })
    }
    return session
  }

  for (const who of ['owner', 'viewer'] as const) {
    test(`${who}: "Load earlier messages" brings the earlier turns in order, without duplicates, up to the first`, async () => {
      const session = await longChat()
      const page = await browser.newPage()
      const errors = watchErrors(page)
      await page.goto(`${server.base}/?${who === 'owner' ? `client_id=${session.id}` : `view=${session.viewer_id}`}`)
      const shown = () => page.locator('.msg.user .text').allInnerTexts()
      expect((await shown()).at(-1)).toBe(`question-${TURNS}`)
      const first = (await shown()).length
      expect(first).toBeLessThan(TURNS)
      const button = page.getByRole('button', { name: 'Load earlier messages' })
      for (let clicks = 0; (await button.count()) > 0; clicks++) {
        expect(clicks).toBeLessThan(TURNS)
        const before = (await shown()).length
        await button.click()
        // Done when the part arrived: more questions on the page, or the button gone with the last part.
        await page.waitForFunction((n) => document.querySelectorAll('.msg.user').length > n, before)
      }
      expect(await shown()).toEqual(Array.from({ length: TURNS }, (_, i) => `question-${i + 1}`))
      expect(await page.locator('.msg.assistant').count()).toBe(TURNS)
      expect(errors).toEqual([])
      // The viewport only: a full-page screenshot of sixty 20 KB answers takes longer than the test.
      await page.locator('.msg.user').first().scrollIntoViewIfNeeded()
      await page.screenshot({ path: `${import.meta.dir}/../../test-results/load-earlier-${who}.png` })
      await page.close()
    })
  }
})
