import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Browser } from 'playwright-core'
import { createServer } from '../../src/create-server.ts'
import { silentLogger } from '../../src/log.ts'
import { openAiStep } from '../../src/steps/openai-step.ts'
import { browserAvailable, launchBrowser, leaveScreenshot, watchErrors } from '../helpers/browser.ts'
import { answer, FakeOpenAI } from '../helpers/fake-openai.ts'
import { slowTests } from '../helpers/slow-tests.ts'

slowTests()

const enabled = browserAvailable('New Chat model tests')

describe.skipIf(!enabled)('choosing a model at New Chat, in a real browser', () => {
  let browser: Browser
  let server: Awaited<ReturnType<typeof createServer>>
  let base: string
  const fake = new FakeOpenAI().always({ stream: answer(['Arr, ', 'a robot.']) })

  beforeAll(async () => {
    const config = {
      baseUrl: fake.baseUrl,
      model: 'model-a',
      models: ['model-a', 'model-b', 'model-c'],
      systemPrompt: 'The server default.',
      maxToolRounds: 0,
      requestTimeoutMs: 5000,
    }
    server = await createServer({ steps: [openAiStep(config, silentLogger)], log: silentLogger, rateLimit: false })
    base = server.listen({ port: 0, hostname: '127.0.0.1' })
    browser = await launchBrowser()
  })
  afterAll(async () => {
    await browser?.close()
    await server?.stop()
    await fake.stop()
  })

  test('the landing page offers the models; the chosen one and a system prompt are what the model server is asked, and the chat shows its model', async () => {
    const page = await browser.newPage()
    const errors = watchErrors(page)
    await page.goto(`${base}/`)
    const select = page.getByLabel('Model')
    expect(await select.locator('option').allInnerTexts()).toEqual(['model-a', 'model-b', 'model-c'])
    expect(await select.inputValue()).toBe('model-a')
    await select.selectOption('model-b')
    await page.getByText('System prompt (optional)').click()
    await page.getByLabel('System prompt').fill('Talk like a pirate.')
    await page.getByRole('button', { name: 'Start New Chat' }).click()
    await page.waitForURL(/\/\?client_id=[A-Za-z0-9_-]{22}$/)
    await page.locator('.answer.final').waitFor()
    expect(fake.requests.at(-1)!.body.model).toBe('model-b')
    expect(fake.requests.at(-1)!.body.messages[0]).toEqual({ role: 'system', content: 'Talk like a pirate.' })
    expect(await page.locator('#chat-model').innerText()).toBe('Model: model-b')

    // The next message, and the page reloaded, keep the chat's model.
    await page.reload()
    expect(await page.locator('#chat-model').innerText()).toBe('Model: model-b')
    await page.locator('#message').fill('And another?')
    await page.locator('#message').press('Enter')
    await page.locator('.answer.final').nth(1).waitFor()
    expect(fake.requests.at(-1)!.body.model).toBe('model-b')
    expect(errors).toEqual([])
    await leaveScreenshot(page, 'new-chat-model')
  })

  test('a system prompt past the limit is refused under the form, which stays as filled', async () => {
    const page = await browser.newPage()
    const asked = fake.requests.length
    await page.goto(`${base}/`)
    await page.getByText('System prompt (optional)').click()
    // Within the textarea's maxlength (characters), over the server's limit (bytes): only the server can tell.
    const prompt = '€'.repeat(2000)
    await page.getByLabel('System prompt').fill(prompt)
    await page.getByRole('button', { name: 'Start New Chat' }).click()
    await page.locator('#new-chat-notice .error').waitFor()
    expect(await page.locator('#new-chat-notice').innerText()).toBe(
      'The system prompt is 6000 bytes long; this server takes at most 4096. Shorten it.',
    )
    expect(await page.getByLabel('System prompt').inputValue()).toBe(prompt)
    expect(new URL(page.url()).search).toBe('')
    expect(fake.requests.length).toBe(asked)
    await leaveScreenshot(page, 'new-chat-refused')
  })
})
