import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import type { NewEvent } from '../../src/events.ts'
import { PAGE_EVENT_BYTES } from '../../src/limits.ts'
import { newId } from '../../src/session-id.ts'
import type { SessionRecord } from '../../src/log/event-store.ts'
import { MemoryStore } from '../../src/store/memory-store.ts'
import { testApp, url } from '../helpers/test-app.ts'
import { ECHO } from '../helpers/echo-spec.ts'

let made: Awaited<ReturnType<typeof testApp>>
let store: MemoryStore
beforeEach(async () => {
  store = new MemoryStore()
  made = await testApp({ store })
})
afterEach(() => made.close())

const get = (path: string) => made.app.handle(new Request(url(path)))
const ts = () => new Date().toISOString()

/** Turn `i` of a chat: the question `question-i`, and an answer of about `answerBytes` bytes that says `answer-i`. */
function turn(i: number, answerBytes: number): NewEvent[] {
  const step_id = `run-${i}`
  return [
    { type: 'user', step_id, ts: ts(), text: `question-${i}` },
    { type: 'start', step_id, ts: ts(), step_type: 'echo' },
    { type: 'partial', step_id, ts: ts(), delta: `answer-${i} ` },
    { type: 'final', step_id, ts: ts(), text: `answer-${i} `.padEnd(answerBytes, '.') },
  ]
}

/** A chat of `turns` turns of about 20 KB each: 60 of them are more than twice PAGE_EVENT_BYTES. */
async function longChat(turns: number): Promise<SessionRecord> {
  const session = await store.createSession(newId(), ECHO)
  for (let i = 1; i <= turns; i++) for (const event of turn(i, 20_000)) await store.append(session.id, event)
  return session
}

/** The questions a piece of HTML shows in its transcript, in order (the tab's title is the first question's). */
const questions = (html: string) => [...html.replace(/<title>.*?<\/title>/s, '').matchAll(/question-(\d+)/g)].map((m) => Number(m[1]))
/** The link of its "Load earlier messages" button, if it has one. */
const earlierLink = (html: string) => /hx-get="(\/earlier\?[^"]+)"/.exec(html)?.[1]?.replaceAll('&amp;', '&')

describe('the page of a long chat', () => {
  test('renders only its latest turns, bounded in bytes, whole, with a button to load the earlier ones', async () => {
    const session = await longChat(60)
    const html = await (await get(`/?client_id=${session.id}`)).text()
    expect(html.length).toBeLessThan(PAGE_EVENT_BYTES + 100_000)
    const shown = questions(html)
    expect(shown.at(-1)).toBe(60)
    expect(shown[0]).toBeGreaterThan(1)
    expect(shown).toEqual(Array.from({ length: shown.length }, (_, i) => shown[0]! + i))
    // Whole turns: the first one shown has its question and its answer.
    expect(html).toContain(`answer-${shown[0]} `)
    expect(html).not.toContain(`answer-${shown[0]! - 1} `)
    expect(earlierLink(html)).toMatch(new RegExp(`^/earlier\\?client_id=${session.id}&before=\\d+$`))
    expect(html).toContain('Load earlier messages')
  })

  test('following "Load earlier messages" to the start brings every earlier turn once, in order', async () => {
    const session = await longChat(60)
    let html = await (await get(`/?client_id=${session.id}`)).text()
    const seen = questions(html)
    for (let link = earlierLink(html); link; link = earlierLink(html)) {
      const res = await get(link)
      expect(res.status).toBe(200)
      html = await res.text()
      expect(html.length).toBeLessThan(PAGE_EVENT_BYTES + 100_000)
      seen.unshift(...questions(html))
    }
    expect(seen).toEqual(Array.from({ length: 60 }, (_, i) => i + 1))
  })

  test("a read-only page gets the same button, and its fragments hold the viewer id and never the owner's", async () => {
    const session = await longChat(60)
    const page = await (await get(`/?view=${session.viewer_id}`)).text()
    const link = earlierLink(page)!
    expect(link).toStartWith(`/earlier?view=${session.viewer_id}&before=`)
    const fragment = await (await get(link)).text()
    expect(questions(fragment).length).toBeGreaterThan(0)
    expect(earlierLink(fragment)).toStartWith(`/earlier?view=${session.viewer_id}&before=`)
    expect(page + fragment).not.toContain(session.id)
  })

  test('a bound that falls inside a turn starts the page at the next turn, never half a run', async () => {
    // Long questions, short answers: reading back from the end, the bound falls on a question, after its answer.
    const session = await store.createSession(newId(), ECHO)
    for (let i = 1; i <= 60; i++) {
      const [user, ...rest] = turn(i, 20)
      await store.append(session.id, { ...user!, text: `question-${i} `.padEnd(20_000, '?') } as NewEvent)
      for (const event of rest) await store.append(session.id, event)
    }
    const html = await (await get(`/?client_id=${session.id}`)).text()
    const answers = [...html.matchAll(/answer-(\d+)/g)].map((m) => Number(m[1]))
    expect(new Set(answers)).toEqual(new Set(questions(html)))
  })

  test('a chat under the bound has no button', async () => {
    const session = await longChat(3)
    const html = await (await get(`/?client_id=${session.id}`)).text()
    expect(questions(html)).toEqual([1, 2, 3])
    expect(html).not.toContain('Load earlier messages')
  })
})

