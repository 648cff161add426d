import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer, type ServerOptions } from '../../src/create-server.ts'
import { SYSTEM_PROMPT_MAX_BYTES } from '../../src/limits.ts'
import { silentLogger } from '../../src/log.ts'
import type { OpenAiConfig } from '../../src/steps/openai-config.ts'
import { openAiStep } from '../../src/steps/openai-step.ts'
import { answer, FakeOpenAI } from '../helpers/fake-openai.ts'
import { redisAvailable, startRedis } from '../helpers/redis-server.ts'
import { eventually, READY_MS } from '../helpers/wait.ts'
import { url } from '../helpers/test-app.ts'

/**
 * Per-chat model and system prompt: chosen when the chat is created (`POST /api/sessions {"options"}`, the New Chat
 * form), checked against `--models`, recorded in the chat's step spec, and used by every run of the chat, whichever
 * instance runs it and after a restart.
 */

const fake = new FakeOpenAI().always({ stream: answer(['Ahoy.']) })
const dir = mkdtempSync(join(tmpdir(), 'stepstream-chat-model-'))
afterAll(async () => {
  await fake.stop()
  rmSync(dir, { recursive: true, force: true })
})

const config = (): OpenAiConfig => ({
  baseUrl: fake.baseUrl,
  model: 'model-a',
  models: ['model-a', 'model-b'],
  systemPrompt: 'The server default.',
  maxToolRounds: 0,
  requestTimeoutMs: 5000,
})

const server = (store: ServerOptions['store'] = { kind: 'memory' }, models = config().models) =>
  createServer({ steps: [openAiStep({ ...config(), models }, silentLogger)], log: silentLogger, rateLimit: false, store })

type Server = Awaited<ReturnType<typeof server>>

const post = (s: Server, path: string, body: unknown) =>
  s.app.handle(new Request(url(path), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }))

/** Sends a message to the chat and answers the request the model server saw for it. */
async function ask(s: Server, id: string) {
  const before = fake.requests.length
  expect((await post(s, `/api/sessions/${id}/messages`, { text: 'Hi' })).status).toBe(202)
  const request = await eventually(() => fake.requests[before], { what: 'the model request' })
  await eventually(async () => !(await (await s.app.handle(new Request(url(`/api/sessions/${id}`)))).json()).running || undefined)
  return request.body as { model: string; messages: { role: string; content: string }[] }
}

