/**
 * `bun run screenshot [--out PATH]`: the README's picture of a chat (default docs/screenshot.png), made again from this
 * source. A fake OpenAI-compatible model on 127.0.0.1 (the tests' own, test/helpers/fake-openai.ts) streams an answer
 * with a table and a code block; the server runs the openai step against it (`bun src/main.ts`, memory store) on a
 * free port of 127.0.0.1; headless Chromium (Debian's, never a download) opens a chat at 1000 px, sends the question,
 * waits for the highlighted answer and takes the picture. Nothing leaves the machine.
 */
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { launchBrowser } from '../test/helpers/browser.ts'
import { answer, FakeOpenAI } from '../test/helpers/fake-openai.ts'
import { spawnServer } from '../test/helpers/spawn-server.ts'

const root = join(import.meta.dir, '..')
const { values } = parseArgs({ args: process.argv.slice(2), options: { out: { type: 'string' } } })
const out = values.out ?? join(root, 'docs', 'screenshot.png')

/** The picture's width, and the most height it may take; CSS pixels at a device scale of 1. */
const WIDTH = 1000
const MAX_HEIGHT = 1100

const QUESTION = 'Which sort should I use for an array that is almost sorted? Show me one in TypeScript.'
const ANSWER = `For an array that is **almost sorted**, insertion sort is hard to beat: each item moves only as far as it is out of place.

| Algorithm | Average | Worst | Stable | Best for |
|:--|:-:|:-:|:-:|:--|
| Insertion sort | O(n²) | O(n²) | yes | small or nearly sorted arrays |
| Merge sort | O(n log n) | O(n log n) | yes | linked lists, external sorting |
| Quicksort | O(n log n) | O(n²) | no | general in-memory sorting |

\`\`\`ts
/** Sorts in place; fast when few items are out of order. */
export function insertionSort(items: number[]): number[] {
  for (let i = 1; i < items.length; i++) {
    const item = items[i]
    let j = i - 1
    while (j >= 0 && items[j] > item) items[j + 1] = items[j--]
    items[j + 1] = item
  }
  return items
}
\`\`\`

For anything else, \`Array.prototype.sort\` is stable since ES2019 and the safe default.`

/** The answer in the pieces a model streams: a few words at a time. */
const pieces = ANSWER.match(/\S*\s*/g)!.filter(Boolean)

const model = new FakeOpenAI().always({ stream: answer(pieces, { usage: [41, 212], model: 'gpt-4o-mini' }), delayMs: 8 })
const server = await spawnServer([process.execPath, 'src/main.ts'], {
  cwd: root,
  args: ['--store', 'memory', '--step', 'openai', '--openai-base-url', model.baseUrl, '--model', 'gpt-4o-mini'],
})
const browser = await launchBrowser()
try {
  // UTC and en-US: the times on the messages read the same whoever runs this.
  const context = await browser.newContext({
    viewport: { width: WIDTH, height: 800 },
    colorScheme: 'light',
    timezoneId: 'UTC',
    locale: 'en-US',
  })
  const page = await context.newPage()
  const created = await fetch(`${server.base}/api/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  })
  if (created.status !== 201) throw new Error(`POST /api/sessions answered ${created.status}: ${await created.text()}`)
  const { url } = (await created.json()) as { url: string }
  await page.goto(`${server.base}${url}`)
  await page.locator('#message').fill(QUESTION)
  await page.locator('#message').press('Enter')
  await page.locator('.answer.final code[data-highlight="done"]').waitFor({ timeout: 30_000 })
  await page.locator('#message').blur()
  // Tall enough for the whole chat above the composer, and no taller.
  const height = await page.evaluate(() => document.documentElement.scrollHeight)
  await page.setViewportSize({ width: WIDTH, height: Math.min(height, MAX_HEIGHT) })
  await page.evaluate(() => window.scrollTo({ top: 0 }))
  await page.screenshot({ path: out })
  console.log(`wrote ${out} (${Bun.file(out).size} bytes)`)
} finally {
  await browser.close()
  await server.stop()
  await model.stop()
}
