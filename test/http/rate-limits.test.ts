import { afterEach, describe, expect, test } from 'bun:test'
import { rateLimitSpec } from '../../src/config.ts'
import { parseMetrics, sampleSum } from '../helpers/prometheus.ts'
import { testApp, url } from '../helpers/test-app.ts'
import { eventually, until } from '../helpers/wait.ts'

type Made = Awaited<ReturnType<typeof testApp>>
let made: Made
afterEach(() => made?.close())

const from = (ip: string) => ({ 'x-forwarded-for': `203.0.113.50, ${ip}` })
const call = (path: string, init: RequestInit = {}) => made.app.handle(new Request(url(path), init))
const newSession = (ip: string) => call('/api/sessions', { method: 'POST', headers: from(ip) })

/** A refusal: its status, a `Retry-After` of whole seconds, and a sentence under the code. */
async function expectRefused(res: Response, status: number, code: string, sentence: RegExp) {
  expect(res.status).toBe(status)
  expect(res.headers.get('retry-after')).toMatch(/^[1-9]\d*$/)
  const body = (await res.json()) as { error: { code: string; message: string } }
  expect(body.error.code).toBe(code)
  expect(body.error.message).toMatch(sentence)
}

async function rejected(reason: string): Promise<number> {
  // Counted once the response is sent (Elysia's afterResponse): wait for it to land.
  const count = async () => sampleSum(parseMetrics(await (await call('/metrics')).text()), 'stepstream_rejected_total', { reason })
  return eventually(
    async () => {
      const now = await count()
      return now > 0 ? now : undefined
    },
    { what: `a refusal counted with reason ${reason}` },
  )
}

describe('rate limit: a token bucket per client address', () => {
  test('a person chatting with the defaults never meets it: a new chat, then 10 messages', async () => {
    made = await testApp({ rateLimit: rateLimitSpec('30/m'), trustProxy: true })
    const started = await call('/start', { method: 'POST', headers: from('198.51.100.7') })
    expect(started.status).toBe(303)
    const id = new URL(started.headers.get('location')!, 'http://localhost').searchParams.get('client_id')!
    await made.deps.runner.settled(id)
    for (let i = 1; i <= 10; i++) {
      const res = await call('/chat', {
        method: 'POST',
        headers: { ...from('198.51.100.7'), 'content-type': 'application/x-www-form-urlencoded', 'hx-request': 'true' },
        body: `client_id=${id}&message=message+${i}`,
      })
      expect(res.status).toBe(200)
      await made.deps.runner.settled(id)
    }
  })

  test('over it: 429, Retry-After until the next token and a sentence; counted as rate_limit', async () => {
    made = await testApp({ rateLimit: { capacity: 2, perMs: 10_000 }, trustProxy: true })
    expect((await newSession('10.0.0.1')).status).toBe(201)
    expect((await newSession('10.0.0.1')).status).toBe(201)
    const refused = await newSession('10.0.0.1')
    await expectRefused(refused, 429, 'RATE_LIMITED', /Too many new chats and messages from your address\. Try again in 10 seconds\./)
    expect(refused.headers.get('retry-after')).toBe('10')
    expect(await rejected('rate_limit')).toBe(1)
  })

  test('messages take from the same bucket; reading does not', async () => {
    made = await testApp({ rateLimit: { capacity: 2, perMs: 60_000 }, trustProxy: true })
    const { id } = (await (await newSession('10.0.0.1')).json()) as { id: string }
    const message = () =>
      call(`/api/sessions/${id}/messages`, {
        method: 'POST',
        headers: { ...from('10.0.0.1'), 'content-type': 'application/json' },
        body: '{"text":"hi"}',
      })
    expect((await message()).status).toBe(202)
    await made.deps.runner.settled(id)
    await expectRefused(await message(), 429, 'RATE_LIMITED', /Try again in/)
    for (let i = 0; i < 50; i++) expect((await call(`/api/sessions/${id}`, { headers: from('10.0.0.1') })).status).toBe(200)
  })

  test('a flood of 1,000 new sessions from one address is mostly refused while a second address is served', async () => {
    made = await testApp({ rateLimit: rateLimitSpec('30/m'), trustProxy: true })
    const flood = Array.from({ length: 1000 }, () => newSession('10.0.0.1'))
    const started = performance.now()
    const other = await Promise.all(Array.from({ length: 5 }, () => newSession('10.0.0.2')))
    const otherMs = performance.now() - started
    const statuses = (await Promise.all(flood)).map((res) => res.status)
    const created = statuses.filter((status) => status === 201).length
    // The burst of 30, plus a token per 2 s the flood took.
    expect(created).toBeGreaterThanOrEqual(30)
    expect(created).toBeLessThanOrEqual(32)
    expect(statuses.filter((status) => status === 429)).toHaveLength(1000 - created)
    expect(other.map((res) => res.status)).toEqual([201, 201, 201, 201, 201])
    expect(otherMs).toBeLessThan(2000)
  })

  test('without --trust-proxy, X-Forwarded-For is ignored: a client cannot pick a fresh address per request', async () => {
    made = await testApp({ rateLimit: { capacity: 1, perMs: 60_000 }, trustProxy: false })
    expect((await newSession('10.0.0.1')).status).toBe(201)
    await expectRefused(await newSession('10.0.0.2'), 429, 'RATE_LIMITED', /Try again in 60 seconds/)
  })
})

