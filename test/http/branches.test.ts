import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { StoredEvent } from '../../src/events.ts'
import { silentLogger } from '../../src/log.ts'
import type { EventStore } from '../../src/log/event-store.ts'
import { openRedis } from '../../src/redis/redis-open.ts'
import { newId } from '../../src/session-id.ts'
import type { Conversation, Step, StepContext } from '../../src/steps/step.ts'
import { MAX_BRANCHES_PER_CHAT } from '../../src/limits.ts'
import { SqliteStore } from '../../src/store/sqlite-store.ts'
import { builtInTools, openAiRunStep } from '../../src/steps/openai-step.ts'
import { answer, FakeOpenAI } from '../helpers/fake-openai.ts'
import { HeldStep } from '../helpers/held-step.ts'
import { redisAvailable, startRedis, type TestRedis } from '../helpers/redis-server.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { testApp, url } from '../helpers/test-app.ts'
import { eventually } from '../helpers/wait.ts'

slowTests()

/** A step that keeps every conversation it was given and answers the Nth with "answer N". */
class RecordingStep implements Step {
  readonly type = 'recording'
  readonly conversations: Conversation[] = []

  async run(input: Conversation, { emit }: StepContext): Promise<void> {
    this.conversations.push(structuredClone(input))
    await emit({ type: 'start', step_type: this.type })
    await emit({ type: 'final', text: `answer ${this.conversations.length}` })
  }
}

const available = redisAvailable('the branch API on the Redis store')
let redis: TestRedis | undefined
beforeAll(async () => {
  if (available) redis = await startRedis()
})
afterAll(async () => {
  await redis?.destroy()
})

const stores: [string, () => Promise<EventStore | undefined>][] = [
  ['memory', async () => undefined],
  ['sqlite', async () => new SqliteStore(':memory:')],
]
if (available) {
  stores.push(['redis', async () => (await openRedis(redis!.url, { prefix: `t${newId()}:`, log: silentLogger })).store])
}

