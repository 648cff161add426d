import { afterAll, beforeAll, expect, test } from 'bun:test'
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { browserAvailable, launchBrowser, leaveScreenshot, watchErrors } from '../helpers/browser.ts'
import { parseMetrics, sampleSum } from '../helpers/prometheus.ts'
import { SseReader, hasEnd } from '../helpers/sse-client.ts'
import { spawnServer, type SpawnedServer } from '../helpers/spawn-server.ts'
import { startChat } from '../helpers/start-chat.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { until } from '../helpers/wait.ts'
import packageJson from '../../package.json' with { type: 'json' }
import { gitCommit, versionLine } from '../../src/version.ts'

slowTests()

const root = join(import.meta.dir, '../..')
const buildDir = mkdtempSync(join(tmpdir(), 'stepstream-build-'))
const runDir = mkdtempSync(join(tmpdir(), 'stepstream-alone-'))
let server: SpawnedServer

beforeAll(async () => {
  // `bun run build`, into a private folder so parallel work on dist/ is untouched.
  const build = Bun.spawnSync([process.execPath, 'scripts/build.ts', '--outfile', join(buildDir, 'stepstream')], { cwd: root })
  if (build.exitCode !== 0) throw new Error(`build failed: ${build.stderr.toString()}`)
  copyFileSync(join(buildDir, 'stepstream'), join(runDir, 'stepstream'))
  Bun.spawnSync(['chmod', '+x', join(runDir, 'stepstream')])
  server = await spawnServer(['./stepstream'], { cwd: runDir, args: ['--echo-delay', '5'] })
}, 60_000)

afterAll(async () => {
  await server?.stop()
  rmSync(buildDir, { recursive: true, force: true })
  rmSync(runDir, { recursive: true, force: true })
})

test('the lone binary creates ./stepstream.db in its folder', () => {
  expect(existsSync(join(runDir, 'stepstream.db'))).toBe(true)
  const expected = ['stepstream', 'stepstream.db', 'stepstream.db-wal', 'stepstream.db-shm', 'stepstream.db.lock']
  expect(readdirSync(runDir).filter((f) => !expected.includes(f))).toEqual([])
})

