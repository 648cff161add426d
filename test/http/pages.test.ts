import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { testApp, url } from '../helpers/test-app.ts'
import { DEFAULT_MAX_MESSAGE_BYTES } from '../../src/limits.ts'
import { ID_PATTERN, newId } from '../../src/session-id.ts'
import { MemoryStore } from '../../src/store/memory-store.ts'
import type { StepSpec } from '../../src/steps/step.ts'
import { HeldStep } from '../helpers/held-step.ts'

/** A memory store that counts the sessions created through it (MemoryStore itself cannot list them). */
class CountingStore extends MemoryStore {
  created = 0
  override createSession(id: string, step: StepSpec) {
    this.created++
    return super.createSession(id, step)
  }
}

let made: Awaited<ReturnType<typeof testApp>>
let store: CountingStore
beforeEach(async () => {
  store = new CountingStore()
  made = await testApp({ echoDelayMs: 5, store })
})
afterEach(() => made.close())

const get = (path: string, headers: Record<string, string> = {}) => made.app.handle(new Request(url(path), { headers }))
const post = (path: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
  made.app.handle(new Request(url(path), { method: 'POST', headers, body: new URLSearchParams(form) }))
const htmx = { 'hx-request': 'true' }

/** Replaces the app with one whose runs hold after a few characters until the test releases them. */
async function heldApp(): Promise<HeldStep> {
  await made.close()
  const held = new HeldStep()
  made = await testApp({ step: held })
  return held
}

async function started(): Promise<string> {
  const res = await post('/start', {})
  return res.headers.get('location')!.split('=')[1]!
}

describe('pages', () => {
  test('GET / is the landing page, under a strict CSP, linking only its own assets', async () => {
    const res = await get('/')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'")
    const html = await res.text()
    expect(html.startsWith('<!doctype html>')).toBe(true)
    expect(html).toContain('Start New Chat')
    // The demo says what it is: an echo is not mistaken for a model that repeats the question.
    expect(html).toContain('New chats run the <code>echo</code> step: <span>echoes your message back')
    expect(html).not.toMatch(/<script>|<style>|\sstyle=|\son[a-z]+=/)
    for (const [, src] of html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)) {
      const asset = await get(src!)
      expect(asset.status).toBe(200)
      expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(100)
    }
  })

  test('the JS and CSS a page loads stay under 60 KB gzipped', async () => {
    const html = await (await get('/')).text()
    let total = 0
    for (const [, src] of html.matchAll(/(?:src|href)="(\/assets\/[^"]+\.(?:js|css)\?[^"]*)"/g)) {
      total += (await (await get(src!, { 'accept-encoding': 'gzip' })).arrayBuffer()).byteLength
    }
    expect(total).toBeGreaterThan(10_000)
    expect(total).toBeLessThan(60 * 1024)
  })

  test('assets are served gzipped when asked, and an unknown asset is 404', async () => {
    const page = await (await get('/')).text()
    const src = page.match(/src="(\/assets\/htmx\.min\.js[^"]*)"/)![1]!
    const gz = await get(src, { 'accept-encoding': 'gzip, br' })
    expect(gz.headers.get('content-encoding')).toBe('gzip')
    expect(gz.headers.get('cache-control')).toContain('immutable')
    expect((await get('/assets/nope.js')).status).toBe(404)
  })

  test('POST /start without htmx redirects (303) to the new session and starts the default conversation', async () => {
    const res = await post('/start', {})
    expect(res.status).toBe(303)
    const id = res.headers.get('location')!.match(/^\/\?client_id=([A-Za-z0-9_-]{22})$/)![1]!
    await made.deps.runner.settled(id)
    const events = await made.deps.store.read(id, 0)
    expect(events[0]).toMatchObject({ type: 'user', text: 'Hello! Please tell me a short story about a robot.' })
    expect(events.at(-1)).toMatchObject({ type: 'final', text: 'Hello! Please tell me a short story about a robot.' })
  })

  test('GET and HEAD /start answer the landing page and create no session (a prefetcher starts nothing)', async () => {
    const landing = await (await get('/')).text()
    for (const method of ['GET', 'HEAD']) {
      const res = await made.app.handle(new Request(url('/start'), { method }))
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
      expect(res.headers.get('hx-push-url')).toBeNull()
      if (method === 'GET') expect(await res.text()).toBe(landing)
    }
    expect(store.created).toBe(0)
  })

  test('the page carries the limits app.js and the form need, from the one place they are written', async () => {
    const html = await (await get('/')).text()
    expect(html).toContain(`<body data-id-pattern="${ID_PATTERN.source}" `)
    expect(new RegExp(html.match(/data-id-pattern="([^"]+)"/)![1]!).test(newId())).toBe(true)
    const chat = await (await get(`/?client_id=${await started()}`)).text()
    expect(chat).toContain(`maxlength="${DEFAULT_MAX_MESSAGE_BYTES}"`)
  })

  test('the landing page starts a chat with a POST, by htmx or as a plain form', async () => {
    const html = await (await get('/')).text()
    expect(html).toContain('<form action="/start" method="post" hx-post="/start"')
    expect(html).not.toMatch(/hx-get="\/start"|href="\/start"/)
  })

  test('POST /start from htmx answers the chat fragment and HX-Push-Url', async () => {
    const res = await post('/start', {}, htmx)
    expect(res.status).toBe(200)
    const push = res.headers.get('hx-push-url')!
    expect(push).toMatch(/^\/\?client_id=[A-Za-z0-9_-]{22}$/)
    const html = await res.text()
    expect(html).toContain(`hx-sse:connect="/events?client_id=${push.split('=')[1]}&after=`)
    expect(html).not.toContain('<html')
    expect(store.created).toBe(1)
  })

  test('GET /?client_id= renders the transcript so far and streams after its last event', async () => {
    const id = await started()
    await made.deps.runner.settled(id)
    const html = await (await get(`/?client_id=${id}`)).text()
    const last = (await made.deps.store.getSession(id))!.last_seq
    expect(html).toContain(`after=${last}`)
    // The tab's title, the message and its echo.
    expect(html).toContain('<title>Hello! Please tell me a short story about a robot.</title>')
    expect(html.match(/Hello! Please tell me a short story about a robot\./g)?.length).toBe(3)
    expect(html).toContain('data-state="idle"')
  })

  test('malformed client_id → 400 page with a sentence; unknown → 404 landing with a notice', async () => {
    const bad = await get('/?client_id=../../etc')
    expect(bad.status).toBe(400)
    expect(await bad.text()).toContain('That chat link is malformed')
    const unknown = await get(`/?client_id=${newId()}`)
    expect(unknown.status).toBe(404)
    const html = await unknown.text()
    expect(html).toContain('That chat does not exist')
    expect(html).toContain('Start New Chat')
  })

  test('an unknown page is a 404 page, not JSON', async () => {
    const res = await get('/nowhere')
    expect(res.status).toBe(404)
    expect(await res.text()).toContain('There is nothing at /nowhere.')
  })
})