describe.each(stores)('branches and regenerate (%s store)', (_name, openStore) => {
  async function setup() {
    const recorder = new RecordingStep()
    const held = new HeldStep(1)
    const made = await testApp({ store: await openStore(), step: recorder, moreSteps: [held] })
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await made.app.handle(
        new Request(url(path), {
          method,
          headers: body === undefined ? {} : { 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        }),
      )
      return { status: res.status, body: (await res.json()) as Record<string, unknown> & { error?: { message: string } } }
    }
    const events = async (id: string) => (await call('GET', `/api/sessions/${id}/events`)).body as unknown as StoredEvent[]
    const created = async (step?: string) => (await call('POST', '/api/sessions', step ? { step } : undefined)).body.id as string
    const say = async (id: string, text: string) => {
      expect((await call('POST', `/api/sessions/${id}/messages`, { text })).status).toBe(202)
      await made.deps.runner.settled(id)
    }
    return { made, recorder, held, call, events, created, say }
  }

  test('a fork holds the same events up to `at` and is independent from then on', async () => {
    const { made, call, events, created, say } = await setup()
    try {
      const source = await created()
      await say(source, 'one')
      await say(source, 'two')
      const before = await events(source)
      const at = before.find((e) => e.type === 'final')!.seq
      const fork = await call('POST', `/api/sessions/${source}/fork`, { at })
      expect(fork.status).toBe(201)
      const branch = fork.body.id as string
      expect(fork.body).toMatchObject({ url: `/?client_id=${branch}`, forked_from: { id: source, at }, last_seq: at })
      expect(fork.body.viewer_id).not.toBe((await call('GET', `/api/sessions/${source}`)).body.viewer_id)
      const pairs = (list: StoredEvent[]) => list.map((e) => [e.seq, e.type])
      expect(pairs(await events(branch))).toEqual(pairs(before.filter((e) => e.seq <= at)))
      expect((await call('GET', `/api/sessions/${branch}`)).body).toMatchObject({ forked_from: { id: source, at } })
      // Appending to either leaves the other as it was.
      await say(branch, 'three')
      expect(pairs(await events(source))).toEqual(pairs(before))
      await say(source, 'four')
      const branchEvents = await events(branch)
      expect(branchEvents.filter((e) => e.type === 'user').map((e) => (e as { text: string }).text)).toEqual(['one', 'three'])
      // Deleting the source (when the store can) leaves the branch readable.
      if ('core' in made.deps.store) {
        await (made.deps.store as unknown as { core: { delete(id: string): Promise<unknown> } }).core.delete(source)
        expect((await call('GET', `/api/sessions/${source}`)).status).toBe(404)
        expect(pairs(await events(branch))).toEqual(pairs(branchEvents))
        // The deleted chat is kept for its branch, which can still be branched where it was: a version of a message
        // first written in the deleted chat.
        const again = await call('POST', `/api/sessions/${branch}/fork`, { at })
        expect(again.status).toBe(201)
        expect(pairs(await events(again.body.id as string))).toEqual(pairs(branchEvents.filter((e) => e.seq <= at)))
      }
    } finally {
      await made.close()
    }
  })

  test('a fork at a seq outside 0..head, or not a whole number, is refused with a sentence', async () => {
    const { made, call, created, say } = await setup()
    try {
      const source = await created()
      await say(source, 'one')
      const head = (await call('GET', `/api/sessions/${source}`)).body.last_seq as number
      for (const body of [{ at: head + 1 }, { at: -1 }, { at: 1.5 }, { at: '1' }, {}, { at: 1, extra: true }, [1], null]) {
        const answer = await call('POST', `/api/sessions/${source}/fork`, body)
        expect(answer.status).toBe(400)
        expect(answer.body.error?.message).toMatch(/"at"/)
      }
      expect((await call('POST', `/api/sessions/${newId()}/fork`, { at: 0 })).status).toBe(404)
      const viewer = (await call('GET', `/api/sessions/${source}`)).body.viewer_id as string
      expect((await call('POST', `/api/sessions/${viewer}/fork`, { at: 0 })).status).toBe(403)
      expect((await call('POST', `/api/sessions/${source}/fork`, { at: 0 })).status).toBe(201)
      expect((await call('POST', `/api/sessions/${source}/fork`, { at: head })).status).toBe(201)
    } finally {
      await made.close()
    }
  })

  test('a fork of a run still going closes it in the branch with an interrupt, and the run goes on in the source', async () => {
    const { made, call, events, created, held } = await setup()
    try {
      const source = await created('held')
      expect((await call('POST', `/api/sessions/${source}/messages`, { text: 'hello' })).status).toBe(202)
      await held.held()
      const at = (await call('GET', `/api/sessions/${source}`)).body.last_seq as number
      const fork = await call('POST', `/api/sessions/${source}/fork`, { at })
      expect(fork.status).toBe(201)
      const branch = await events(fork.body.id as string)
      expect(branch.map((e) => e.type)).toEqual(['user', 'start', 'partial', 'interrupt'])
      expect(branch.at(-1)).toMatchObject({ text: 'h', seq: at + 1 })
      held.release()
      await made.deps.runner.settled(source)
      expect((await events(source)).at(-1)).toMatchObject({ type: 'final', text: 'hello' })
    } finally {
      await made.close()
    }
  })

  test('regenerate answers the last question again as a new run, and the model sees it once, without the old answer', async () => {
    const { made, recorder, call, events, created, say } = await setup()
    try {
      const source = await created()
      await say(source, 'first question')
      await say(source, 'second question')
      const answer = await call('POST', `/api/sessions/${source}/regenerate`)
      expect(answer.status).toBe(202)
      const branch = answer.body.id as string
      const sourceEvents = await events(source)
      const question = sourceEvents.findLast((e) => e.type === 'user')!
      expect(answer.body).toMatchObject({ forked_from: { id: source, at: question.seq - 1 } })
      await made.deps.runner.settled(branch)
      const regenerated = await events(branch)
      const run = regenerated.filter((e) => e.step_id === answer.body.step_id)
      expect(run.map((e) => e.type)).toEqual(['user', 'start', 'final'])
      expect(run[0]).toMatchObject({ seq: question.seq, text: 'second question' })
      expect(run.at(-1)).toMatchObject({ text: 'answer 3' })
      // The model was asked the conversation up to the question, the question once, and not the answer it replaces.
      expect(recorder.conversations.at(-1)).toEqual([
        recorder.conversations[0]![0]!,
        { role: 'user', content: 'first question' },
        { role: 'assistant', content: 'answer 1' },
        { role: 'user', content: 'second question' },
      ])
      // The source keeps its answer: the earlier version.
      expect(await events(source)).toEqual(sourceEvents)
      expect(sourceEvents.at(-1)).toMatchObject({ type: 'final', text: 'answer 2' })
    } finally {
      await made.close()
    }
  })

  test('regenerate is refused while a run is going, and before any question, with sentences', async () => {
    const { made, call, created, held } = await setup()
    try {
      const empty = await created()
      const none = await call('POST', `/api/sessions/${empty}/regenerate`)
      expect(none.status).toBe(409)
      expect(none.body.error?.message).toContain('no question')
      const busy = await created('held')
      expect((await call('POST', `/api/sessions/${busy}/messages`, { text: 'hello' })).status).toBe(202)
      await held.held()
      const refused = await call('POST', `/api/sessions/${busy}/regenerate`)
      expect(refused.status).toBe(409)
      expect(refused.body.error?.message).toContain('still running')
      held.release()
      await made.deps.runner.settled(busy)
      const again = await call('POST', `/api/sessions/${busy}/regenerate`)
      expect(again.status).toBe(202)
      // The question answered again holds too: let it finish.
      await held.held()
      held.release()
      await made.deps.runner.settled(again.body.id as string)
      const viewer = (await call('GET', `/api/sessions/${busy}`)).body.viewer_id as string
      expect((await call('POST', `/api/sessions/${viewer}/regenerate`)).status).toBe(403)
    } finally {
      await made.close()
    }
  })

  test('a fork of a published chat gets a publisher token of its own, and regenerate there is refused', async () => {
    const { made, call } = await setup()
    try {
      const source = (await call('POST', '/api/sessions', { publisher: true })).body
      const fork = await call('POST', `/api/sessions/${source.id}/fork`, { at: 0 })
      expect(fork.status).toBe(201)
      expect(typeof fork.body.publisher_token).toBe('string')
      expect(fork.body.publisher_token).not.toBe(source.publisher_token)
      const run = await made.app.handle(
        new Request(url(`/api/sessions/${fork.body.id}/runs`), {
          method: 'POST',
          headers: { authorization: `Bearer ${fork.body.publisher_token}` },
        }),
      )
      expect(run.status).toBe(201)
      expect((await call('POST', `/api/sessions/${source.id}/regenerate`)).status).toBe(409)
    } finally {
      await made.close()
    }
  })
})

