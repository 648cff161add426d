import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { MAX_BODY_BYTES } from '../../src/limits.ts'
import { postChunked } from '../helpers/raw-http.ts'
import { spawnServer, type SpawnedServer } from '../helpers/spawn-server.ts'
import { testServer } from '../helpers/test-app.ts'
import { slowTests } from '../helpers/slow-tests.ts'

slowTests()

const JSON_TYPE = { 'content-type': 'application/json' }
const FORM_TYPE = { 'content-type': 'application/x-www-form-urlencoded' }
/** A JSON message body of exactly `bytes` bytes. */
const messageOf = (bytes: number) => JSON.stringify({ text: 'x'.repeat(bytes - '{"text":""}'.length) })
/** A chat form body of exactly `bytes` bytes. */
const formOf = (id: string, bytes: number) => `client_id=${id}&message=${'x'.repeat(bytes - `client_id=${id}&message=`.length)}`
const encoder = new TextEncoder()

/** A body fetch sends as a stream: chunked on the wire, no Content-Length. */
function streamed(body: string): ReadableStream<Uint8Array> {
  const bytes = encoder.encode(body)
  let at = 0
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close()
      controller.enqueue(bytes.subarray(at, at + 64 * 1024))
      at += 64 * 1024
    },
  })
}

async function expectTooLarge(status: number, contentType: string | undefined | null, body: string, html = false) {
  expect(status).toBe(413)
  if (html) {
    expect(contentType).toStartWith('text/html')
    expect(body).toContain('<!doctype html>')
    expect(body).toMatch(/The request body is .+; the limit is 1048576 bytes\. Send a smaller body\./)
  } else {
    expect(contentType).toStartWith('application/json')
    const parsed = JSON.parse(body) as { error: { code: string; message: string } }
    expect(parsed.error.code).toBe('BODY_TOO_LARGE')
    expect(parsed.error.message).toMatch(/^The request body is .+; the limit is 1048576 bytes\. Send a smaller body\.$/)
  }
}

/** The limits every server must keep, whether built by the tests or started as `bun src/main.ts`. */
function bodyLimitSuite(server: () => { base: string }) {
  const session = async () => ((await (await fetch(`${server().base}/api/sessions`, { method: 'POST' })).json()) as { id: string }).id
  const messages = (id: string) => `${server().base}/api/sessions/${id}/messages`

  test('a 2 MB JSON body with Content-Length gets 413 and a JSON sentence', async () => {
    const res = await fetch(messages(await session()), { method: 'POST', headers: JSON_TYPE, body: messageOf(2 * MAX_BODY_BYTES) })
    await expectTooLarge(res.status, res.headers.get('content-type'), await res.text())
  })

  test('a body far over the limit, past where Bun would refuse it without a word, still gets the sentence', async () => {
    const res = await fetch(messages(await session()), { method: 'POST', headers: JSON_TYPE, body: messageOf(20 * MAX_BODY_BYTES) })
    await expectTooLarge(res.status, res.headers.get('content-type'), await res.text())
  })

  test('the same body chunked (no Content-Length), from fetch and from a bare socket, gets 413 and a sentence', async () => {
    const id = await session()
    const res = await fetch(messages(id), {
      method: 'POST',
      headers: JSON_TYPE,
      body: streamed(messageOf(2 * MAX_BODY_BYTES)),
      duplex: 'half',
    } as RequestInit)
    await expectTooLarge(res.status, res.headers.get('content-type'), await res.text())
    const raw = await postChunked(server().base, `/api/sessions/${id}/messages`, JSON_TYPE, encoder.encode(messageOf(2 * MAX_BODY_BYTES)))
    await expectTooLarge(raw.status, raw.headers['content-type'], raw.body)
  })

  test('a form post over the limit gets 413 and an HTML page, with Content-Length or chunked', async () => {
    const id = await session()
    const res = await fetch(`${server().base}/chat`, { method: 'POST', headers: FORM_TYPE, body: formOf(id, 2 * MAX_BODY_BYTES) })
    await expectTooLarge(res.status, res.headers.get('content-type'), await res.text(), true)
    const raw = await postChunked(server().base, '/chat', FORM_TYPE, encoder.encode(formOf(id, MAX_BODY_BYTES + 1)))
    await expectTooLarge(raw.status, raw.headers['content-type'], raw.body, true)
  })

  test('a body just under the limit passes the limit and meets the message rule instead', async () => {
    const id = await session()
    const res = await fetch(messages(id), { method: 'POST', headers: JSON_TYPE, body: messageOf(MAX_BODY_BYTES) })
    expect(res.status).toBe(413)
    expect(await res.text()).toContain('Send a shorter message')
    const raw = await postChunked(server().base, `/api/sessions/${id}/messages`, JSON_TYPE, encoder.encode(messageOf(MAX_BODY_BYTES)))
    expect(raw.status).toBe(413)
    expect(raw.body).toContain('Send a shorter message')
  })

  test('the server stays healthy after refusing them', async () => {
    expect((await fetch(`${server().base}/healthz`)).status).toBe(200)
    const res = await fetch(messages(await session()), { method: 'POST', headers: JSON_TYPE, body: JSON.stringify({ text: 'still fine' }) })
    expect(res.status).toBe(202)
  })
}

describe('body limit on a port of the test app', () => {
  let server: Awaited<ReturnType<typeof testServer>>
  beforeAll(async () => {
    server = await testServer()
  })
  afterAll(() => server.close())
  bodyLimitSuite(() => server)
})

describe('body limit on `bun src/main.ts`, behind Bun’s own maxRequestBodySize', () => {
  let server: SpawnedServer
  beforeAll(async () => {
    // The rate limit off: this suite sends some thirty POSTs from one address in a second, and measures the body limit.
    server = await spawnServer([process.execPath, 'src/main.ts'], {
      cwd: join(import.meta.dir, '../..'),
      args: ['--store', 'memory', '--rate-limit', 'off'],
    })
  })
  afterAll(() => server.stop())
  bodyLimitSuite(() => server)
})