test('the lone binary checkpoints its WAL from a worker thread: the database file grows while it serves', async () => {
  const database = join(runDir, 'stepstream.db')
  const before = statSync(database).size
  // A few hundred kilobytes of WAL, far below what the serving connection checkpoints by itself (2,000 pages, or the
  // backstop): only the worker (a Blob URL module that imports bun:sqlite, sqlite-checkpointer.ts) copies them into
  // the file while the server runs.
  for (let i = 0; i < 3; i++) {
    const chat = ((await (await fetch(`${server.base}/api/sessions`, { method: 'POST' })).json()) as { id: string }).id
    const sent = await fetch(`${server.base}/api/sessions/${chat}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'checkpoint me' }),
    })
    expect(sent.status).toBe(202)
  }
  await until(() => statSync(database).size > before, { what: 'the database file to grow' })
})

test('the lone binary serves the page and every asset it references', async () => {
  const page = await fetch(`${server.base}/`)
  expect(page.status).toBe(200)
  const html = await page.text()
  const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!)
  expect(assets.length).toBeGreaterThanOrEqual(4)
  for (const asset of assets) {
    const res = await fetch(`${server.base}${asset}`)
    expect(res.status).toBe(200)
    expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(100)
  }
})

test('the lone binary serves the code highlighter its page names (highlight.js, embedded)', async () => {
  const html = await (await fetch(`${server.base}/`)).text()
  const res = await fetch(`${server.base}${html.match(/data-highlighter="([^"]+)"/)![1]}`)
  expect(res.status).toBe(200)
  const body = await res.text()
  expect(body).toStartWith('/*!\n  Highlight.js v11.12.0')
  expect(body).toContain('self.onmessage')
})

test.skipIf(!browserAvailable('the lone binary in a browser'))(
  'in a browser, the lone binary’s page highlights code and fetches nothing from elsewhere',
  async () => {
    const browser = await launchBrowser()
    try {
      const page = await browser.newPage()
      const errors = watchErrors(page)
      const requests: string[] = []
      page.on('request', (request) => requests.push(request.url()))
      await page.goto(await startChat(server.base))
      await page.locator('.answer.final').first().waitFor()
      await page.locator('#message').fill('```js\nconst answer = 42\n```')
      await page.locator('#message').press('Enter')
      await page.locator('.answer.final').nth(1).locator('code[data-highlight="done"] .hljs-keyword').waitFor()
      expect(requests.filter((url) => !url.startsWith(`${server.base}/`))).toEqual([])
      expect(errors).toEqual([])
      await leaveScreenshot(page, 'binary-highlight')
    } finally {
      await browser.close()
    }
  },
)

test('the lone binary streams an echo run to final', async () => {
  const id = (await startChat(server.base)).split('=')[1]!
  const stream = await SseReader.open(`${server.base}/api/sessions/${id}/stream`)
  const messages = await stream.until((m) => hasEnd(m))
  stream.close()
  expect(messages.at(-1)!.event).toBe('final')
  expect(JSON.parse(messages.at(-1)!.data).text).toBe('Hello! Please tell me a short story about a robot.')
  const page = await (await fetch(`${server.base}/?client_id=${id}`)).text()
  // The question and the answer in the transcript (the tab's title is the question too).
  expect(page.replace(/<title>.*?<\/title>/s, '').match(/Hello! Please tell me a short story about a robot\./g)?.length).toBe(2)
})

test('the lone binary serves /metrics through prom-client: process metrics and the run it just streamed', async () => {
  const res = await fetch(`${server.base}/metrics`)
  expect(res.status).toBe(200)
  const scrape = parseMetrics(await res.text())
  expect(sampleSum(scrape, 'process_resident_memory_bytes')).toBeGreaterThan(0)
  expect(sampleSum(scrape, 'stepstream_run_duration_seconds_count', { step: 'echo', outcome: 'final' })).toBeGreaterThanOrEqual(1)
  expect(sampleSum(scrape, 'stepstream_store_commit_seconds_count')).toBeGreaterThan(0)
  // The server samples its event loop (a run of a few seconds is hundreds of samples).
  expect(sampleSum(scrape, 'stepstream_event_loop_lag_seconds_count')).toBeGreaterThan(0)
})

test('the binary answers --help and --version, and a bad flag exits 2 with one line', () => {
  const help = Bun.spawnSync([join(runDir, 'stepstream'), '--help'])
  expect(help.exitCode).toBe(0)
  expect(help.stdout.toString()).toContain('--echo-delay')
  const version = Bun.spawnSync([join(runDir, 'stepstream'), '--version'])
  // Run away from git, it still names the commit it was built from (or an honest "unknown" where git is missing).
  expect(version.stdout.toString()).toBe(versionLine(packageJson.version, gitCommit(root) ?? 'unknown'))
  const bad = Bun.spawnSync([join(runDir, 'stepstream'), '--echo-delay', 'soon'], { cwd: runDir })
  expect(bad.exitCode).toBe(2)
  expect(bad.stderr.toString().trim().split('\n')).toHaveLength(1)
})

test('a second instance on a port in use exits 2 with one line instead of sharing the port', () => {
  const port = new URL(server.base).port
  const second = Bun.spawnSync([join(runDir, 'stepstream'), '--port', port, '--host', '127.0.0.1', '--store', 'memory'], {
    cwd: runDir,
    timeout: 10_000,
  })
  expect(second.exitCode).toBe(2)
  const lines = second.stderr.toString().trim().split('\n')
  expect(lines).toEqual([expect.stringContaining(`cannot listen on 127.0.0.1:${port}`)])
})