test('the versions of a message are recorded in the chat it was first written in, however deep the branch', async () => {
  const made = await testApp({ step: new RecordingStep() })
  try {
    const post = async (path: string, body?: unknown) =>
      (await (
        await made.app.handle(
          new Request(url(path), {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: body === undefined ? undefined : JSON.stringify(body),
          }),
        )
      ).json()) as { id: string }
    const root = (await post('/api/sessions')).id
    await post(`/api/sessions/${root}/messages`, { text: 'q' })
    await made.deps.runner.settled(root)
    const v2 = (await post(`/api/sessions/${root}/regenerate`)).id
    await made.deps.runner.settled(v2)
    const v3 = (await post(`/api/sessions/${v2}/regenerate`)).id
    await made.deps.runner.settled(v3)
    const store = made.deps.store as unknown as { lineage(id: string): Promise<{ id: string; branches: unknown[] }[]> }
    await eventually(async () => ((await store.lineage(root))[0]!.branches.length === 2 ? true : undefined))
    expect((await store.lineage(root))[0]!.branches).toEqual([
      { id: v2, at: 0 },
      { id: v3, at: 0 },
    ])
    expect((await store.lineage(v3)).map((chat) => chat.id)).toEqual([v3, v2, root])
  } finally {
    await made.close()
  }
})