describe('GET /earlier', () => {
  test('refuses bad parameters with 400 and a sentence, unknown chats with 404, a read-only id as an owner with 403', async () => {
    const session = await longChat(1)
    const cases: [string, number, RegExp][] = [
      [`/earlier?client_id=${session.id}`, 400, /"before" parameter/],
      [`/earlier?client_id=${session.id}&before=1`, 400, /"before" parameter/],
      [`/earlier?client_id=${session.id}&before=abc`, 400, /"before" parameter/],
      [`/earlier?client_id=${session.id}&before=-5`, 400, /"before" parameter/],
      [`/earlier?client_id=${session.id}&before=99999999999999999999`, 400, /"before" parameter/],
      ['/earlier?before=5', 400, /either client_id or view/],
      [`/earlier?client_id=${session.id}&view=${session.viewer_id}&before=5`, 400, /either client_id or view/],
      ['/earlier?client_id=short&before=5', 400, /malformed/],
      [`/earlier?client_id=${newId()}&before=5`, 404, /No chat has that id/],
      [`/earlier?view=${newId()}&before=5`, 404, /read-only link/],
      [`/earlier?view=${session.id}&before=5`, 404, /read-only link/],
      [`/earlier?client_id=${session.viewer_id}&before=5`, 403, /read-only/],
    ]
    for (const [path, status, sentence] of cases) {
      const res = await get(path)
      expect([path, res.status]).toEqual([path, status])
      expect((await res.text()).replaceAll('&quot;', '"')).toMatch(sentence)
    }
  })

  test('answers the part before `before`, and nothing before the first event', async () => {
    const session = await longChat(2)
    const part = await (await get(`/earlier?client_id=${session.id}&before=5`)).text()
    expect(questions(part)).toEqual([1])
    expect(part).not.toContain('Load earlier messages')
    expect(questions(await (await get(`/earlier?client_id=${session.id}&before=2`)).text())).toEqual([1])
  })
})

describe('the versions of a long chat’s messages (docs/branches.md)', () => {
  test('an earlier part shows them to the owner, as the page does, and never to a viewer', async () => {
    const session = await longChat(60)
    const fork = await made.app.handle(
      new Request(url(`/api/sessions/${session.id}/fork`), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ at: 0 }),
      }),
    )
    expect(fork.status).toBe(201)
    let html = await (await get(`/?client_id=${session.id}`)).text()
    let viewerHtml = await (await get(`/?view=${session.viewer_id}`)).text()
    for (let link = earlierLink(html); link; link = earlierLink(html)) html = await (await get(link)).text()
    for (let link = earlierLink(viewerHtml); link; link = earlierLink(viewerHtml)) viewerHtml = await (await get(link)).text()
    expect(questions(html)[0]).toBe(1)
    expect(html).toContain('aria-label="Versions of this message"')
    expect(html).toContain(`href="/?client_id=${((await fork.json()) as { id: string }).id}"`)
    expect(viewerHtml).not.toContain('Versions of this message')
  })
})