describe('a chat chooses its model and system prompt at New Chat', () => {
  test('a model outside --models gets 422 naming the allowed ones; so does an unknown option and an over-long prompt', async () => {
    const s = await server()
    try {
      const outside = await post(s, '/api/sessions', { step: 'openai', options: { model: 'gpt-5' } })
      expect(outside.status).toBe(422)
      const { error } = (await outside.json()) as { error: { code: string; message: string } }
      expect(error.code).toBe('BAD_STEP_OPTIONS')
      expect(error.message).toBe('This server does not offer the model "gpt-5": choose one of model-a, model-b.')
      expect((await post(s, '/api/sessions', { options: { model: 7 } })).status).toBe(422)
      expect((await post(s, '/api/sessions', { options: { temperature: 2 } })).status).toBe(422)
      const long = await post(s, '/api/sessions', { options: { system_prompt: 'é'.repeat(SYSTEM_PROMPT_MAX_BYTES / 2 + 1) } })
      expect(long.status).toBe(422)
      expect(((await long.json()) as { error: { message: string } }).error.message).toContain(`at most ${SYSTEM_PROMPT_MAX_BYTES}`)
      const fits = await post(s, '/api/sessions', { options: { system_prompt: 'é'.repeat(SYSTEM_PROMPT_MAX_BYTES / 2) } })
      expect(fits.status).toBe(201)
    } finally {
      await s.stop()
    }
  })

  test('the chosen model and system prompt are recorded, shown to the owner, and sent to the model server', async () => {
    const s = await server()
    try {
      const made = await post(s, '/api/sessions', { options: { model: 'model-b', system_prompt: 'Talk like a pirate.' } })
      expect(made.status).toBe(201)
      const { id, viewer_id, model } = (await made.json()) as { id: string; viewer_id: string; model: string }
      expect(model).toBe('model-b')
      const shown = (await (await s.app.handle(new Request(url(`/api/sessions/${id}`)))).json()) as Record<string, unknown>
      expect(shown).toMatchObject({ model: 'model-b', system_prompt: 'Talk like a pirate.' })
      // The viewer sees the model, not the owner's words to it.
      const viewed = (await (await s.app.handle(new Request(url(`/api/sessions/view/${viewer_id}`)))).json()) as Record<string, unknown>
      expect(viewed.model).toBe('model-b')
      expect(viewed).not.toHaveProperty('system_prompt')
      const sent = await ask(s, id)
      expect(sent.model).toBe('model-b')
      expect(sent.messages[0]).toEqual({ role: 'system', content: 'Talk like a pirate.' })
    } finally {
      await s.stop()
    }
  })

  test('a chat that chooses nothing records the default model and asks with the server prompt', async () => {
    const s = await server()
    try {
      const { id, model } = (await (await post(s, '/api/sessions', {})).json()) as { id: string; model: string }
      expect(model).toBe('model-a')
      const sent = await ask(s, id)
      expect(sent.model).toBe('model-a')
      expect(sent.messages[0]).toEqual({ role: 'system', content: 'The server default.' })
    } finally {
      await s.stop()
    }
  })

  test('the New Chat form (POST /start) chooses them too, and a model outside the list is refused', async () => {
    const s = await server()
    try {
      const form = (body: string) =>
        s.app.handle(new Request(url('/start'), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body }))
      const before = fake.requests.length
      const started = await form('model=model-b&system_prompt=Be+terse.')
      expect(started.status).toBe(303)
      const request = await eventually(() => fake.requests[before], { what: 'the model request' })
      expect(request.body.model).toBe('model-b')
      expect(request.body.messages[0]).toEqual({ role: 'system', content: 'Be terse.' })
      const refused = await form('model=gpt-5')
      expect(refused.status).toBe(422)
      expect(await refused.text()).toContain('model-a, model-b')
    } finally {
      await s.stop()
    }
  })

  test('on SQLite the choice survives a restart: the next run after it asks the same model with the same prompt', async () => {
    const store = { kind: 'sqlite' as const, path: join(dir, 'restart.db') }
    const first = await server(store)
    let id: string
    try {
      const made = await post(first, '/api/sessions', { options: { model: 'model-b', system_prompt: 'Remember me.' } })
      id = ((await made.json()) as { id: string }).id
      expect((await ask(first, id)).model).toBe('model-b')
    } finally {
      await first.stop()
    }
    const second = await server(store)
    try {
      const sent = await ask(second, id)
      expect(sent.model).toBe('model-b')
      expect(sent.messages[0]).toEqual({ role: 'system', content: 'Remember me.' })
    } finally {
      await second.stop()
    }
  })

  test.skipIf(!redisAvailable('per-chat models across Redis instances'))(
    'on Redis, another instance runs the chat with its choice: created on one, asked on the other',
    async () => {
      const redis = await startRedis()
      const [one, other] = [await server({ kind: 'redis', url: redis.url }), await server({ kind: 'redis', url: redis.url })]
      try {
        const made = await post(one, '/api/sessions', { options: { model: 'model-b', system_prompt: 'Across instances.' } })
        const { id } = (await made.json()) as { id: string }
        const sent = await ask(other, id)
        expect(sent.model).toBe('model-b')
        expect(sent.messages[0]).toEqual({ role: 'system', content: 'Across instances.' })
      } finally {
        await one.stop()
        await other.stop()
        await redis.destroy()
      }
    },
    READY_MS * 2,
  )

  test('a chat whose model the server no longer offers ends its next run with a sentence, never asking another model', async () => {
    const store = { kind: 'sqlite' as const, path: join(dir, 'withdrawn.db') }
    const first = await server(store)
    let id: string
    try {
      id = ((await (await post(first, '/api/sessions', { options: { model: 'model-b' } })).json()) as { id: string }).id
    } finally {
      await first.stop()
    }
    const second = await server(store, ['model-a'])
    try {
      const asked = fake.requests.length
      expect((await post(second, `/api/sessions/${id}/messages`, { text: 'Hi' })).status).toBe(202)
      const events = await eventually(async () => {
        const all = (await (await second.app.handle(new Request(url(`/api/sessions/${id}/events`)))).json()) as {
          type: string
          error?: string
        }[]
        return all.some((e) => e.type === 'error') ? all : undefined
      })
      expect(events.find((e) => e.type === 'error')?.error).toBe(
        'This chat asks the model "model-b", which this server no longer offers (it offers model-a): start a new chat.',
      )
      expect(fake.requests.length).toBe(asked)
    } finally {
      await second.stop()
    }
  })
})