describe('POST /chat and /cancel', () => {
  test('chat: 200 for htmx, 303 for a plain form, 409 while a run is active', async () => {
    const held = await heldApp()
    const id = await started()
    const busy = await post('/chat', { client_id: id, message: 'hi' }, htmx)
    expect(busy.status).toBe(409)
    expect(await busy.text()).toContain('still running')
    await held.held()
    held.release()
    await made.deps.runner.settled(id)
    expect((await post('/chat', { client_id: id, message: 'hi' }, htmx)).status).toBe(200)
    await made.deps.runner.settled(id)
    const plain = await post('/chat', { client_id: id, message: 'again' })
    expect(plain.status).toBe(303)
    expect(plain.headers.get('location')).toBe(`/?client_id=${id}`)
  })

  test('chat: empty, missing or oversized messages and bad ids get 4xx with a sentence', async () => {
    const id = await started()
    await made.deps.runner.settled(id)
    const cases: [Record<string, string>, number, RegExp][] = [
      [{ client_id: id, message: '' }, 400, /empty/],
      [{ client_id: id, message: '  \n ' }, 400, /empty/],
      [{ client_id: id }, 400, /empty/],
      [{ client_id: id, message: 'x'.repeat(DEFAULT_MAX_MESSAGE_BYTES + 1) }, 413, /limit is 32768 bytes/],
      [{ message: 'hi' }, 400, /client_id/],
      [{ client_id: 'short', message: 'hi' }, 400, /malformed/],
      [{ client_id: newId(), message: 'hi' }, 404, /No chat has that id/],
    ]
    for (const [form, status, sentence] of cases) {
      const res = await post('/chat', form, htmx)
      expect(res.status).toBe(status)
      const body = await res.text()
      expect(body).toMatch(sentence)
      expect(body).toStartWith('<span class="error">')
    }
  })

  test('cancel: 409 when idle, 200 while running; the run ends interrupted', async () => {
    // A run that holds until cancelled: the cancel never comes after its end, whatever the load.
    const held = await heldApp()
    const id = await started()
    await held.held()
    expect((await post('/cancel', { client_id: id }, htmx)).status).toBe(200)
    await made.deps.runner.settled(id)
    expect((await made.deps.store.read(id, 0)).at(-1)?.type).toBe('interrupt')
    const idle = await post('/cancel', { client_id: id }, htmx)
    expect(idle.status).toBe(409)
    expect(await idle.text()).toContain('Nothing is running')
  })
})

describe('stream routes before the stream starts', () => {
  test('both streams refuse malformed (400) and unknown (404) sessions with a body', async () => {
    expect((await get('/events?client_id=bad')).status).toBe(400)
    expect((await get('/events')).status).toBe(400)
    expect((await get(`/events?client_id=${newId()}`)).status).toBe(404)
    const api = await get(`/api/sessions/${newId()}/stream`)
    expect(api.status).toBe(404)
    expect(await api.json()).toMatchObject({ error: { code: 'SESSION_NOT_FOUND' } })
  })

  test('a cursor that is not a whole number is a 400', async () => {
    const id = await started()
    expect((await get(`/events?client_id=${id}&after=-3`)).status).toBe(400)
    expect((await get(`/events?client_id=${id}`, { 'last-event-id': '1e3' })).status).toBe(400)
  })

  test('SSE headers, and retry: first', async () => {
    const id = await started()
    const controller = new AbortController()
    const res = await made.app.handle(new Request(url(`/events?client_id=${id}`), { signal: controller.signal }))
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    expect(res.headers.get('cache-control')).toBe('no-cache, no-transform')
    expect(res.headers.get('x-accel-buffering')).toBe('no')
    const reader = res.body!.getReader()
    // The body is written as it is made, not chunk by chunk: the chat's first events may come in the same read.
    const first = new TextDecoder().decode((await reader.read()).value)
    expect(first).toStartWith('retry: 1000\n\n')
    controller.abort()
    await reader.cancel()
  })
})
