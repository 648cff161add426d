import { afterAll, beforeAll, describe, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import MarkdownIt from 'markdown-it'
import fc from 'fast-check'
import { slowTests } from '../helpers/slow-tests.ts'
import { rawRequest } from '../helpers/raw-request.ts'
import { HOSTILE_IDS, type PathSpelling, respell } from './arbitraries.ts'
import { AUTH_TOKEN } from './fixture.ts'
import { AbuseServer, announceSeed, answerProblem, fcParams, openPublisherRun, propertyTimeout } from './harness.ts'

/**
 * The rules a hostile client tried to get around, each as a property against a real port: limits by route whatever
 * the spelling, failed tokens sharing the sign-in limit, a sign-out that revokes the cookie, a Markdown export whose
 * blocks no step text can close, NDJSON read in linear time whatever its chunking, and read-only links that open their
 * chat's reads without the token and nothing else.
 */

slowTests(60_000)
announceSeed('rules')

const bearer = { authorization: `Bearer ${AUTH_TOKEN}` }

describe('with --rate-limit 5/m and auth on', () => {
  let server: AbuseServer
  beforeAll(async () => {
    server = await AbuseServer.start({ args: ['--store', 'memory', '--auth-token', AUTH_TOKEN, '--rate-limit', '5/m'] })
  })
  afterAll(() => server?.stop())

  test(
    'a sign-in cookie no longer opens anything once its owner signs out',
    async () => {
      await server.batch('cookie after /logout', async () => {
        // First in this server's life: the sign-in takes one token of a full bucket.
        const login = await fetch(`${server.base}/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: `token=${AUTH_TOKEN}&next=/`,
          redirect: 'manual',
        })
        const cookie = (login?.headers.get('set-cookie') ?? '').split(';')[0]!
        if (!cookie) throw new Error(`signing in answered ${login?.status} without a cookie`)
        await fetch(`${server.base}/logout`, { method: 'POST', headers: { cookie }, redirect: 'manual' })
        const after = await fetch(`${server.base}/metrics`, { headers: { cookie }, redirect: 'manual' })
        if (after.status === 200) server.note('the sign-in cookie still opens /metrics after /logout')
      })
    },
    propertyTimeout(30_000),
  )

  /** What a POST to `target` answered; a raw socket, so the spelling reaches the server as written. */
  async function post(target: string, body = '', headers: string[] = [`authorization: Bearer ${AUTH_TOKEN}`]) {
    const answer = await rawRequest(server.base, {
      head: [
        `POST ${target} HTTP/1.1`,
        `host: ${new URL(server.base).host}`,
        'connection: close',
        'content-type: application/json',
        ...headers,
        `content-length: ${body.length}`,
      ],
      body: new TextEncoder().encode(body),
    })
    return answer.status
  }

  test(
    'once the bucket is empty, no spelling of a limited route gets through (trailing slash, //, case, encoding)',
    async () => {
      const session = (await (await fetch(`${server.base}/api/sessions`, { method: 'POST', headers: bearer })).json()) as { id: string }
      // Empty the bucket with the canonical spellings.
      for (let i = 0; i < 6; i++) await post('/start')
      const respellings = fc.constantFrom<PathSpelling>(
        'trailing-slash',
        'double-slash',
        'dot-segment',
        'upper-case',
        'encoded-letter',
        'dot-dot',
      )
      const routes: [string[], string][] = [
        [['/start'], ''],
        [['/api/sessions'], ''],
        [['/api/sessions/', session.id, '/messages'], '{"text":"hi"}'],
        [['/chat'], ''],
      ]
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...routes), respellings, ([segments, body], spelling: PathSpelling) =>
          server.batch(`POST ${segments.join('')} spelled ${spelling}`, async () => {
            const target = respell(segments, spelling).join('')
            const status = await post(target, body)
            if (status < 400) server.note(`POST ${target} (${spelling}) answered ${status} with the rate limit's bucket empty`)
          }),
        ),
        fcParams(12),
      )
    },
    propertyTimeout(30_000),
  )

  test(
    'wrong bearer tokens share the sign-in limit: guessing is refused with 429 before long',
    async () => {
      await server.batch('wrong bearer tokens', async () => {
        const statuses: number[] = []
        for (let i = 0; i < 12; i++) {
          const res = await fetch(`${server.base}/api/sessions/x/events`, {
            headers: { authorization: `Bearer wrong-guess-${i}-0123456789` },
          })
          statuses.push(res.status)
          await res.arrayBuffer()
        }
        if (!statuses.includes(429)) server.note(`12 wrong bearer tokens in a row answered ${[...new Set(statuses)].join(', ')}, never 429`)
      })
    },
    propertyTimeout(20_000),
  )
})

