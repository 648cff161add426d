import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Browser, Page } from 'playwright-core'
import { browserAvailable, launchBrowser, leaveScreenshot, watchErrors } from '../helpers/browser.ts'
import { lowContrast } from '../helpers/contrast.ts'
import { ScriptedStep } from '../helpers/scripted-step.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { startChat } from '../helpers/start-chat.ts'
import { testServer } from '../helpers/test-app.ts'

slowTests()

const enabled = browserAvailable('answer tests')

/** The code of the answer's block, as a reader copies it: markup-like text, quotes and indentation included. */
const CODE = ['function add(a: number, b: number): number {', '  // adds <b>two</b> & "more"', "  return a + b + 'x'.length", '}'].join(
  '\n',
)
/** A table wider than a phone (long words that do not break), then a code block; the scripted step echoes it. */
const ANSWER = [
  '| Algorithm | Average case | Worst case | Stable | Where it shines |',
  '|:--|:-:|:-:|:-:|--:|',
  '| Quicksort | O(n log n) | O(n²) | no | general-purpose-in-memory-sorting |',
  '| Mergesort | O(n log n) | O(n log n) | yes | linked-lists-and-external-sorting |',
  '| Insertion | O(n²) | O(n²) | yes | tiny-or-nearly-sorted-arrays |',
  '',
  '```ts',
  CODE,
  '```',
].join('\n')

