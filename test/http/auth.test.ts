import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { localPath } from '../../src/http/login.tsx'
import { parseMetrics, sampleSum } from '../helpers/prometheus.ts'
import { testApp, url } from '../helpers/test-app.ts'
import { until } from '../helpers/wait.ts'

const TOKEN = 'correct-horse-battery-staple-0001'
/** The same length as TOKEN, one character off. */
const WRONG = 'correct-horse-battery-staple-0002'

let made: Awaited<ReturnType<typeof testApp>>
let sessionId: string
beforeAll(async () => {
  made = await testApp({ authTokens: ['another-valid-token-xyz', TOKEN], trustProxy: true })
  const res = await call('/api/sessions', { method: 'POST', headers: bearer(TOKEN) })
  sessionId = ((await res.json()) as { id: string }).id
})
afterAll(() => made.close())

const call = (path: string, init: RequestInit = {}) => made.app.handle(new Request(url(path), init))
const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

/** Every route a client could reach, but /healthz and the sign-in page. */
const protectedRoutes = (): [string, string][] => [
  ['GET', '/'],
  ['GET', `/?client_id=${sessionId}`],
  ['POST', '/start'],
  ['POST', '/chat'],
  ['POST', '/cancel'],
  ['GET', `/events?client_id=${sessionId}`],
  ['POST', '/api/sessions'],
  ['GET', `/api/sessions/${sessionId}`],
  ['POST', `/api/sessions/${sessionId}/messages`],
  ['POST', `/api/sessions/${sessionId}/cancel`],
  ['GET', `/api/sessions/${sessionId}/events`],
  ['GET', `/api/sessions/${sessionId}/stream`],
  ['GET', '/metrics'],
  ['GET', '/readyz'],
]

async function signIn(token: string, headers: Record<string, string> = {}) {
  return call('/login', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: `token=${encodeURIComponent(token)}&next=${encodeURIComponent(`/?client_id=${sessionId}`)}`,
  })
}

