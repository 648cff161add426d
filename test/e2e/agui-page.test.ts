import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { EventType } from '@ag-ui/core'
import type { Browser, Page } from 'playwright-core'
import { silentLogger } from '../../src/log.ts'
import { aguiStep } from '../../src/steps/agui-step.ts'
import { browserAvailable, launchBrowser, leaveScreenshot, watchErrors } from '../helpers/browser.ts'
import { FakeAgent, fullRun } from '../helpers/fake-agui.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { testServer } from '../helpers/test-app.ts'

slowTests()

const enabled = browserAvailable('AG-UI page tests')

/** What a reader sees of a run's activity and agent state: each block's kind and text, in order. */
async function shown(page: Page) {
  const activity = await page
    .locator('.msg.assistant .tools > *')
    .evaluateAll((nodes) => nodes.map((n) => `${n.className}: ${(n as HTMLElement).textContent?.replace(/\s+/g, ' ').trim()}`))
  const state = await page.locator('.msg.assistant .agent-state pre').first().textContent()
  const reasoning = await page.locator('.msg.assistant .reasoning-text').first().textContent()
  return { activity, state, reasoning }
}

describe.skipIf(!enabled)('an AG-UI agent’s run in the page', () => {
  let browser: Browser
  let server: Awaited<ReturnType<typeof testServer>>
  const agent = new FakeAgent()

  beforeAll(async () => {
    const step = aguiStep({ url: agent.url, headers: {}, requestTimeoutMs: 5000 }, silentLogger).create({})
    server = await testServer({ step })
    browser = await launchBrowser()
  })
  afterAll(async () => {
    await browser?.close()
    await server?.close()
    await agent.stop()
  })

  test('steps, the agent state block, reasoning and tool calls, live and the same after a reload', async () => {
    agent.reply(({ threadId, runId }) => {
      const events = fullRun(threadId, runId)
      // Hostile text in the state is shown as text.
      events.splice(-6, 0, {
        type: EventType.STATE_DELTA,
        delta: [{ op: 'add', path: '/note', value: '<img src=x onerror=alert(1)>' }],
      } as never)
      return { events, delayMs: 25 }
    })
    const page = await browser.newPage()
    const errors = watchErrors(page)
    await page.goto(`${server.base}/`)
    await page.getByRole('button', { name: 'Start New Chat' }).click()
    await page.locator('.answer.final').waitFor()

    const state = page.locator('details.agent-state')
    expect(await state.isVisible()).toBe(true)
    expect(await state.getAttribute('open')).toBeNull()
    expect(await state.locator('summary').innerText()).toBe('agent state')
    await state.locator('summary').click()
    const json = await state.locator('pre').innerText()
    expect(JSON.parse(json)).toEqual({ city: 'Paris, FR', steps: ['weather'], note: '<img src=x onerror=alert(1)>' })
    expect(await page.locator('img').count()).toBe(0)

    const steps = page.locator('.agent-step')
    expect(await steps.count()).toBe(4)
    expect((await steps.allInnerTexts()).map((t) => t.slice(t.indexOf('step ')))).toEqual([
      'step plan started',
      'step plan finished',
      'step tools started',
      'step tools finished',
    ])
    const tools = page.locator('details.tool')
    expect(await tools.count()).toBe(2)
    expect(await tools.locator('summary').allInnerTexts()).toEqual(['tool call get_weather', 'tool call get_time'])
    await tools.first().locator('summary').click()
    expect(await tools.first().locator('pre').first().innerText()).toBe('{\n  "city": "Paris"\n}')
    expect(await tools.first().locator('.tool-result pre').innerText()).toBe('{\n  "temp_c": 21\n}')
    expect(await page.locator('details.reasoning summary').innerText()).toBe('Thought')
    expect((await page.locator('.answer.final .text').innerText()).trim()).toBe('It is 21 °C in Paris <b>now</b>.')

    const live = await shown(page)
    expect(live.reasoning).toBe('The user wants the weather.')
    await page.reload()
    await page.locator('.answer.final').waitFor()
    expect(await shown(page)).toEqual(live)
    expect(errors).toEqual([])
    await leaveScreenshot(page, 'agui')
    await page.close()
  })
})