describe.skipIf(!enabled)('answers worth reading', () => {
  let browser: Browser
  let server: Awaited<ReturnType<typeof testServer>>

  beforeAll(async () => {
    server = await testServer({ step: new ScriptedStep(1) })
    browser = await launchBrowser()
  })
  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })

  /**
   * A chat in a new context whose answer to ANSWER has arrived by streaming and is highlighted. Every request the page
   * makes, the highlighter's worker included, is recorded: none may leave the server.
   */
  async function answered(options: Parameters<Browser['newContext']>[0] = {}) {
    const context = await browser.newContext(options)
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.base })
    const requests: string[] = []
    context.on('request', (request) => requests.push(request.url()))
    const page = await context.newPage()
    const errors = watchErrors(page)
    await page.exposeFunction('reportViolation', (v: string) => errors.push(`csp: ${v}`))
    await page.addInitScript(() =>
      document.addEventListener('securitypolicyviolation', (e) =>
        (window as unknown as { reportViolation: (v: string) => void }).reportViolation(`${e.violatedDirective} ${e.blockedURI}`),
      ),
    )
    await page.goto(await startChat(server.base))
    await page.locator('.answer.final').first().waitFor()
    await page.locator('#message').fill(ANSWER)
    await page.locator('#message').press('Enter')
    const answer = page.locator('.answer.final').nth(1)
    await answer.locator('code[data-highlight="done"]').waitFor()
    return { context, page, errors, requests, answer }
  }

  /** Reads, in the page, what makes a table look like one: its cells' borders and padding, and the stripes. */
  const tableLook = (page: Page) =>
    page.locator('.answer.final .table-wrap table').evaluate((table) => {
      const cell = getComputedStyle(table.querySelector('tbody td + td')!)
      const rows = table.querySelectorAll('tbody tr')
      return {
        border: `${cell.borderLeftStyle} ${cell.borderLeftWidth}`,
        padded: Number.parseFloat(cell.paddingLeft) >= 8,
        stripes: getComputedStyle(rows[0]!).backgroundColor !== getComputedStyle(rows[1]!).backgroundColor,
        right: getComputedStyle(table.querySelector('tbody td:last-child')!).textAlign,
      }
    })

  for (const colorScheme of ['light', 'dark'] as const) {
    for (const viewport of [
      { name: 'desktop', width: 1280, height: 800 },
      { name: 'phone', width: 360, height: 740 },
    ]) {
      test(`${colorScheme}, ${viewport.name}: the table is ruled and striped and scrolls in its box; code is highlighted; all of it meets WCAG AA`, async () => {
        const { context, page, errors, requests, answer } = await answered({ colorScheme, viewport })
        expect(await tableLook(page)).toEqual({ border: 'solid 1px', padded: true, stripes: true, right: 'right' })
        // The page never grows wider than the screen; on a phone, the table's own box scrolls instead.
        expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(viewport.width)
        const wrap = answer.locator('.table-wrap')
        if (viewport.name === 'phone') expect(await wrap.evaluate((el) => el.scrollWidth > el.clientWidth)).toBe(true)
        // Highlighted: highlight.js's token spans, around exactly the code that was sent.
        const code = answer.locator('.code-block pre > code')
        expect(await code.locator('.hljs-keyword').count()).toBeGreaterThan(0)
        expect(await code.locator('.hljs-comment').innerText()).toBe('// adds <b>two</b> & "more"')
        expect(await code.locator('b').count()).toBe(0)
        expect(await code.evaluate((el) => el.textContent)).toBe(`${CODE}\n`)
        expect(await answer.locator('.code-lang').innerText()).toBe('ts')
        expect(
          await page.evaluate(lowContrast, '.markdown td, .markdown th, .code-head, .code-copy, .markdown code, .markdown code span'),
        ).toEqual([])
        // Nothing came from elsewhere: the highlighter is the server's own asset.
        expect(requests.filter((url) => !url.startsWith(`${server.base}/`))).toEqual([])
        expect(requests.some((url) => url.startsWith(`${server.base}/assets/highlight-worker.js?v=`))).toBe(true)
        expect(errors).toEqual([])
        await page.screenshot({ path: `${import.meta.dir}/../../test-results/answer-${colorScheme}-${viewport.name}.png`, fullPage: true })
        await context.close()
      })
    }
  }

  test('the copy button puts the exact code on the clipboard, from the mouse and the keyboard, and says so', async () => {
    const { context, page, errors, answer } = await answered()
    const button = answer.locator('.code-copy')
    await button.click()
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(CODE)
    expect(await button.innerText()).toBe('Copied')
    await page.evaluate(() => navigator.clipboard.writeText(''))
    await button.focus()
    await page.keyboard.press('Enter')
    await page.waitForFunction(() => navigator.clipboard.readText().then((text) => text.length > 0))
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(CODE)
    // The message's own Copy takes its text, without the code block's head.
    await answer.locator('..').locator('footer .copy').click()
    const message = await page.evaluate(() => navigator.clipboard.readText())
    // Nothing between the table's last row and the code: no language label, no button's word.
    expect(message).toContain(`tiny-or-nearly-sorted-arrays\n${CODE}`)
    expect(errors).toEqual([])
    await leaveScreenshot(page, 'code-copy')
    await context.close()
  })

  test('a page loaded whole highlights and copies as one the stream updated', async () => {
    const { context, page, errors } = await answered()
    await page.reload()
    const answer = page.locator('.answer.final').nth(1)
    await answer.locator('code[data-highlight="done"] .hljs-keyword').first().waitFor()
    await answer.locator('.code-copy').click()
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(CODE)
    expect(errors).toEqual([])
    await leaveScreenshot(page, 'code-after-reload')
    await context.close()
  })

  test('a block the highlighter cannot finish in time stays plain, the page responsive, and the next block is highlighted', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    const errors = watchErrors(page)
    // The first worker loads, then spins forever on its block, as a grammar gone quadratic would; the next is the real one.
    const spinning = 'self.onmessage = () => { for (;;) {} }\nself.postMessage({ ready: true })'
    let served = 0
    await context.route('**/assets/highlight-worker.js*', (route) =>
      served++ === 0 ? route.fulfill({ contentType: 'text/javascript', body: spinning }) : route.continue(),
    )
    await page.goto(await startChat(server.base))
    await page.locator('.answer.final').first().waitFor()
    await page.locator('#message').fill('```ts\nconst spins = true\n```')
    await page.locator('#message').press('Enter')
    await page.locator('.answer.final').nth(1).locator('code[data-highlight="plain"]').waitFor()
    expect(await page.locator('.answer.final').nth(1).locator('code span').count()).toBe(0)
    await page.locator('#message').fill('```ts\nconst next = true\n```')
    await page.locator('#message').press('Enter')
    await page.locator('.answer.final').nth(2).locator('code[data-highlight="done"] .hljs-keyword').waitFor()
    expect(served).toBe(2)
    expect(errors).toEqual([])
    await leaveScreenshot(page, 'code-highlight-timeout')
    await context.close()
  })

  test('markup from the highlighter that would change the code is refused: the block keeps its exact text', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    const errors = watchErrors(page)
    // A highlighter gone wrong: it answers with markup whose text is not the code's.
    const wrong =
      'self.onmessage = ({ data }) => self.postMessage({ id: data.id, html: "<b>not</b> the code" })\nself.postMessage({ ready: true })'
    await context.route('**/assets/highlight-worker.js*', (route) => route.fulfill({ contentType: 'text/javascript', body: wrong }))
    await page.goto(await startChat(server.base))
    await page.locator('.answer.final').first().waitFor()
    await page.locator('#message').fill('```ts\nconst kept = "<exact>"\n```')
    await page.locator('#message').press('Enter')
    const code = page.locator('.answer.final').nth(1).locator('code[data-highlight="plain"]')
    await code.waitFor()
    expect(await code.evaluate((el) => el.innerHTML)).toBe('const kept = "&lt;exact&gt;"\n')
    expect(errors).toEqual([])
    await context.close()
  })
})
