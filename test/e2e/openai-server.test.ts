import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { answer, FakeOpenAI, toolCalls } from '../helpers/fake-openai.ts'
import { hasEnd, SseReader } from '../helpers/sse-client.ts'
import { spawnServer } from '../helpers/spawn-server.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { READY_MS } from '../helpers/wait.ts'

slowTests()

const KEY = 'sk-live-NEVER-LOG-ME-77aa11'
const fake = new FakeOpenAI()
const dir = mkdtempSync(join(tmpdir(), 'stepstream-openai-'))
afterAll(async () => {
  await fake.stop()
  rmSync(dir, { recursive: true, force: true })
})

const openAiArgs = (db: string) => ['--store', `sqlite:${db}`, '--step', 'openai', '--openai-base-url', fake.baseUrl, '--model', 'llama3.2']

/** Runs `bun src/main.ts` with `args` to its exit: what it printed and its code. */
async function runMain(args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn([process.execPath, 'src/main.ts', '--port', '0', '--store', 'memory', ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  // As long as a start may take on a loaded machine, no longer.
  const timer = setTimeout(() => proc.kill('SIGKILL'), READY_MS)
  const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()])
  clearTimeout(timer)
  return { code, stderr }
}

/** Posts a message and reads the JSON stream until the run's closing event; returns that event. */
async function say(base: string, id: string, text: string, after: number) {
  const posted = await fetch(`${base}/api/sessions/${id}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ text }),
  })
  expect(posted.status).toBe(202)
  const reader = await SseReader.open(`${base}/api/sessions/${id}/stream?after=${after}`)
  const frames = await reader.until(hasEnd)
  reader.close()
  return frames
}

describe('--step openai in a real process', () => {
  test('without a model, or without a key for a remote server: one line on stderr and exit 2', async () => {
    const noModel = await runMain(['--step', 'openai'], { OPENAI_API_KEY: KEY })
    expect(noModel.code).toBe(2)
    expect(noModel.stderr).toBe(
      'stepstream: --step: The openai step needs a model: pass --model (or set STEPSTREAM_MODEL), e.g. --model gpt-4o-mini.\n',
    )
    const noKey = await runMain(['--step', 'openai', '--model', 'gpt-4o-mini'])
    expect(noKey.code).toBe(2)
    expect(noKey.stderr).toMatch(
      /^stepstream: --step: The openai step has no API key for api\.openai\.com: pass --openai-api-key or set OPENAI_API_KEY[^\n]*\n$/,
    )
    const badUrl = await runMain(['--openai-base-url', 'localhost:11434/v1'])
    expect(badUrl.code).toBe(2)
    expect(badUrl.stderr.trim().split('\n')).toHaveLength(1)
  })

  test('a session picks openai by name while echo is the default; without a model that is a 422 with a sentence', async () => {
    const server = await spawnServer([process.execPath, 'src/main.ts'], { args: ['--store', 'memory'] })
    try {
      const res = await fetch(`${server.base}/api/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"step":"openai"}',
      })
      expect(res.status).toBe(422)
      expect(await res.json()).toEqual({
        error: { code: 'STEP_UNAVAILABLE', message: expect.stringMatching(/^The openai step needs a model/) },
      })
    } finally {
      await server.stop()
    }
  })

  test('multi-turn across a restart on the same SQLite file: the second request carries the first turn, tool calls included; the key is never logged', async () => {
    const db = join(dir, 'chat.db')
    const before = fake.requests.length
    fake.reply(
      { stream: toolCalls([{ id: 'call_1', name: 'calculator', args: ['{"expression":', '"6*7"}'] }]) },
      { stream: answer(['It is ', '42.'], { reasoning: ['Multiply.'], usage: [30, 4] }) },
    )
    const env = { OPENAI_API_KEY: KEY }
    const first = await spawnServer([process.execPath, 'src/main.ts'], { args: [...openAiArgs(db), '--log-level', 'debug'], env })
    const created = await fetch(`${first.base}/api/sessions`, { method: 'POST' })
    const { id, step } = (await created.json()) as { id: string; step: string }
    expect(step).toBe('openai')
    const turn1 = await say(first.base, id, 'What is 6 times 7?', 0)
    expect(turn1.at(-1)!.event).toBe('final')
    expect(JSON.parse(turn1.at(-1)!.data)).toMatchObject({
      text: 'It is 42.',
      meta: { model: 'gpt-4o-mini-2024-07-18', usage: { total_tokens: 34 } },
    })
    expect(await first.stop()).toBe(0)

    fake.reply({ stream: answer(['You asked about 6 times 7.']) })
    const second = await spawnServer([process.execPath, 'src/main.ts'], { args: [...openAiArgs(db), '--log-level', 'debug'], env })
    const turn2 = await say(second.base, id, 'What did I ask?', Number(turn1.at(-1)!.id))
    expect(JSON.parse(turn2.at(-1)!.data)).toMatchObject({ type: 'final', text: 'You asked about 6 times 7.' })
    // A server that quotes the key back in its error: the failure is logged, the key is not.
    fake.reply({ status: 401, body: { error: { message: `Incorrect API key provided: ${KEY}` } } })
    const turn3 = await say(second.base, id, 'And now?', Number(turn2.at(-1)!.id))
    expect(JSON.parse(turn3.at(-1)!.data)).toMatchObject({ type: 'error', error: expect.stringMatching(/rejected the API key \(401\)/) })
    expect(await second.stop()).toBe(0)

    const requests = fake.requests.slice(before, before + 3)
    expect(requests.every((r) => r.headers.authorization === `Bearer ${KEY}`)).toBe(true)
    expect(requests[2]!.body.messages).toEqual([
      { role: 'system', content: 'You are a helpful assistant.' },
      { role: 'user', content: 'What is 6 times 7?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'calculator', arguments: '{"expression":"6*7"}' } }],
      },
      { role: 'tool', tool_call_id: 'call_1', content: '{"expression":"6*7","result":42}' },
      { role: 'assistant', content: 'It is 42.' },
      { role: 'user', content: 'What did I ask?' },
    ])
    expect(second.log()).toContain('"msg":"the model request failed"')
    expect(second.log()).toContain('[redacted]')
    expect(first.log() + second.log()).not.toContain(KEY)
  })
})
