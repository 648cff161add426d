import { describe, expect, test } from 'bun:test'
import { browserAvailable, leaveScreenshot, watchErrors } from '../helpers/browser.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { browserAndServer } from '../helpers/browser-server.ts'

slowTests()

const enabled = browserAvailable('time display tests')

/** Times arrive in UTC and are shown in the reader's zone: today's as a clock, older ones with their day. */
describe.skipIf(!enabled)('times on the page', () => {
  const env = browserAndServer()

  test("a message of an earlier day shows its day and time in the reader's zone; one of today, its time; the list, today's chat by its time", async () => {
    const { id } = (await (await fetch(`${env.server.base}/api/sessions`, { method: 'POST' })).json()) as { id: string }
    const old = '2025-03-04T09:05:01.000Z'
    await env.server.deps.store.append(id, { type: 'user', step_id: 'r1', ts: old, text: 'from last year' })
    await env.server.deps.store.append(id, { type: 'start', step_id: 'r1', ts: old, step_type: 'echo' })
    await env.server.deps.store.append(id, { type: 'final', step_id: 'r1', ts: old, text: 'from last year' })
    const now = new Date().toISOString()
    await env.server.deps.store.append(id, { type: 'user', step_id: 'r2', ts: now, text: 'today' })
    const context = await env.browser.newContext({ timezoneId: 'Asia/Tokyo', locale: 'en-US' })
    const page = await context.newPage()
    const errors = watchErrors(page)
    await page.goto(`${env.server.base}/?client_id=${id}`)
    const times = page.locator('.msg time[data-local]')
    await times.nth(2).waitFor()
    // 09:05 UTC is 18:05 in Tokyo, on the same day.
    expect(await times.nth(0).innerText()).toBe('Mar 4, 2025, 06:05 PM')
    const clock = new Date(now).toLocaleTimeString('en-US', { hour: '2-digit', minute: '2-digit', timeZone: 'Asia/Tokyo' })
    expect(await times.nth(2).innerText()).toBe(clock)
    await page.locator('#recent time[data-local]').waitFor()
    expect(await page.locator('#recent time').innerText()).toMatch(/^\d\d:\d\d (AM|PM)$/)
    expect(errors).toEqual([])
    await leaveScreenshot(page, 'times')
    await context.close()
  })
})
