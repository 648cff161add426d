import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { WORK_ROUTE_PATHS } from '../../src/http/guarded-routes.ts'
import { rawExchange, statusOf } from '../helpers/raw-http.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { testServer, url } from '../helpers/test-app.ts'

slowTests()

const TOKEN = 'a-long-enough-access-token-42'

let server: Awaited<ReturnType<typeof testServer>>
let sessionId: string
beforeAll(async () => {
  // One token a minute: the second request of a spelling that reaches a limited handler must meet the limit.
  server = await testServer({ authTokens: [TOKEN], rateLimit: { capacity: 1, perMs: 60_000 }, trustProxy: true })
  const created = await fetch(`${server.base}/api/sessions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'x-forwarded-for': '192.0.2.1' },
  })
  sessionId = ((await created.json()) as { id: string }).id
})
afterAll(() => server.close())

/** Every route with a limit, its body, and the segments of its path (`:id` is the chat). */
const LIMITED = (): { segments: string[]; type: string; body: string }[] => [
  { segments: ['start'], type: 'application/x-www-form-urlencoded', body: '' },
  { segments: ['chat'], type: 'application/x-www-form-urlencoded', body: `client_id=${sessionId}&message=hi` },
  { segments: ['login'], type: 'application/x-www-form-urlencoded', body: 'token=not-the-token-at-all-000' },
  { segments: ['api', 'sessions'], type: 'application/json', body: '' },
  { segments: ['api', 'sessions', sessionId, 'messages'], type: 'application/json', body: '{"text":"hi"}' },
  // Branches make chats and runs: each takes a token too (docs/branches.md).
  { segments: ['edit'], type: 'application/x-www-form-urlencoded', body: `client_id=${sessionId}&seq=1&message=hi` },
  { segments: ['regenerate'], type: 'application/x-www-form-urlencoded', body: `client_id=${sessionId}` },
  { segments: ['api', 'sessions', sessionId, 'fork'], type: 'application/json', body: '{"at":0}' },
  { segments: ['api', 'sessions', sessionId, 'regenerate'], type: 'application/json', body: '' },
]

/** The spellings of a path a client could send: each must reach the same limited handler, or nothing (404). */
function spellings(segments: string[]): string[] {
  const path = `/${segments.join('/')}`
  const last = segments.at(-1)!
  const head = `/${segments.slice(0, -1).join('/')}${segments.length > 1 ? '/' : ''}`
  return [
    path,
    `${path}/`,
    `${path}//`,
    `${path}/.`,
    `/${path}`,
    `/./${path.slice(1)}`,
    `/x/../${path.slice(1)}`,
    `${head}/${last}`,
    `${head}./${last}`,
    `${head}%${last.charCodeAt(0).toString(16)}${last.slice(1)}`,
    `${head}${last.toUpperCase()}`,
    `${head}${last[0]!.toUpperCase()}${last.slice(1)}`,
    `${path}%2F`,
    `${path};x`,
    `${path}?x=1`,
  ]
}

let nextIp = 0
/** A fresh client address (X-Forwarded-For, trusted here), so each spelling starts with a full bucket. */
const freshIp = () => `198.51.100.${++nextIp}`

function expectLimitedOrAbsent(spelling: string, statuses: number[]) {
  // Reached nothing: 404 both times. Reached a handler: the second request meets the limit.
  const outcome = statuses[0] === 404 ? statuses : [statuses[0], statuses[1] === 429 ? 429 : statuses[1]]
  expect({ spelling, statuses }).toEqual({ spelling, statuses: statuses[0] === 404 ? [404, 404] : [outcome[0]!, 429] })
}

describe('limits by route, not by spelling', () => {
  test('on a real port (raw HTTP, the path exactly as sent): every spelling is limited or reaches nothing', async () => {
    const { host } = new URL(server.base)
    const routed: string[] = []
    for (const route of LIMITED()) {
      for (const spelling of spellings(route.segments)) {
        const ip = freshIp()
        const send = () =>
          rawExchange(
            server.base,
            [
              `POST ${spelling} HTTP/1.1`,
              `host: ${host}`,
              `authorization: Bearer ${spelling.includes('login') ? 'x' : TOKEN}`,
              `x-forwarded-for: ${ip}`,
              `content-type: ${route.type}`,
            ].join('\r\n'),
            route.body,
          )
        const statuses = [statusOf(await send()), statusOf(await send())]
        expectLimitedOrAbsent(spelling, statuses)
        if (statuses[0] !== 404) routed.push(spelling.replace(sessionId, ':id'))
      }
      await server.deps.runner.settled(sessionId)
    }
    // The router's own tolerance (one trailing slash) and the dot segments Bun resolves do reach the handlers.
    expect(routed).toContain('/start/')
    expect(routed).toContain('/api/sessions/:id/messages/')
    expect(routed).toContain('/x/../api/sessions')
  })

  test('each limited route is one the app serves by POST, so renaming a route cannot drop its limit unnoticed', () => {
    const posts = server.app.routes.filter((route) => route.method === 'POST').map((route) => route.path.replace(/(.)\/$/, '$1'))
    for (const path of [...WORK_ROUTE_PATHS, '/login']) expect(posts).toContain(path)
  })

  test('through app.handle: the same', async () => {
    for (const route of LIMITED()) {
      for (const spelling of spellings(route.segments)) {
        const ip = freshIp()
        const send = () =>
          server.app.handle(
            new Request(url(spelling), {
              method: 'POST',
              headers: { authorization: `Bearer ${TOKEN}`, 'x-forwarded-for': ip, 'content-type': route.type },
              body: route.body,
            }),
          )
        expectLimitedOrAbsent(spelling, [(await send()).status, (await send()).status])
      }
      await server.deps.runner.settled(sessionId)
    }
  })

  test('a Host Elysia would cut the path differently from (`Host: x`, `/ab/metrics` routed as /metrics) is refused with a sentence', async () => {
    for (const [target, host] of [
      ['/ab/metrics', 'x'],
      ['/xx/start', 'x'],
      ['/metrics', 'abc'],
      ['/metrics', ''],
      ['/metrics', 'a/b'],
    ]) {
      const raw = await rawExchange(server.base, `${target === '/xx/start' ? 'POST' : 'GET'} ${target} HTTP/1.1\r\nhost: ${host}`)
      expect({ target, host, status: statusOf(raw) }).toEqual({ target, host, status: 400 })
      expect(raw).toContain('send a Host header of four characters or more')
    }
    // HTTP/1.0 without a Host: a sentence, not a 500 with a stack.
    const raw = await rawExchange(server.base, 'GET /metrics HTTP/1.0')
    expect(statusOf(raw)).toBe(400)
    expect(raw).not.toContain('    at ')
  })
})

describe('failed sign-ins share the sign-in limit', () => {
  let made: Awaited<ReturnType<typeof testServer>>
  beforeAll(async () => {
    made = await testServer({ authTokens: [TOKEN], rateLimit: { capacity: 3, perMs: 20_000 }, trustProxy: true })
  })
  afterAll(() => made.close())
  const from = (ip: string, headers: Record<string, string> = {}) => ({ 'x-forwarded-for': ip, accept: 'application/json', ...headers })
  const metrics = (headers: Record<string, string>) => made.app.handle(new Request(url('/metrics'), { headers }))
  const login = (ip: string, token: string) =>
    made.app.handle(
      new Request(url('/login'), {
        method: 'POST',
        headers: from(ip, { 'content-type': 'application/x-www-form-urlencoded' }),
        body: `token=${token}`,
      }),
    )

  async function expectSignInLimit(res: Response) {
    expect(res.status).toBe(429)
    expect(res.headers.get('retry-after')).toMatch(/^[1-9]\d*$/)
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
      /^Too many sign-in attempts from your address\. Try again in \d+ seconds?\.$/,
    )
  }

  test('wrong bearer tokens: 401 until the bucket is empty, then 429 with Retry-After and a sentence; the right one is not even checked', async () => {
    const ip = '203.0.113.10'
    for (let i = 0; i < 3; i++) expect((await metrics(from(ip, { authorization: 'Bearer wrong-token-000000000' }))).status).toBe(401)
    await expectSignInLimit(await metrics(from(ip, { authorization: 'Bearer wrong-token-000000000' })))
    // Past the limit a right guess looks like a wrong one; another address is served.
    await expectSignInLimit(await metrics(from(ip, { authorization: `Bearer ${TOKEN}` })))
    expect((await metrics(from('203.0.113.11', { authorization: `Bearer ${TOKEN}` }))).status).toBe(200)
  })

  test('wrong cookies, wrong bearer tokens and /login posts take from one bucket per address', async () => {
    const ip = '203.0.113.20'
    expect((await metrics(from(ip, { cookie: `stepstream_auth=${'A'.repeat(43)}` }))).status).toBe(401)
    expect((await metrics(from(ip, { authorization: 'Bearer wrong-token-000000000' }))).status).toBe(401)
    expect((await login(ip, 'not-the-token-at-all')).status).toBe(401)
    await expectSignInLimit(await login(ip, TOKEN))
    // A request offering no credential is no guess: it costs nothing and is told to sign in.
    expect((await metrics(from('203.0.113.21'))).status).toBe(401)
    expect((await login('203.0.113.21', TOKEN)).status).toBe(303)
  })

  test('wrong publisher tokens on the publish API take from the same bucket', async () => {
    const created = await made.app.handle(
      new Request(url('/api/sessions'), {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: '{"publisher":true}',
      }),
    )
    const { id, publisher_token } = (await created.json()) as { id: string; publisher_token: string }
    const openRun = (ip: string, token: string) =>
      made.app.handle(
        new Request(url(`/api/sessions/${id}/runs`), { method: 'POST', headers: from(ip, { authorization: `Bearer ${token}` }) }),
      )
    const ip = '203.0.113.30'
    for (let i = 0; i < 3; i++) expect((await openRun(ip, 'not-the-publisher-token')).status).toBe(401)
    await expectSignInLimit(await openRun(ip, 'not-the-publisher-token'))
    await expectSignInLimit(await openRun(ip, publisher_token))
    expect((await openRun('203.0.113.31', publisher_token)).status).toBe(201)
  })

  test('guesses sent together: no more get checked than the bucket holds, however long checking them takes', async () => {
    const created = await made.app.handle(
      new Request(url('/api/sessions'), {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: '{"publisher":true}',
      }),
    )
    const { id } = (await created.json()) as { id: string }
    const guess = (i: number, headers: Record<string, string>, path = `/api/sessions/${id}/runs`) =>
      made.app.handle(new Request(url(path), { method: 'POST', headers: from('203.0.113.40', { ...headers, 'x-guess': String(i) }) }))
    // A publisher token is checked after the session is read from the store: all 30 were in flight at once.
    const statuses = (await Promise.all(Array.from({ length: 30 }, (_, i) => guess(i, { authorization: `Bearer wrong-${i}` })))).map(
      (r) => r.status,
    )
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(3)
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(27)
  })

  test('a good credential gives its token back: a program with the right token is never limited', async () => {
    for (let i = 0; i < 20; i++) expect((await metrics(from('203.0.113.50', { authorization: `Bearer ${TOKEN}` }))).status).toBe(200)
  })
})
