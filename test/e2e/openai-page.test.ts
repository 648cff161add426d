import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Browser, Page } from 'playwright-core'
import { silentLogger } from '../../src/log.ts'
import { builtInTools, openAiRunStep } from '../../src/steps/openai-step.ts'
import { browserAvailable, launchBrowser, leaveScreenshot, watchErrors } from '../helpers/browser.ts'
import { answer, chunk, FakeOpenAI, roleChunk, toolCalls } from '../helpers/fake-openai.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { testServer } from '../helpers/test-app.ts'

slowTests()

const enabled = browserAvailable('openai page tests')

describe.skipIf(!enabled)('an openai chat in the page', () => {
  let browser: Browser
  let server: Awaited<ReturnType<typeof testServer>>
  const fake = new FakeOpenAI()

  beforeAll(async () => {
    const step = openAiRunStep(
      {
        baseUrl: fake.baseUrl,
        apiKey: 'sk-page-test',
        model: 'gpt-4o-mini',
        systemPrompt: 'You are a helpful assistant.',
        maxToolRounds: 8,
        requestTimeoutMs: 5000,
      },
      builtInTools(),
      silentLogger,
    )
    server = await testServer({ step })
    browser = await launchBrowser()
  })
  afterAll(async () => {
    await browser?.close()
    await server?.close()
    await fake.stop()
  })

  const closed = (page: Page, n: number) =>
    page
      .locator('.answer.final, .answer.error, .answer.interrupt')
      .nth(n - 1)
      .waitFor()
  async function send(page: Page, text: string) {
    await page.locator('#message').fill(text)
    await page.locator('#message').press('Enter')
  }

  test('reasoning collapsed above the answer ("Thinking…" while it streams), tool calls, the usage line, and an error', async () => {
    const thoughts = Array.from({ length: 30 }, (_, i) => `step ${i}. `)
    // The model stops after its thoughts until the page has shown them as "Thinking…", whatever the load.
    let letItAnswer!: () => void
    fake.reply({
      stream: [
        roleChunk(),
        ...thoughts.map((t) => chunk({ reasoning_content: t })),
        ...['Beep ', 'the robot ', '**lived**.'].map((c) => chunk({ content: c })),
        chunk({}, 'stop'),
        { ...chunk({}), choices: [], usage: { prompt_tokens: 21, completion_tokens: 9, total_tokens: 30 } },
      ],
      delayMs: 5,
      hold: { at: 1 + thoughts.length, until: new Promise((resolve) => (letItAnswer = resolve)) },
    })
    const page = await browser.newPage()
    const errors = watchErrors(page)
    await page.goto(`${server.base}/`)
    await page.getByRole('button', { name: 'Start New Chat' }).click()

    const reasoning = page.locator('details.reasoning').first()
    await reasoning.locator('summary', { hasText: 'Thinking…' }).waitFor()
    expect(await reasoning.isVisible()).toBe(true)
    expect(await reasoning.getAttribute('open')).toBeNull()
    letItAnswer()
    await closed(page, 1)
    // Start New Chat runs the original tutorial's conversation.
    expect(fake.requests[0]!.body.messages).toEqual([
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: 'Hello! Please tell me a short story about a robot.' },
    ])
    expect(await reasoning.locator('summary').innerText()).toBe('Thought')
    expect(await reasoning.locator('.reasoning-text').isVisible()).toBe(false)
    await reasoning.locator('summary').click()
    expect((await reasoning.locator('.reasoning-text').innerText()).trim()).toBe(thoughts.join('').trim())
    // Above the answer, which is rendered Markdown, with its usage line under it.
    const box = async (selector: string) => (await page.locator(selector).first().boundingBox())!.y
    expect(await box('details.reasoning')).toBeLessThan(await box('.answer.final'))
    expect(await page.locator('.answer.final strong').innerText()).toBe('lived')
    expect(await page.locator('.answer.final .run-meta').innerText()).toMatch(
      /^gpt-4o-mini-2024-07-18 · 21 in · 9 out tokens · first token \d+\.\d s · \d+\.\d s in all$/,
    )

    fake.reply(
      { stream: toolCalls([{ id: 'call_1', name: 'calculator', args: ['{"expression":', '"6*7"}'] }]) },
      { stream: answer(['It is 42.']) },
    )
    await send(page, 'What is 6 times 7?')
    await closed(page, 2)
    const tool = page.locator('details.tool')
    expect(await tool.count()).toBe(1)
    expect(await tool.locator('summary').innerText()).toBe('tool call calculator')
    await tool.locator('summary').click()
    expect(await tool.locator('.tool-result pre').innerText()).toBe('{\n  "expression": "6*7",\n  "result": 42\n}')
    // A run without reasoning shows no reasoning block.
    expect(await page.locator('details.reasoning').nth(1).isVisible()).toBe(false)

    fake.reply({ stream: [roleChunk(), chunk({ content: 'Half an ' })], end: 'close' })
    await send(page, 'Go on')
    await closed(page, 3)
    const failed = page.locator('.answer.error')
    expect((await failed.locator('.text').innerText()).trim()).toBe('Half an')
    expect(await failed.locator('[role=alert]').innerText()).toMatch(/^The model server closed the stream before the answer was finished/)

    // A reload renders the same from the log.
    await page.reload()
    await page.locator('.answer.error').waitFor()
    expect(await page.locator('details.reasoning summary').first().innerText()).toBe('Thought')
    expect(await page.locator('.run-meta').count()).toBe(2)
    expect((await page.locator('.answer.error .text').innerText()).trim()).toBe('Half an')
    expect(errors).toEqual([])
    await leaveScreenshot(page, 'openai')
    await page.close()
  })
})
