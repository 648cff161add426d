import { existsSync } from 'node:fs'
import type { Page } from 'playwright-core'
import { CHROMIUM, launchBrowser } from '../../test/helpers/browser.ts'
import { createSessions, postMessage, streamPath } from '../api.ts'
import { mapLimit } from '../http-client.ts'
import { startLoad } from '../load-pool.ts'
import { type RunningServer, startServer } from '../server-process.ts'
import { proseOf } from '../text.ts'
import { type Metrics, type Scenario, sqliteStore } from './scenario.ts'

/** The pace of every run, as in "many runs": one token every 20 ms. */
const ECHO_DELAY_MS = 20
/** Characters of each measured message: its answer takes about 20 × 20 ms to stream. */
const MESSAGE_CHARS = 20
/** Characters of each background run: long enough to outlast the measured messages. */
const LOAD_CHARS = 3000

/**
 * Runs in the page (both pages share the markup it reads: `#transcript`, `form#composer`, `#message`, and a run's
 * `.answer` with `data-state`, `final` once finished). Types `text`, submits the form as a person would (Enter does the
 * same), and resolves with the milliseconds from the submit to the first partial painted and to the final painted.
 * "Painted" is the first task after the animation frame that follows the change: the frame that shows it.
 */
const MEASURE = `(text) => new Promise((resolve, reject) => {
  const transcript = document.getElementById('transcript')
  const finals = () => transcript.querySelectorAll('.answer[data-state="final"]').length
  const before = finals()
  let first, t0
  const painted = (mark) => requestAnimationFrame(() => {
    const channel = new MessageChannel()
    channel.port1.onmessage = () => mark(performance.now() - t0)
    channel.port2.postMessage(0)
  })
  const timer = setTimeout(() => { observer.disconnect(); reject(new Error('no final within 30 s')) }, 30000)
  const observer = new MutationObserver(() => {
    if (first === undefined && [...transcript.querySelectorAll('.answer:not([data-state="final"]) .text')].some((e) => e.textContent.length > 0)) {
      first = null
      painted((ms) => { first = ms })
    }
    if (finals() > before) {
      observer.disconnect()
      clearTimeout(timer)
      painted((ms) => {
        const check = () => first === null ? setTimeout(check, 1) : resolve({ first: first ?? ms, final: ms })
        check()
      })
    }
  })
  observer.observe(transcript, { childList: true, subtree: true, characterData: true, attributes: true })
  document.getElementById('message').value = text
  t0 = performance.now()
  document.getElementById('composer').requestSubmit()
})`

interface Timing {
  first: number
  final: number
}

/** Opens the chat page of a new session on `server`, waits for its stream, and times `count` messages one by one. */
async function timeMessages(page: Page, server: RunningServer, count: number): Promise<Timing[]> {
  const [id] = await createSessions(server, 1)
  await page.goto(`http://${server.host}:${server.port}/?client_id=${id}`)
  const measure = (text: string) => page.evaluate(`(${MEASURE})(${JSON.stringify(text)})`) as Promise<Timing>
  // A first message, not counted: the stream is open once its answer arrives, and both pages are warm.
  await measure(proseOf(MESSAGE_CHARS))
  const timings: Timing[] = []
  for (let i = 0; i < count; i++) timings.push(await measure(proseOf(MESSAGE_CHARS)))
  return timings
}

/** The many-runs load (one viewer per session, every run at 50 tokens/s) running until `close`. */
async function backgroundRuns(server: RunningServer, sessions: number) {
  const ids = await createSessions(server, sessions)
  const load = startLoad({ host: server.host, port: server.port, paths: ids.map(streamPath), until: 'hold', deadlineMs: 300_000 })
  await load.opened
  await mapLimit(ids, 64, (id) => postMessage(server, id, proseOf(LOAD_CHARS)))
  return load
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!
}

function summary(prefix: string, timings: Timing[]): Metrics {
  const first = timings.map((t) => t.first)
  const final = timings.map((t) => t.final)
  return {
    [`${prefix}FirstP50Ms`]: quantile(first, 0.5),
    [`${prefix}FirstP99Ms`]: quantile(first, 0.99),
    [`${prefix}FinalP50Ms`]: quantile(final, 0.5),
    [`${prefix}FinalP99Ms`]: quantile(final, 0.99),
  }
}

let skipped = false

/**
 * A real browser's view: Chromium (playwright-core, Debian's /usr/bin/chromium) on each server's chat page, timing
 * from the form's submit to the first partial painted and to the final painted, over N messages of 20 characters
 * streamed at 50 tokens/s; first on a quiet server, then while the "many runs" load (its session count, runs at the
 * same pace) streams on the same server. The baseline's page (bench/baseline.ts, `GET /`) is the smallest that does
 * the same: a form posted with fetch, one EventSource, the text swapped in. Skipped, with one line, without Chromium.
 */
export const browser: Scenario = {
  key: 'browser',
  title: (s) =>
    `browser (Chromium, ${s.browserMessages} messages × ${MESSAGE_CHARS} chars at 50 tokens/s; under load: ${s.manyRunsSessions.toLocaleString('en')} runs beside)`,
  async run(context) {
    if (!existsSync(CHROMIUM)) {
      if (!skipped) process.stderr.write(`browser: skipped, no Chromium at ${CHROMIUM} (apt-get install -y chromium)\n`)
      skipped = true
      return undefined
    }
    const chromium = await launchBrowser()
    const server = await startServer(context.target, { echoDelayMs: ECHO_DELAY_MS, store: sqliteStore(context, 'browser') })
    try {
      const page = await chromium.newPage()
      const quiet = await timeMessages(page, server, context.sizes.browserMessages)
      const load = await backgroundRuns(server, context.sizes.manyRunsSessions)
      const loaded = await timeMessages(page, server, context.sizes.browserMessages)
      const client = await load.close()
      return { ...summary('quiet', quiet), ...summary('loaded', loaded), failed: client.failed }
    } finally {
      await chromium.close()
      await server.stop()
    }
  },
}