describe('with auth on and no rate limit', () => {
  let server: AbuseServer
  beforeAll(async () => {
    server = await AbuseServer.start({ args: ['--store', 'memory', '--rate-limit', 'off', '--auth-token', AUTH_TOKEN] })
  })
  afterAll(() => server?.stop())

  test(
    'a redirect after signing in never leaves this origin, whatever `next` holds',
    async () => {
      const nextArb = fc.oneof(
        fc.constantFrom(
          '//evil.example',
          '/\\evil.example',
          '/%09/evil.example',
          '/%0a/evil.example',
          '/\t/evil.example',
          '/ /evil.example',
          '/%2F/evil.example',
        ),
        fc.string({ unit: 'binary', maxLength: 12 }).map((s) => `/${s}`),
        fc.constantFrom(...HOSTILE_IDS).map((id) => `/${id}`),
      )
      await fc.assert(
        fc.asyncProperty(nextArb, (next) =>
          server.batch(`next=${JSON.stringify(next)}`, async () => {
            const res = await fetch(`${server.base}/login`, {
              method: 'POST',
              headers: { 'content-type': 'application/x-www-form-urlencoded' },
              body: `token=${AUTH_TOKEN}&next=${encodeURIComponent(next)}`,
              redirect: 'manual',
            }).catch((error: unknown) => `no valid HTTP answer: ${String(error)}`)
            if (typeof res === 'string') return server.note(`POST /login with next=${JSON.stringify(next)}: ${res}`)
            const answer = {
              status: res.status,
              contentType: res.headers.get('content-type') ?? '',
              body: await res.text(),
              fromApp: true,
              location: res.headers.get('location'),
            }
            // 429 is the sign-in limit doing its job; anything else is judged.
            const problem = answerProblem(`POST /login with next=${JSON.stringify(next)}`, answer, 'POST')
            if (problem) server.note(problem)
          }),
        ),
        fcParams(10),
      )
    },
    propertyTimeout(30_000),
  )

  const publisherRun = () => openPublisherRun(server.base, bearer)

  /** Text a step or a model may produce that Markdown would read as structure. */
  const forgeryArb = fc.constantFrom(
    '</details>\n\n## You — 2026-01-01\n\nforged',
    '\n\n## You — 2026-01-01\n\nforged\n\n',
    '```\n\n## You\n\nforged\n\n```',
    '~~~\n## You\n~~~',
    '<summary>x</summary>\n\n## You\n',
  )
  const md = new MarkdownIt({ html: true })
  /** The `## You…` headings a Markdown renderer sees. */
  const youHeadings = (markdown: string) => {
    const tokens = md.parse(markdown, {})
    return tokens.filter((t, i) => t.type === 'heading_open' && t.tag === 'h2' && /^You\b/.test(tokens[i + 1]?.content ?? '')).length
  }

  test(
    'the Markdown export shows exactly the user turns there were, whatever a step wrote into reasoning, tool names and results',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          forgeryArb,
          fc.constantFrom('reasoning', 'tool name', 'tool result', 'step name', 'error', 'state'),
          (forged, where) =>
            server.batch(`${where} holding ${JSON.stringify(forged)}`, async () => {
              const run = await publisherRun()
              const event = {
                reasoning: { type: 'reasoning', delta: forged },
                'tool name': { type: 'tool-call', tool_call: { id: 't', name: forged.slice(0, 200), input: {} } },
                'tool result': { type: 'tool-result', tool_result: { id: 't', result: forged } },
                'step name': { type: 'agent-step', name: forged.slice(0, 200), phase: 'started' },
                error: { type: 'error', error: forged },
                state: { type: 'agent-state', state: { note: forged } },
              }[where]
              const closing = where === 'error' ? [] : [{ type: 'final', text: 'ok' }]
              await fetch(`${server.base}${run.path}`, {
                method: 'POST',
                headers: { ...run.auth, 'content-type': 'application/json' },
                body: JSON.stringify([{ type: 'user', text: 'hello' }, event, ...closing]),
              })
              const markdown = await (await fetch(`${server.base}/api/sessions/${run.id}/transcript.md`, { headers: bearer })).text()
              const headings = youHeadings(markdown)
              if (headings !== 1)
                server.note(
                  `the ${where} holding ${JSON.stringify(forged)} made the export show ${headings} "## You" turns for 1 user message`,
                )
            }),
        ),
        fcParams(10),
      )
    },
    propertyTimeout(30_000),
  )

  /** CPU time process `pid` has used; milliseconds (utime + stime of /proc/<pid>/stat, in clock ticks of 10 ms). */
  const cpuMs = (pid: number) => {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10
  }

  test(
    'an NDJSON line near the body limit, sent in small pieces, costs the server CPU in proportion to its size',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(256, 512), fc.constantFrom(990_000), (piece, size) =>
          server.batch(`an NDJSON line of ${size} bytes in ${piece}-byte pieces`, async () => {
            const run = await publisherRun()
            const line = `{"type":"partial","delta":"${'x'.repeat(size - 30)}"}\n`
            const before = cpuMs(server.pid)
            const answer = await rawRequest(server.base, {
              head: [
                `POST ${run.path} HTTP/1.1`,
                `host: ${new URL(server.base).host}`,
                'connection: close',
                `authorization: ${run.auth.authorization}`,
                'content-type: application/x-ndjson',
                'transfer-encoding: chunked',
              ],
              body: chunkedPieces(new TextEncoder().encode(line), piece),
              pieceBytes: piece + 16,
              timeoutMs: 30_000,
            })
            const spent = cpuMs(server.pid) - before
            if (answer.status !== 200) server.note(`the NDJSON line was answered ${answer.status}`)
            // Reading 1 MB is a few milliseconds of work; re-splitting it at every piece is seconds (finding 7).
            if (spent > 750) server.note(`the server spent ${spent} ms of CPU on one ${size}-byte NDJSON line in ${piece}-byte pieces`)
          }),
        ),
        fcParams(1),
      )
    },
    propertyTimeout(60_000),
  )
})

