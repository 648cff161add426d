import { afterEach, describe, expect, test } from 'bun:test'
import { MAX_STREAM_NAME_BYTES, STREAM_READ_CHUNK_BYTES } from '../../src/streams/stream-limits.ts'
import { testApp, url } from '../helpers/test-app.ts'
import { until } from '../helpers/wait.ts'

/**
 * What the conformance suite does not check of `/v1/stream/*` (test/conformance/*.conformance.ts runs it): auth, the
 * reserved names, names that are hostile, and names that would be an object's own keys.
 */

const TOKEN = 'a-token-of-sixteen-chars-or-more'
let close: (() => Promise<void>) | undefined
afterEach(async () => {
  await close?.()
  close = undefined
})

async function app(options: Parameters<typeof testApp>[0] = {}) {
  const made = await testApp(options)
  close = made.close
  return (path: string, init: RequestInit = {}) => made.app.handle(new Request(url(path), init))
}

const put = (body = '', headers: Record<string, string> = {}): RequestInit => ({
  method: 'PUT',
  headers: { 'content-type': 'text/plain', ...headers },
  body,
})

describe('Durable Streams routes', () => {
  test('with --auth-token on, every method needs the token, and answers carry no CORS for other origins', async () => {
    const handle = await app({ authTokens: [TOKEN] })
    const bearer = { authorization: `Bearer ${TOKEN}` }
    const refused = await handle('/v1/stream/private', put('x'))
    expect(refused.status).toBe(401)
    expect(refused.headers.get('x-content-type-options')).toBe('nosniff')
    expect(refused.headers.get('access-control-allow-origin')).toBeNull()
    for (const method of ['GET', 'HEAD', 'POST', 'DELETE', 'OPTIONS']) {
      expect((await handle('/v1/stream/private', { method })).status).toBe(401)
    }
    expect((await handle('/v1/stream/private', put('x', bearer))).status).toBe(201)
    const read = await handle('/v1/stream/private', { headers: bearer })
    expect(read.status).toBe(200)
    expect(await read.text()).toBe('x')
    expect(read.headers.get('access-control-allow-origin')).toBeNull()
    // A page that ends before the head may be cached, but behind auth it is the client's own: no shared cache keeps it.
    const half = 'h'.repeat(STREAM_READ_CHUNK_BYTES / 2 + 1)
    for (const _ of [1, 2]) {
      const appended = await handle('/v1/stream/private', {
        method: 'POST',
        headers: { ...bearer, 'content-type': 'text/plain' },
        body: half,
      })
      expect(appended.status).toBe(204)
    }
    const page = await handle('/v1/stream/private?offset=0000000000000000_0000000000000001', { headers: bearer })
    expect(page.headers.get('stream-up-to-date')).toBeNull()
    expect(page.headers.get('cache-control')).toBe('private, max-age=60')
    // And a page of another site cannot write with a browser's credentials.
    const foreign = await handle('/v1/stream/private', {
      method: 'POST',
      headers: { ...bearer, 'content-type': 'text/plain', origin: 'https://elsewhere.example', 'sec-fetch-site': 'cross-site' },
      body: 'y',
    })
    expect(foreign.status).toBe(403)
  })

  test('with auth off, the protocol CORS: any origin reads and writes, and a preflight allows its headers', async () => {
    const handle = await app()
    const cross = { origin: 'https://elsewhere.example', 'sec-fetch-site': 'cross-site' }
    expect((await handle('/v1/stream/open', put('a', cross))).status).toBe(201)
    const posted = await handle('/v1/stream/open', { method: 'POST', headers: { ...cross, 'content-type': 'text/plain' }, body: 'b' })
    expect(posted.status).toBe(204)
    expect(posted.headers.get('access-control-allow-origin')).toBe('*')
    const preflight = await handle('/v1/stream/open', { method: 'OPTIONS', headers: { ...cross, 'access-control-request-method': 'POST' } })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-headers')).toContain('Producer-Id')
    expect(preflight.headers.get('access-control-allow-methods')).toContain('PUT')
  })

  test('names under sessions/ and view/ are reserved for chats: writes 405, reads of no chat 404, each with a sentence', async () => {
    const handle = await app()
    for (const name of ['sessions', 'sessions/abc', 'view/abc']) {
      const write = await handle(`/v1/stream/${name}`, put('x'))
      expect(write.status).toBe(405)
      expect(write.headers.get('allow')).toBe('GET, HEAD')
      expect(((await write.json()) as { error: { message: string } }).error.message).toContain('read-only views of chats')
      const read = await handle(`/v1/stream/${name}`)
      expect(read.status).toBe(404)
      expect(((await read.json()) as { error: { message: string } }).error.message).toContain('No chat has that name')
    }
    // A name that merely starts with the same letters is an ordinary stream.
    expect((await handle('/v1/stream/sessionsx', put('x'))).status).toBe(201)
  })

  test(`names: up to ${MAX_STREAM_NAME_BYTES} bytes; longer, empty segments and broken escapes are 400`, async () => {
    const handle = await app()
    expect((await handle(`/v1/stream/${'n'.repeat(MAX_STREAM_NAME_BYTES)}`, put('x'))).status).toBe(201)
    expect((await handle(`/v1/stream/${'n'.repeat(MAX_STREAM_NAME_BYTES + 1)}`, put('x'))).status).toBe(400)
    for (const name of ['a//b', 'a/', '%zz', 'a%2']) {
      const answer = await handle(`/v1/stream/${name}`, put('x'))
      expect(answer.status).toBe(400)
      expect(answer.headers.get('x-content-type-options')).toBe('nosniff')
    }
  })

  test('escaped control characters are part of an opaque name: each its own stream, never decoded into a header', async () => {
    const handle = await app()
    expect((await handle('/v1/stream/a%00b', put('nul'))).status).toBe(201)
    expect((await handle('/v1/stream/a%0D%0Ab', put('crlf'))).status).toBe(201)
    expect(await (await handle('/v1/stream/a%00b')).text()).toBe('nul')
    const created = await handle('/v1/stream/a%0D%0Ab')
    expect(await created.text()).toBe('crlf')
    expect((await handle('/v1/stream/a%01b')).status).toBe(404)
  })

  test("a stream's name is never an object key: __proto__, constructor and toString are streams like any other", async () => {
    const handle = await app()
    const names = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '__proto__/x']
    for (const name of names) expect((await handle(`/v1/stream/${name}`, put(`data of ${name}`))).status).toBe(201)
    for (const name of names) expect(await (await handle(`/v1/stream/${name}`)).text()).toBe(`data of ${name}`)
    expect(({} as Record<string, unknown>).x).toBeUndefined()
    expect((await handle('/v1/stream/valueOf')).status).toBe(404)
  })

  test('live reads hold a connection each: past --max-connections-per-ip 429, freed when the reader goes or the read fails', async () => {
    const made = await testApp({ connections: { max: 100, maxPerIp: 2 }, longPollMs: 60_000 })
    close = made.close
    const handle = (path: string, init: RequestInit = {}) => made.app.handle(new Request(url(path), init))
    expect((await handle('/v1/stream/live', put('x'))).status).toBe(201)
    // A live read of a stream that is not there is refused, and holds nothing.
    expect((await handle('/v1/stream/absent?offset=-1&live=sse')).status).toBe(404)
    expect(made.deps.connections.open).toBe(0)
    const first = await handle('/v1/stream/live?offset=-1&live=sse')
    const poll = new AbortController()
    const polling = handle('/v1/stream/live?offset=now&live=long-poll', { signal: poll.signal })
    await until(() => made.deps.connections.open === 2, { what: 'two live reads counted' })
    const third = await handle('/v1/stream/live?offset=-1&live=sse')
    expect(third.status).toBe(429)
    expect(third.headers.get('x-content-type-options')).toBe('nosniff')
    await first.body?.cancel()
    poll.abort()
    await polling.catch(() => undefined)
    await until(() => made.deps.connections.open === 0, { what: 'both freed' })
  })

  test('with auth on, creating a stream takes a token of the rate limit (429 with a sentence past it); appending does not', async () => {
    const handle = await app({ authTokens: [TOKEN], rateLimit: { capacity: 2, perMs: 60_000 } })
    const bearer = { authorization: `Bearer ${TOKEN}` }
    expect((await handle('/v1/stream/r1', put('x', bearer))).status).toBe(201)
    expect((await handle('/v1/stream/r2', put('x', bearer))).status).toBe(201)
    const refused = await handle('/v1/stream/r3', put('x', bearer))
    expect(refused.status).toBe(429)
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain('Too many new streams')
    for (let i = 0; i < 5; i++) {
      const appended = await handle('/v1/stream/r1', { method: 'POST', headers: { ...bearer, 'content-type': 'text/plain' }, body: 'y' })
      expect(appended.status).toBe(204)
    }
  })

  test("with auth off, a PUT at any path creates, at the rate limit's pace: a flood of creations (or forks) is 429", async () => {
    const handle = await app({ rateLimit: { capacity: 2, perMs: 60_000 } })
    for (let i = 0; i < 2; i++) expect((await handle(`/v1/stream/free${i}`, put('x'))).status).toBe(201)
    const refused = await handle('/v1/stream/free2', { method: 'PUT', headers: { 'stream-forked-from': '/v1/stream/free0' } })
    expect(refused.status).toBe(429)
    expect(refused.headers.get('retry-after')).not.toBeNull()
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain('Too many new streams')
    // Appends are no new work.
    for (let i = 0; i < 5; i++) {
      expect((await handle('/v1/stream/free0', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'y' })).status).toBe(204)
    }
  })

  test('a stream opened as a page runs no script of this origin: every answer carries a sandboxing CSP', async () => {
    const handle = await app()
    const html = '<script>alert(document.domain)</script>'
    expect((await handle('/v1/stream/page', { method: 'PUT', headers: { 'content-type': 'text/html' }, body: html })).status).toBe(201)
    for (const answer of [
      await handle('/v1/stream/page'),
      await handle('/v1/stream/page?offset=-1&live=long-poll'),
      await handle('/v1/stream/page', { method: 'HEAD' }),
      await handle('/v1/stream/absent'),
    ]) {
      expect(answer.headers.get('content-security-policy')).toBe("sandbox; default-src 'none'")
      expect(answer.headers.get('x-content-type-options')).toBe('nosniff')
    }
  })

  test('a refusal is never cached, and a 201 names the stream without the query of its PUT', async () => {
    const handle = await app()
    expect((await handle('/v1/stream/absent')).headers.get('cache-control')).toBe('no-store')
    const made = await handle('/v1/stream/located?x=1', put('x'))
    expect(made.headers.get('location')).toBe('http://localhost/v1/stream/located')
  })

  test('a PUT whose expiry is already past is 400 naming the header, and creates nothing', async () => {
    const handle = await app()
    for (const [header, value] of [
      ['stream-ttl', '0'],
      ['stream-expires-at', '2000-01-01T00:00:00Z'],
    ] as const) {
      const refused = await handle('/v1/stream/never', { method: 'PUT', headers: { [header]: value } })
      expect(refused.status).toBe(400)
      expect(((await refused.json()) as { error: { message: string } }).error.message).toContain(
        header === 'stream-ttl' ? 'Stream-TTL' : 'Stream-Expires-At',
      )
    }
    expect((await handle('/v1/stream/never', { method: 'HEAD' })).status).toBe(404)
  })

  test("HEAD's ETag is a GET from -1's, for a stream read whole", async () => {
    const handle = await app()
    await handle('/v1/stream/tagged', put('x'))
    const head = (await handle('/v1/stream/tagged', { method: 'HEAD' })).headers.get('etag')
    expect(head).toBe((await handle('/v1/stream/tagged?offset=-1')).headers.get('etag'))
  })

  test('each operation is counted with its status in stepstream_stream_operations_total', async () => {
    const made = await testApp()
    close = made.close
    const handle = (path: string, init: RequestInit = {}) => made.app.handle(new Request(url(path), init))
    await handle('/v1/stream/counted', put('x'))
    await handle('/v1/stream/counted', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'y' })
    await handle('/v1/stream/counted')
    await handle('/v1/stream/absent', { method: 'HEAD' })
    const text = await made.deps.metrics.render()
    for (const sample of [
      'stepstream_stream_operations_total{operation="create",status="201"} 1',
      'stepstream_stream_operations_total{operation="append",status="204"} 1',
      'stepstream_stream_operations_total{operation="read",status="200"} 1',
      'stepstream_stream_operations_total{operation="head",status="404"} 1',
    ]) {
      expect(text).toContain(sample)
    }
  })
})