test('regenerate with the openai step: the model server is sent the conversation up to the question, once, without the old answer', async () => {
  const model = new FakeOpenAI()
  const step = openAiRunStep(
    { baseUrl: model.baseUrl, model: 'm', systemPrompt: 'Be brief.', maxToolRounds: 2, requestTimeoutMs: 5000 },
    builtInTools(),
    silentLogger,
  )
  const made = await testApp({ step })
  try {
    const post = async (path: string, body?: unknown) => {
      const res = await made.app.handle(
        new Request(url(path), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        }),
      )
      return (await res.json()) as { id: string }
    }
    model.reply({ stream: answer(['Paris.']) }, { stream: answer(['Rome.']) }, { stream: answer(['Lyon?']) })
    const id = (await post('/api/sessions')).id
    await post(`/api/sessions/${id}/messages`, { text: 'Capital of France?' })
    await made.deps.runner.settled(id)
    await post(`/api/sessions/${id}/messages`, { text: 'And of Italy?' })
    await made.deps.runner.settled(id)
    const branch = (await post(`/api/sessions/${id}/regenerate`)).id
    await made.deps.runner.settled(branch)
    expect(model.requests).toHaveLength(3)
    expect(model.requests[2]!.body.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Capital of France?' },
      { role: 'assistant', content: 'Paris.' },
      { role: 'user', content: 'And of Italy?' },
    ])
  } finally {
    await made.close()
    await model.stop()
  }
})

describe('the branches a chat records', () => {
  async function chatApp() {
    const made = await testApp({ step: new RecordingStep() })
    const post = async (path: string, body?: unknown) => {
      const res = await made.app.handle(
        new Request(url(path), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        }),
      )
      return { status: res.status, body: (await res.json()) as { id: string; error?: { message: string } } }
    }
    const store = made.deps.store as unknown as {
      lineage(id: string): Promise<{ branches: unknown[] }[]>
      core: { delete(id: string): Promise<unknown> }
    }
    const root = (await post('/api/sessions')).body.id
    await post(`/api/sessions/${root}/messages`, { text: 'q' })
    await made.deps.runner.settled(root)
    return { made, post, store, root }
  }

  test('forks of one chat made at once are each recorded: none is lost to another', async () => {
    const { made, post, store, root } = await chatApp()
    try {
      const forks = await Promise.all(Array.from({ length: 8 }, () => post(`/api/sessions/${root}/fork`, { at: 0 })))
      expect(forks.map((fork) => fork.status)).toEqual(Array(8).fill(201))
      const recorded = (await store.lineage(root))[0]!.branches
      expect(new Set(recorded.map((branch) => (branch as { id: string }).id))).toEqual(new Set(forks.map((fork) => fork.body.id)))
    } finally {
      await made.close()
    }
  })

  test(`past ${MAX_BRANCHES_PER_CHAT} branches a fork is refused with a sentence, until one of them is deleted`, async () => {
    const { made, post, store, root } = await chatApp()
    try {
      const first = (await post(`/api/sessions/${root}/fork`, { at: 1 })).body.id
      for (let i = 1; i < MAX_BRANCHES_PER_CHAT; i++) expect((await post(`/api/sessions/${root}/fork`, { at: i % 3 })).status).toBe(201)
      const refused = await post(`/api/sessions/${root}/fork`, { at: 0 })
      expect(refused.status).toBe(409)
      expect(refused.body.error?.message).toContain(`${MAX_BRANCHES_PER_CHAT} branches`)
      await store.core.delete(first)
      expect((await post(`/api/sessions/${root}/fork`, { at: 0 })).status).toBe(201)
      expect((await store.lineage(root))[0]!.branches).toHaveLength(MAX_BRANCHES_PER_CHAT)
    } finally {
      await made.close()
    }
  })

  test('the read-only API of a branch says nothing of where it came from', async () => {
    const { made, post, root } = await chatApp()
    try {
      const fork = await post(`/api/sessions/${root}/fork`, { at: 1 })
      const viewerId = (fork.body as unknown as { viewer_id: string }).viewer_id
      const seen = await (await made.app.handle(new Request(url(`/api/sessions/view/${viewerId}`)))).text()
      expect(seen).not.toContain(root)
      expect(seen).not.toContain('forked_from')
    } finally {
      await made.close()
    }
  })
})