describe('SSE connection caps', () => {
  test('in all: past --max-connections a stream gets 429, Retry-After and a sentence; a closed one frees its place', async () => {
    made = await testApp({ connections: { max: 2 } })
    const { id } = (await (await call('/api/sessions', { method: 'POST' })).json()) as { id: string }
    const first = await call(`/events?client_id=${id}`)
    const second = await call(`/api/sessions/${id}/stream`)
    expect([first.status, second.status]).toEqual([200, 200])
    await expectRefused(await call(`/api/sessions/${id}/stream`), 429, 'TOO_MANY_CONNECTIONS', /has 2 live streams open, its limit/)
    expect(await rejected('connections')).toBe(1)
    void first.body!.cancel()
    await until(() => made.deps.connections.open === 1, { what: 'the cancelled stream to be released' })
    expect((await call(`/api/sessions/${id}/stream`)).status).toBe(200)
  })

  test('per address (--max-connections-per-ip), by X-Forwarded-For under --trust-proxy', async () => {
    made = await testApp({ connections: { maxPerIp: 2 }, trustProxy: true })
    const { id } = (await (await call('/api/sessions', { method: 'POST' })).json()) as { id: string }
    const stream = (ip: string) => call(`/api/sessions/${id}/stream`, { headers: from(ip) })
    expect((await stream('10.0.0.1')).status).toBe(200)
    expect((await stream('10.0.0.1')).status).toBe(200)
    await expectRefused(await stream('10.0.0.1'), 429, 'TOO_MANY_CONNECTIONS_FROM_IP', /Your address already has 2 live streams open/)
    expect((await stream('10.0.0.2')).status).toBe(200)
    expect(await rejected('connections_per_ip')).toBe(1)
  })
})

describe('message size (--max-message-bytes)', () => {
  test('counted in bytes of UTF-8: at the limit passes, one byte over is 413 with a sentence', async () => {
    made = await testApp({ maxMessageBytes: 10 })
    const { id } = (await (await call('/api/sessions', { method: 'POST' })).json()) as { id: string }
    const send = (text: string) =>
      call(`/api/sessions/${id}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text }),
      })
    // Five "é" are 5 characters but 10 bytes.
    expect((await send('é'.repeat(5))).status).toBe(202)
    await made.deps.runner.settled(id)
    const over = await send(`${'é'.repeat(5)}a`)
    expect(over.status).toBe(413)
    expect(((await over.json()) as { error: { code: string; message: string } }).error).toEqual({
      code: 'MESSAGE_TOO_LARGE',
      message: 'The message is 11 bytes; the limit is 10 bytes. Send a shorter message.',
    })
    expect(await rejected('message_size')).toBe(1)
  })

  test('the page renders the configured limit as the form’s maxlength', async () => {
    made = await testApp({ maxMessageBytes: 1234 })
    const { id } = (await (await call('/api/sessions', { method: 'POST' })).json()) as { id: string }
    expect(await (await call(`/?client_id=${id}`)).text()).toContain('maxlength="1234"')
  })

  test('a body over the body limit is counted as body_size', async () => {
    made = await testApp({ maxBodyBytes: 100 })
    const res = await call('/api/sessions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(200) })
    expect(res.status).toBe(413)
    expect(await rejected('body_size')).toBe(1)
  })
})
