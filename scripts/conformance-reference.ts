import { existsSync } from 'node:fs'
import { join } from 'node:path'

/**
 * `bun scripts/conformance-reference.ts [reference-dir]`: runs the Durable Streams conformance suite once against
 * the reference server, to prove the harness (test/helpers/conformance.ts) and to see what the reference itself fails.
 * The reference server (@durable-streams/server 0.3.7) is not a dependency of stepstream: install it outside the repo
 * (`mkdir /tmp/ref && cd /tmp/ref && npm init -y && npm i @durable-streams/server@0.3.7`) and pass that folder
 * (default /tmp/ref, or DS_REFERENCE_DIR). It is started under Node on 127.0.0.1 with an in-memory store, so each run
 * starts empty. Exits with `bun test`'s code; one run takes 20–60 s.
 */

/** The reference server's long-poll timeout here; milliseconds (the suite's tests time out after 5 s). */
const LONG_POLL_MS = 3000
/** How long the reference server may take to print its URL; milliseconds. */
const READY_MS = 30_000
/** How long the whole suite may run before it is stopped; milliseconds. */
const SUITE_MS = 5 * 60_000

const referenceDir = process.argv[2] ?? process.env.DS_REFERENCE_DIR ?? '/tmp/ref'
if (!existsSync(join(referenceDir, 'node_modules/@durable-streams/server'))) {
  console.error(`No @durable-streams/server in ${referenceDir}: install it there with npm i @durable-streams/server@0.3.7.`)
  process.exit(2)
}

const start = `
import { DurableStreamTestServer } from '@durable-streams/server'
const server = new DurableStreamTestServer({ host: '127.0.0.1', port: 0, longPollTimeout: ${LONG_POLL_MS} })
console.log(await server.start())
process.on('SIGTERM', () => server.stop().then(() => process.exit(0)))
`
const server = Bun.spawn(['node', '--input-type=module', '-e', start], { cwd: referenceDir, stdout: 'pipe', stderr: 'inherit' })
try {
  const baseUrl = await firstLine(server.stdout, READY_MS)
  console.log(`reference server at ${baseUrl}`)
  const suite = Bun.spawn(['bun', 'test', './test/conformance/suite.conformance.ts'], {
    cwd: join(import.meta.dir, '..'),
    env: { ...process.env, DS_CONFORMANCE_URL: baseUrl, DS_LONG_POLL_MS: String(LONG_POLL_MS) },
    stdout: 'inherit',
    stderr: 'inherit',
    timeout: SUITE_MS,
  })
  process.exitCode = await suite.exited
} finally {
  server.kill('SIGTERM')
  await server.exited
}

/** The first line `stream` prints, or a failure after `timeoutMs`. */
async function firstLine(stream: ReadableStream<Uint8Array>, timeoutMs: number): Promise<string> {
  const reader = stream.getReader()
  const decoder = new TextDecoder()
  const timer = setTimeout(() => reader.cancel(), timeoutMs)
  let text = ''
  try {
    while (!text.includes('\n')) {
      const { done, value } = await reader.read()
      if (done) throw new Error(`the reference server printed no URL within ${timeoutMs} ms (or exited)`)
      text += decoder.decode(value, { stream: true })
    }
  } finally {
    clearTimeout(timer)
    reader.releaseLock()
  }
  return text.slice(0, text.indexOf('\n')).trim()
}