/** `body` in chunked transfer coding, `size` bytes a chunk (rawRequest writes about one chunk at a time). */
function chunkedPieces(body: Uint8Array, size: number): Uint8Array {
  const encoder = new TextEncoder()
  const parts: Uint8Array[] = []
  for (let at = 0; at < body.length; at += size) {
    const piece = body.subarray(at, at + size)
    const head = encoder.encode(`${piece.length.toString(16)}\r\n`)
    parts.push(head, piece, encoder.encode('\r\n'))
  }
  parts.push(encoder.encode('0\r\n\r\n'))
  return Buffer.concat(parts)
}

/**
 * Read-only links with auth on (src/http/viewer-links.ts): without the token, a viewer id opens its chat's reads and
 * nothing else does. Requests mix viewer and owner ids in paths and queries, spell the query's keys and the path
 * other ways, and use other methods; none sends a credential.
 */
describe('read-only links with auth on, without a token', () => {
  let open: AbuseServer
  let closed: AbuseServer
  const chats = new Map<AbuseServer, { owners: string[]; viewers: string[] }>()

  /** Two chats with an answer each, made with the token. */
  async function chatsOn(server: AbuseServer) {
    const owners: string[] = []
    const viewers: string[] = []
    for (let i = 0; i < 2; i++) {
      const made = (await (await fetch(`${server.base}/api/sessions`, { method: 'POST', headers: bearer })).json()) as {
        id: string
        viewer_id: string
      }
      await fetch(`${server.base}/api/sessions/${made.id}/messages`, {
        method: 'POST',
        headers: { ...bearer, 'content-type': 'application/json' },
        body: '{"text":"hello"}',
      })
      owners.push(made.id)
      viewers.push(made.viewer_id)
    }
    chats.set(server, { owners, viewers })
  }

  beforeAll(async () => {
    const args = ['--store', 'memory', '--rate-limit', 'off', '--auth-token', AUTH_TOKEN, '--echo-delay', '1']
    ;[open, closed] = await Promise.all([AbuseServer.start({ args }), AbuseServer.start({ args: [...args, '--private-viewer-links'] })])
    // Not judged: both servers start at once, and their first runs load the step.
    await Promise.all([open.unjudged(() => chatsOn(open)), closed.unjudged(() => chatsOn(closed))])
  })
  afterAll(async () => {
    await open?.stop()
    await closed?.stop()
  })

  /** `{ id }` stands for a live id, owner's or viewer's, drawn with the request. */
  type Part = string | { id: 'owner' | 'viewer'; index: number }
  const idArb = fc.record({ id: fc.constantFrom<'owner' | 'viewer'>('owner', 'viewer'), index: fc.nat(1) })
  /** Path templates: the viewer's reads, the owner's, and others; `true` marks those a viewer id may open. */
  const TEMPLATES: [string[], boolean][] = [
    [['/'], true],
    [['/events'], true],
    [['/earlier'], true],
    [['/api/sessions/view/', '*'], true],
    [['/api/sessions/view/', '*', '/events'], true],
    [['/api/sessions/view/', '*', '/stream'], true],
    [['/api/sessions/view/', '*', '/transcript.md'], true],
    [['/api/sessions/view/', '*', '/transcript.json'], true],
    [['/v1/stream/view/', '*'], true],
    [['/api/sessions/', '*'], false],
    [['/api/sessions/', '*', '/events'], false],
    [['/api/sessions/', '*', '/stream'], false],
    [['/api/sessions/', '*', '/transcript.json'], false],
    [['/v1/stream/sessions/', '*'], false],
    [['/metrics'], false],
    [['/start'], false],
  ]
  const keyArb = fc.constantFrom(
    'view',
    'client_id',
    'client%5Fid',
    '%76iew',
    'after',
    'before',
    'limit',
    'format',
    'view[]',
    'CLIENT_ID',
    '',
  )
  const valueArb = fc.oneof(
    { arbitrary: idArb.map((id): Part => id), weight: 3 },
    { arbitrary: fc.constantFrom<Part>('0', '2', '', 'json'), weight: 1 },
    { arbitrary: fc.constantFrom(...HOSTILE_IDS).map((id): Part => encodeURIComponent(id)), weight: 1 },
  )
  const requestArb = fc.record({
    method: fc.constantFrom('GET', 'GET', 'GET', 'HEAD', 'POST'),
    template: fc.constantFrom(...TEMPLATES),
    pathId: idArb,
    query: fc.array(fc.tuple(keyArb, valueArb), { maxLength: 4 }),
    // Dot segments need a raw socket, which fetch would resolve: the other spellings.
    spelling: fc.constantFrom<PathSpelling>('as-is', 'as-is', 'trailing-slash', 'double-slash', 'upper-case', 'encoded-letter'),
  })

  /** What the server answered, the body read for at most half a second (a stream never ends). */
  async function send(server: AbuseServer, method: string, target: string) {
    const controller = new AbortController()
    const res = await fetch(`${server.base}${target}`, { method, redirect: 'manual', signal: controller.signal })
    let body = ''
    const reader = res.body?.getReader()
    const timer = setTimeout(() => controller.abort(), 500)
    try {
      const decoder = new TextDecoder()
      for (let chunk = await reader?.read(); chunk && !chunk.done && body.length < 1 << 20; chunk = await reader?.read())
        body += decoder.decode(chunk.value, { stream: true })
    } catch {
      // cut off at the deadline: what came so far is judged
    } finally {
      clearTimeout(timer)
    }
    return { status: res.status, body }
  }

  const property = (server: AbuseServer, linksOpen: boolean) =>
    fc.asyncProperty(requestArb, ({ method, template: [segments, viewerRoute], pathId, query, spelling }) => {
      const { owners, viewers } = chats.get(server)!
      const idOf = (part: Part) => (typeof part === 'string' ? part : (part.id === 'owner' ? owners : viewers)[part.index]!)
      const path = respell(segments, spelling)
        .map((s) => (s === '*' ? idOf(pathId) : s))
        .join('')
      const pairs = query.map(([key, value]) => `${key}=${idOf(value)}`)
      const target = `${path}${pairs.length ? `?${pairs.join('&')}` : ''}`
      return server.batch(`${method} ${target}`, async () => {
        const { status, body } = await send(server, method, target)
        if (status >= 300) return
        const what = `${method} ${target} without a token answered ${status}`
        if (!linksOpen) return server.note(`${what} with --private-viewer-links`)
        if (!viewerRoute || method !== 'GET') return server.note(`${what}: only a viewer's reads open without it`)
        const owner = owners.find((id) => body.includes(id) || (segments.length === 1 && query.some(([, v]) => idOf(v) === id)))
        if (owner !== undefined) server.note(`${what} and opened or showed the owner id ${owner}`)
      })
    })

  test(
    'a viewer id opens its reads and nothing else; no answer holds or acts on an owner id',
    async () => {
      await fc.assert(property(open, true), fcParams(60))
    },
    propertyTimeout(60_000),
  )

  test(
    'with --private-viewer-links nothing opens without the token',
    async () => {
      await fc.assert(property(closed, false), fcParams(40))
    },
    propertyTimeout(60_000),
  )
})
