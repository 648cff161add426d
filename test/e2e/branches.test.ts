import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { browserAvailable, launchBrowser, leaveScreenshot, watchErrors } from '../helpers/browser.ts'
import { ScriptedStep } from '../helpers/scripted-step.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { testServer } from '../helpers/test-app.ts'

slowTests()

const enabled = browserAvailable('branch page tests')

describe.skipIf(!enabled)('edit and resend, regenerate, and the versions they leave (docs/branches.md)', () => {
  let browser: Browser
  let context: BrowserContext
  let server: Awaited<ReturnType<typeof testServer>>

  beforeAll(async () => {
    server = await testServer({ step: new ScriptedStep(1) })
    browser = await launchBrowser()
    context = await browser.newContext()
  })
  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })

  /** A new chat with one message of ours answered after the default conversation. */
  async function chatWith(text: string): Promise<{ page: Page; errors: string[] }> {
    const page = await context.newPage()
    const errors = watchErrors(page)
    await page.goto(`${server.base}/`)
    await page.getByRole('button', { name: 'Start New Chat' }).click()
    await page.locator('.answer.final').first().waitFor()
    await page.locator('#message').fill(text)
    await page.locator('#message').press('Enter')
    await page.locator('.answer.final').nth(1).waitFor()
    return { page, errors }
  }

  const userTexts = (page: Page) => page.locator('.msg.user > .text').allTextContents()
  const answerTexts = (page: Page) => page.locator('.msg.assistant .answer').allTextContents()

  test('edit and resend opens a branch with the edited message answered; the earlier version stays a link away', async () => {
    const { page, errors } = await chatWith('first try')
    const original = page.url()
    // By keyboard: the message's Edit, the edited text, Enter. Escape first gives up and puts the message back.
    const edit = page.locator('.msg.user').nth(1).getByRole('button', { name: 'Edit this message and send it again' })
    await edit.focus()
    await page.keyboard.press('Enter')
    await page.keyboard.press('Escape')
    expect(await page.locator('.edit-form').count()).toBe(0)
    expect(await page.locator('.msg.user').nth(1).locator('.text').isVisible()).toBe(true)
    expect(await edit.evaluate((button) => document.activeElement === button)).toBe(true)
    await page.keyboard.press('Enter')
    const box = page.locator('.edit-form textarea')
    expect(await box.inputValue()).toBe('first try')
    // A box people can see and type in, where the message was.
    const onTop = await box.evaluate((element) => {
      const { x, y, width, height } = element.getBoundingClientRect()
      return width > 150 && document.elementFromPoint(x + width / 2, y + height / 2) === element
    })
    expect(onTop).toBe(true)
    expect(await page.locator('.msg.user').nth(1).locator('.text').isHidden()).toBe(true)
    await box.fill('second try')
    await box.press('Enter')
    await page.waitForURL((url) => url.href !== original)
    await page.locator('.answer.final').nth(1).waitFor()
    expect((await userTexts(page)).at(-1)).toBe('second try')
    expect((await answerTexts(page)).at(-1)).toContain('second try')
    const versions = page.locator('.msg.user').nth(1).locator('.versions')
    expect(await versions.locator('.version-index').textContent()).toContain('2/2')
    await versions.getByRole('link', { name: 'Previous version' }).click()
    await page.waitForURL(original)
    expect((await userTexts(page)).at(-1)).toBe('first try')
    const back = page.locator('.msg.user').nth(1).locator('.versions')
    expect(await back.locator('.version-index').textContent()).toContain('1/2')
    await back.getByRole('link', { name: 'Next version' }).waitFor()
    // The first message, never edited, has no versions.
    expect(await page.locator('.msg.user').first().locator('.versions').count()).toBe(0)
    expect(errors).toEqual([])
    await leaveScreenshot(page, 'branches-edit')
  })

  test('Regenerate on the last answer asks the same question again in a branch; the earlier answer is version 1', async () => {
    const { page, errors } = await chatWith('tell me again')
    const original = page.url()
    // Only the last answer has it.
    expect(await page.locator('.msg.assistant').first().locator('.regenerate').count()).toBe(0)
    await page.locator('.msg.assistant').last().getByRole('button', { name: 'Regenerate this answer' }).click()
    await page.waitForURL((url) => url.href !== original)
    await page.locator('.answer.final').nth(1).waitFor()
    expect(await userTexts(page)).toHaveLength(2)
    expect((await userTexts(page)).at(-1)).toBe('tell me again')
    expect((await answerTexts(page)).at(-1)).toContain('tell me again')
    expect(await page.locator('.msg.user').nth(1).locator('.version-index').textContent()).toContain('2/2')
    expect(errors).toEqual([])
    await leaveScreenshot(page, 'branches-regenerate')
  })

  test('a read-only viewer sees neither Edit nor Regenerate, nor the owner’s links to versions', async () => {
    const { page } = await chatWith('shared')
    const original = page.url()
    await page.locator('.msg.user').nth(1).locator('.edit').click()
    await page.locator('.edit-form textarea').fill('shared, edited')
    await page.locator('.edit-form textarea').press('Enter')
    await page.waitForURL((url) => url.href !== original)
    await page.locator('.answer.final').nth(1).waitFor()
    // The owner's page of the branch has its versions: the viewer's has none of them.
    await page.locator('.versions').waitFor()
    const viewerLink = (await page.locator('#copy-view-link').getAttribute('data-link'))!
    const viewer = await context.newPage()
    await viewer.goto(`${server.base}${viewerLink}`)
    await viewer.locator('.answer.final').nth(1).waitFor()
    expect(await viewer.locator('.edit, .regenerate, .versions, #edit-template, #regenerate-template').count()).toBe(0)
    await viewer.close()
    await page.close()
  })
})
