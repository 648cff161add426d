import { afterAll, beforeAll, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import type { StoredEvent } from '../../src/events.ts'
import { EVENT_TEXT_MAX_CHARS } from '../../src/limits.ts'
import { FakeAgent, textRun } from '../helpers/fake-agui.ts'
import { answer, chunk, FakeOpenAI, type Reply, roleChunk, toolCalls } from '../helpers/fake-openai.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { aguiEventsArb, copyDoubling } from './agui-events.ts'
import { depthArb, HOSTILE_IDS, LIMITS } from './arbitraries.ts'
import { AbuseServer, announceSeed, fcParams, propertyTimeout, rssOf } from './harness.ts'
import { settlesWithin, until } from '../helpers/wait.ts'

/**
 * The openai and agui steps fed by hostile upstreams (the fake model server and the fake agent): tool arguments
 * nested deep, huge states, STATE_DELTAs that double the state, `__proto__` tool call ids, giant single tokens, and
 * streams that never end. The server must stay healthy (harness.ts), every run must end with exactly one closing
 * event, a never-ending stream must be cancellable (ending with `interrupt`, the upstream request closed), and left
 * alone it must stop where the answer can no longer be stored whole (EVENT_TEXT_MAX_CHARS), with an `error` saying
 * so, its upstream request closed, having added at most ENDLESS_GROWTH_BYTES of RSS (a step that kept what it
 * streamed would grow without end).
 */

slowTests(60_000)
announceSeed('hostile-upstreams')

/** What a never-ending stream may add to the server's RSS by the time its run stopped at the answer's limit; bytes. */
const ENDLESS_GROWTH_BYTES = 128 * 1024 * 1024
/** How long the server has, after such a run, to come back under that bound (its garbage collected); milliseconds. */
const ENDLESS_SETTLE_MS = 10_000

const model = new FakeOpenAI()
const agent = new FakeAgent()
const dir = mkdtempSync(join(tmpdir(), 'stepstream-abuse-upstreams-'))
let server: AbuseServer

beforeAll(async () => {
  // Whatever is left unscripted ends the run: a model that answers, so tool rounds come to an end.
  model.always({ stream: answer(['ok.']) })
  server = await AbuseServer.start({
    args: [
      ...['--store', `sqlite:${join(dir, 'abuse.db')}`, '--rate-limit', 'off', '--step', 'openai'],
      ...['--openai-base-url', model.baseUrl, '--model', 'abuse-model', '--agui-url', agent.url, '--cancel-grace', '1000'],
    ],
  })
  // The first run of each step loads its packages (the openai client and mathjs take most of a second of the event
  // loop): once, at start, not the abuse's doing.
  await server.unjudged(async () => {
    await closedRun(await startRun('openai'))
    agent.reply(({ threadId, runId }) => ({ events: textRun(threadId, runId, 'warm') }))
    await closedRun(await startRun('agui'))
  })
})

afterAll(async () => {
  await server?.stop()
  await model.stop()
  await agent.stop()
  rmSync(dir, { recursive: true, force: true })
})

const CLOSING = new Set(['final', 'interrupt', 'error'])
const post = (path: string, body?: unknown) =>
  fetch(`${server.base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })

/** Starts a run of `step` in a new session; its session and step ids. */
async function startRun(step: 'openai' | 'agui', text = 'go'): Promise<{ id: string; stepId: string }> {
  const { id } = (await (await post('/api/sessions', { step })).json()) as { id: string }
  const res = await post(`/api/sessions/${id}/messages`, { text })
  if (res.status !== 202) throw new Error(`the message was refused: ${res.status} ${await res.text()}`)
  const { step_id } = (await res.json()) as { step_id: string }
  return { id, stepId: step_id }
}

/** The run's events once it has a closing event (15 s at most), noting on the server a run that has none or two. */
async function closedRun(run: { id: string; stepId: string }, deadlineMs = 15_000): Promise<StoredEvent[]> {
  const mine: StoredEvent[] = []
  // A run still open at the deadline is noted below, not thrown: the batch goes on.
  await until(
    async () => {
      const res = await fetch(`${server.base}/api/sessions/${run.id}/events?limit=1000&after=${mine.at(-1)?.seq ?? 0}`, {
        signal: AbortSignal.timeout(5000),
      })
      const page = (await res.json()) as StoredEvent[]
      mine.push(...page.filter((e) => e.step_id === run.stepId))
      return mine.some((e) => CLOSING.has(e.type)) && page.length < 1000
    },
    { timeoutMs: deadlineMs, what: `run ${run.stepId} to close`, everyMs: 25 },
  ).catch(() => {})
  const closing = mine.filter((e) => CLOSING.has(e.type))
  if (closing.length !== 1 || mine.at(-1) !== closing[0]) {
    server.note(
      `run ${run.stepId} has ${closing.length} closing events; its last events: ${mine
        .slice(-4)
        .map((e) => e.type)
        .join(', ')}`,
    )
  }
  return mine.slice(-5)
}

/** Deep JSON as text: arguments a model streams in one fragment. */
const deepText = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`

/** A value fast-check prints as its label: a counterexample must not print a 2 MB token. */
function labelled<T extends object>(label: string, value: T): T & { label: string } {
  return Object.assign(value, { label, [fc.toStringMethod]: () => label })
}

/** Hostile model answers, each with a label for the report: deep tool arguments, prototype-key ids, giant tokens. */
const modelReplyArb: fc.Arbitrary<{ label: string; reply: Reply }> = fc.oneof(
  fc
    .record({
      id: fc.constantFrom(...HOSTILE_IDS.filter((id) => id.length < 300)),
      depth: depthArb,
      name: fc.constantFrom('calculator', '__proto__', 'constructor', 'nope'),
    })
    .map(({ id, depth, name }) => ({
      label: `tool call ${JSON.stringify(id)} (${name}) with arguments nested ${Math.min(depth, 150_000)} deep`,
      reply: { stream: toolCalls([{ id, name, args: [deepText(Math.min(depth, 150_000))] }]) },
    })),
  fc.constantFrom(...LIMITS.filter((l) => l <= 2_000_000), 2_000_000).map((n) => ({
    label: `one content token of ${n} characters`,
    reply: { stream: answer(['x'.repeat(n)]) },
  })),
  fc.constantFrom(...LIMITS.filter((l) => l <= 2_000_000)).map((n) => ({
    label: `one reasoning token of ${n} characters`,
    reply: { stream: answer(['ok'], { reasoning: ['r'.repeat(n)] }) },
  })),
  fc.integer({ min: 50, max: 300 }).map((n) => ({
    label: `${n} parallel tool calls, every other one with id __proto__`,
    reply: {
      stream: toolCalls(
        Array.from({ length: n }, (_, i) => ({ id: i % 2 ? '__proto__' : `c${i}`, name: 'calculator', args: ['{"expression":"1+1"}'] })),
      ),
    },
  })),
  fc.constantFrom<{ label: string; reply: Reply }>(
    { label: 'a chunk that is not JSON', reply: { stream: [roleChunk(), 'not json', chunk({ content: 'x' }, 'stop')] } },
    {
      label: 'a tool call at index 1e9 with id __proto__',
      reply: {
        stream: [
          roleChunk(),
          chunk({ tool_calls: [{ index: 1e9, id: '__proto__', function: { name: 'calculator', arguments: '{' } }] }, 'tool_calls'),
        ],
      },
    },
    {
      label: 'a tool call at index -1 with id constructor',
      reply: {
        stream: [
          roleChunk(),
          chunk({ tool_calls: [{ index: -1, id: 'constructor', function: { name: 'toString', arguments: '[]' } }] }, 'tool_calls'),
        ],
      },
    },
    { label: 'a stream cut mid-answer', reply: { stream: [roleChunk(), chunk({ content: 'cut' })], end: 'reset' } },
    { label: 'a 500 with a 100 KB message', reply: { status: 500, body: { error: { message: 'x'.repeat(100_000) } } } },
  ),
)

const labelledModelReplyArb = modelReplyArb.map(({ label, reply }) => labelled(label, { reply }))

test(
  'the openai step under hostile model answers: healthy, and every run ends with exactly one closing event',
  async () => {
    await fc.assert(
      fc.asyncProperty(labelledModelReplyArb, ({ label, reply }) =>
        server.batch(`model reply: ${label}`, async () => {
          model.reply(reply)
          await closedRun(await startRun('openai'))
        }),
      ),
      fcParams(6),
    )
  },
  propertyTimeout(40_000),
)

/** A hostile agent run: RUN_STARTED, hostile events, then finished, cut, or left hanging. */
const agentRunArb = fc.record({
  events: fc.oneof(
    { arbitrary: aguiEventsArb, weight: 3 },
    { arbitrary: fc.integer({ min: 18, max: 23 }).map((n) => copyDoubling(n, false)), weight: 1 },
    {
      arbitrary: fc.constantFrom(1000, 10_000, 60_000).map((depth) => [
        { type: 'TOOL_CALL_START', toolCallId: 'deep', toolCallName: 'deep' },
        { type: 'TOOL_CALL_ARGS', toolCallId: 'deep', delta: deepText(depth) },
        { type: 'TOOL_CALL_END', toolCallId: 'deep' },
      ]),
      weight: 1,
    },
    {
      arbitrary: fc.constantFrom(200_000, 1_000_000, 3_000_000).map((n) => [{ type: 'STATE_SNAPSHOT', snapshot: { big: 'x'.repeat(n) } }]),
      weight: 1,
    },
  ),
  finish: fc.constantFrom('RUN_FINISHED', 'RUN_ERROR', 'none'),
  end: fc.constantFrom('close' as const, 'reset' as const),
})

const labelledAgentRunArb = agentRunArb.map((run) =>
  labelled(
    `${JSON.stringify(run.events, (_k, v) => (typeof v === 'string' && v.length > 40 ? `${v.slice(0, 20)}…(${v.length} chars)` : v)).slice(0, 400)} then ${run.finish}, ${run.end}`,
    run,
  ),
)

test(
  'the agui step under hostile agents: healthy, and every run ends with exactly one closing event',
  async () => {
    await fc.assert(
      fc.asyncProperty(labelledAgentRunArb, ({ events, finish, end, label }) =>
        server.batch(`agent run ${label}`, async () => {
          agent.reply(({ threadId, runId }) => ({
            events: [
              { type: 'RUN_STARTED', threadId, runId },
              ...(events as Record<string, unknown>[]),
              ...(finish === 'RUN_FINISHED' ? [{ type: 'RUN_FINISHED', threadId, runId }] : []),
              ...(finish === 'RUN_ERROR' ? [{ type: 'RUN_ERROR', message: 'the agent failed' }] : []),
            ],
            end,
          }))
          await closedRun(await startRun('agui'))
        }),
      ),
      fcParams(6),
    )
  },
  propertyTimeout(40_000),
)

/** Waits until `sent()` passes `bytes` (the server has read that much of the stream); 20 s at most. */
function streamed(sent: () => number, bytes: number): Promise<void> {
  return until(() => sent() >= bytes, {
    timeoutMs: 20_000,
    what: `the server to read ${bytes} bytes of the endless stream`,
    describe: sent,
  })
}

for (const step of ['openai', 'agui'] as const) {
  test(
    `an ${step} upstream that streams forever: cancelled, the run ends with interrupt; left alone, it stops at the answer's limit and memory stays bounded`,
    async () => {
      let sent = 0
      const piece = 'x'.repeat(16 * 1024)
      // `growing`: every frame adds to the answer; otherwise one piece of answer, then frames that add nothing, so a
      // cancel always lands before the answer's limit does.
      const endless = (growing: boolean) => {
        if (step === 'openai') {
          model.reply({
            forever: (i) => {
              sent += piece.length
              if (i === 0) return roleChunk()
              return chunk({ content: growing || i === 1 ? piece : '' })
            },
          })
        } else {
          agent.reply(({ threadId, runId }) => ({
            forever: (i) => {
              sent += piece.length
              if (i === 0) return { type: 'RUN_STARTED', threadId, runId }
              if (i === 1) return { type: 'TEXT_MESSAGE_START', messageId: 'm', role: 'assistant' }
              if (growing || i === 2) return { type: 'TEXT_MESSAGE_CONTENT', messageId: 'm', delta: piece }
              return { type: 'CUSTOM', name: 'tick', value: i }
            },
          }))
        }
      }
      const upstreamClosed = async (what: string) => {
        const upstream = step === 'openai' ? model.requests.at(-1)! : agent.runs.at(-1)!
        const closed = await settlesWithin(upstream.closed, 5000)
        if (!closed) server.note(`the endless ${step} request was still open 5 s after ${what}`)
      }
      await server.batch(`endless ${step} stream, cancelled`, async () => {
        endless(false)
        const run = await startRun(step)
        await streamed(() => sent, 64 * 1024)
        const cancel = await post(`/api/sessions/${run.id}/cancel`)
        if (cancel.status !== 202) server.note(`the cancel of an endless run answered ${cancel.status}`)
        const last = await closedRun(run)
        if (last.at(-1)?.type !== 'interrupt') server.note(`the cancelled endless run ended with ${last.at(-1)?.type}, not interrupt`)
        await upstreamClosed('the cancel')
      })
      await server.batch(`endless ${step} stream, left alone`, async () => {
        sent = 0
        const before = rssOf(server.pid)
        endless(true)
        const run = await startRun(step)
        const last = (await closedRun(run, 30_000)).at(-1)
        if (last?.type !== 'error' || !last.error.includes(EVENT_TEXT_MAX_CHARS.toLocaleString('en'))) {
          server.note(`the endless ${step} run ended with ${JSON.stringify(last)?.slice(0, 300)}, not an error naming the answer's limit`)
        }
        await upstreamClosed('its run ended')
        // Judged once the garbage of the run can have been collected: sampled the instant the run ended, the same build
        // showed 33-136 MiB (GC timing), back to ~12 MiB within a second. What a step kept would never come back.
        let grown = rssOf(server.pid) - before
        const settled = await until(
          () => {
            grown = rssOf(server.pid) - before
            return grown <= ENDLESS_GROWTH_BYTES
          },
          { timeoutMs: ENDLESS_SETTLE_MS, everyMs: 100 },
        ).then(
          () => true,
          () => false,
        )
        if (!settled) {
          server.note(
            `the server's RSS grew ${(grown / 2 ** 20).toFixed(0)} MiB over an endless ${step} run and stayed there ${ENDLESS_SETTLE_MS / 1000} s (bound ${ENDLESS_GROWTH_BYTES / 2 ** 20} MiB)`,
          )
        }
      })
    },
    propertyTimeout(60_000),
  )
}