describe('auth (--auth-token)', () => {
  test('without a token every protected route is refused with 401 and a sentence (JSON for programs)', async () => {
    for (const [method, path] of protectedRoutes()) {
      const res = await call(path, { method, headers: { accept: 'application/json' } })
      expect({ method, path, status: res.status }).toEqual({ method, path, status: 401 })
      expect(res.headers.get('www-authenticate')).toBe('Bearer')
      expect(((await res.json()) as { error: { code: string; message: string } }).error).toEqual({
        code: 'UNAUTHORIZED',
        message: 'Sign in first: open /login in a browser, or send the header "Authorization: Bearer <token>".',
      })
    }
    // Counted once each response is sent (Elysia's afterResponse): poll briefly.
    const refusals = async () =>
      sampleSum(parseMetrics(await (await call('/metrics', { headers: bearer(TOKEN) })).text()), 'stepstream_rejected_total', {
        reason: 'auth',
      })
    await until(async () => (await refusals()) >= protectedRoutes().length, { what: 'every refusal to be counted', describe: refusals })
    expect(await refusals()).toBe(protectedRoutes().length)
  })

  test('a browser navigating to a page is sent to the sign-in page, keeping where it was going', async () => {
    const res = await call(`/?client_id=${sessionId}`, { headers: { accept: 'text/html' } })
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe(`/login?next=${encodeURIComponent(`/?client_id=${sessionId}`)}`)
  })

  test('/healthz, the sign-in page and the page assets are open', async () => {
    expect((await call('/healthz')).status).toBe(200)
    const login = await call('/login?next=/somewhere')
    expect(login.status).toBe(200)
    const html = await login.text()
    expect(html).toContain('<form class="login-form" action="/login" method="post">')
    expect(html).toContain('value="/somewhere"')
    const css = html.match(/href="(\/assets\/app\.css[^"]*)"/)![1]!
    expect((await call(css)).status).toBe(200)
  })

  test('with the bearer token (any of several) every protected route works', async () => {
    for (const token of [TOKEN, 'another-valid-token-xyz']) {
      for (const [method, path] of protectedRoutes()) {
        const res = await call(path, { method, headers: bearer(token) })
        expect({ method, path, status: res.status }).not.toEqual({ method, path, status: 401 })
        if (path.includes('stream') || path.startsWith('/events')) void res.body?.cancel()
      }
      await made.deps.runner.settled(sessionId)
    }
    const stream = await call(`/api/sessions/${sessionId}/stream`, { headers: bearer(TOKEN) })
    expect(stream.headers.get('content-type')).toStartWith('text/event-stream')
    void stream.body?.cancel()
  })

  test('a wrong token of the same length is refused, as bearer and at sign-in', async () => {
    expect((await call(`/api/sessions/${sessionId}`, { headers: bearer(WRONG) })).status).toBe(401)
    const res = await signIn(WRONG)
    expect(res.status).toBe(401)
    expect(res.headers.get('set-cookie')).toBeNull()
    expect(await res.text()).toContain('That token is not right')
  })

  test('signing in sets an HttpOnly, SameSite=Strict cookie that opens the page and both streams', async () => {
    const res = await signIn(TOKEN)
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe(`/?client_id=${sessionId}`)
    const setCookie = res.headers.get('set-cookie')!
    expect(setCookie).toMatch(/^stepstream_auth=[\w-]+; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Strict$/)
    expect(setCookie).not.toContain(TOKEN)
    const cookie = { cookie: setCookie.split(';')[0]! }
    expect((await call(`/?client_id=${sessionId}`, { headers: cookie })).status).toBe(200)
    for (const path of [`/events?client_id=${sessionId}`, `/api/sessions/${sessionId}/stream`]) {
      const stream = await call(path, { headers: cookie })
      expect(stream.status).toBe(200)
      void stream.body?.cancel()
    }
    expect((await call('/metrics', { headers: { cookie: 'stepstream_auth=forged' } })).status).toBe(401)
  })

  test('the cookie is Secure when the request came over HTTPS (X-Forwarded-Proto from a trusted proxy)', async () => {
    const res = await signIn(TOKEN, { 'x-forwarded-proto': 'https' })
    expect(res.headers.get('set-cookie')).toEndWith('; Secure')
  })

  test('a state-changing request from a page of another origin is refused, even signed in', async () => {
    const post = (origin: string) => call('/api/sessions', { method: 'POST', headers: { ...bearer(TOKEN), origin, host: 'localhost' } })
    const foreign = await post('https://evil.example')
    expect(foreign.status).toBe(403)
    expect(((await foreign.json()) as { error: { code: string; message: string } }).error.message).toBe(
      'A form on https://evil.example cannot change anything here: use the page this server serves.',
    )
    expect((await post('null')).status).toBe(403)
    // The browser's own Sec-Fetch-Site decides when it is there: Chromium sends Origin: null under no-referrer.
    const fetched = (site: string, origin?: string) =>
      call('/api/sessions', { method: 'POST', headers: { ...bearer(TOKEN), 'sec-fetch-site': site, ...(origin ? { origin } : {}) } })
    expect((await fetched('same-origin', 'null')).status).toBe(201)
    expect((await fetched('cross-site')).status).toBe(403)
    expect((await fetched('same-site', 'http://other.localhost')).status).toBe(403)
    expect((await post('http://localhost')).status).toBe(201)
    // A program sends no Origin at all.
    expect((await call('/api/sessions', { method: 'POST', headers: bearer(TOKEN) })).status).toBe(201)
  })

  test('sign-in only ever sends back to a path on this server', () => {
    expect(localPath('/?client_id=x')).toBe('/?client_id=x')
    for (const bad of ['//evil.example/', '/\\evil.example', 'https://evil.example', '', undefined]) expect(localPath(bad)).toBe('/')
  })

  test('signing out clears the cookie', async () => {
    const res = await call('/logout', { method: 'POST' })
    expect(res.status).toBe(303)
    expect(res.headers.get('set-cookie')).toMatch(/^stepstream_auth=; Path=\/; Max-Age=0; HttpOnly; SameSite=Strict/)
  })
})

describe('without auth', () => {
  test('every route is open, there is no sign-in page, and a foreign Origin is still refused', async () => {
    const open = await testApp()
    try {
      expect((await open.app.handle(new Request(url('/api/sessions'), { method: 'POST' }))).status).toBe(201)
      expect((await open.app.handle(new Request(url('/login')))).status).toBe(404)
      const foreign = await open.app.handle(
        new Request(url('/api/sessions'), { method: 'POST', headers: { origin: 'https://evil.example' } }),
      )
      expect(foreign.status).toBe(403)
    } finally {
      await open.close()
    }
  })
})
