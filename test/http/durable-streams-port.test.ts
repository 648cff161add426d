import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { postChunked } from '../helpers/raw-http.ts'
import { rawRequest } from '../helpers/raw-request.ts'
import { testServer } from '../helpers/test-app.ts'

/** What Bun and the app do with a stream's request before the route sees it, on a real port. */

const MAX_BODY = 4096
let server: Awaited<ReturnType<typeof testServer>>
beforeAll(async () => {
  server = await testServer({ maxBodyBytes: MAX_BODY })
})
afterAll(() => server.close())

const at = (path: string) => `${server.base}/v1/stream/${path}`
const create = (name: string, body: BodyInit = '', type = 'application/octet-stream') =>
  fetch(at(name), { method: 'PUT', headers: { 'content-type': type }, body })

describe('Durable Streams on a real port', () => {
  test('a body of the cap is stored byte for byte; one byte more is 413 with the protocol headers, stored nowhere', async () => {
    expect((await create('capped')).status).toBe(201)
    const exact = Uint8Array.from({ length: MAX_BODY }, (_, i) => (i * 7) % 256)
    const post = (body: Uint8Array<ArrayBuffer>) =>
      fetch(at('capped'), { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body })
    expect((await post(exact)).status).toBe(204)
    const over = await post(new Uint8Array(MAX_BODY + 1))
    expect(over.status).toBe(413)
    expect(over.headers.get('x-content-type-options')).toBe('nosniff')
    expect(over.headers.get('access-control-allow-origin')).toBe('*')
    const read = await fetch(at('capped'))
    expect(new Uint8Array(await read.arrayBuffer())).toEqual(exact)
    // Raw bytes are saved by a browser, never rendered as a page.
    expect(read.headers.get('content-disposition')).toBe('attachment')
  })

  test('a chunked body (no Content-Length) past the cap is 413 too', async () => {
    expect((await create('chunked')).status).toBe(201)
    const answer = await postChunked(
      server.base,
      '/v1/stream/chunked',
      { 'content-type': 'application/octet-stream' },
      new Uint8Array(MAX_BODY * 4),
    )
    expect(answer.status).toBe(413)
    expect(await (await fetch(at('chunked'))).arrayBuffer()).toHaveProperty('byteLength', 0)
  })

  test('a .. segment is resolved before routing (the name is the path every client would send), a control character refused', async () => {
    const host = `Host: ${new URL(server.base).host}`
    const send = (path: string) =>
      rawRequest(server.base, {
        head: [`PUT ${path} HTTP/1.1`, host, 'Content-Type: text/plain', 'Content-Length: 1', 'Connection: close'],
        body: new TextEncoder().encode('x'),
      })
    const dotted = await send('/v1/stream/a/../b')
    expect(dotted.status).toBe(201)
    expect(dotted.headers.get('location')).toEndWith('/v1/stream/b')
    // Escaped dots are dots to a URL parser: the same stream, created already.
    expect((await send('/v1/stream/a/%2e%2e/b')).status).toBe(200)
    expect((await send('/v1/stream/a\x01b')).status).toBeGreaterThanOrEqual(400)
    expect((await fetch(at('a'))).status).toBe(404)
    expect((await fetch(at('a/b'))).status).toBe(404)
  })

  test('HEAD answers the headers of the stream without a body', async () => {
    expect((await create('headed', 'abc', 'text/plain')).status).toBe(201)
    const answer = await fetch(at('headed'), { method: 'HEAD' })
    expect(answer.status).toBe(200)
    expect(answer.headers.get('stream-next-offset')).toBe('0000000000000000_0000000000000001')
    expect(answer.headers.get('cache-control')).toBe('no-store')
    expect(await answer.text()).toBe('')
  })
})
