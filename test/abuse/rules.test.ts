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
 * blocks no step text can close, and NDJSON read in linear time whatever its chunking.
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
