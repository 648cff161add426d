import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { newId } from '../../src/session-id.ts'
import { testApp, url } from '../helpers/test-app.ts'

let made: Awaited<ReturnType<typeof testApp>>
beforeEach(async () => {
  made = await testApp({ echoDelayMs: 2 })
})
afterEach(() => made.close())

const request = (path: string, init: RequestInit = {}) => made.app.handle(new Request(url(path), init))
const json = (path: string, body: unknown) =>
  request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
const form = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
  request(path, { method: 'POST', headers, body: new URLSearchParams(fields) })

async function newSession(): Promise<{ id: string; viewer_id: string; view_url: string; url: string }> {
  return (await json('/api/sessions', {})).json() as never
}

/** Everything a response tells its client: status, headers and body, as one string to search for a leaked id. */
async function everything(res: Response): Promise<string> {
  return `${res.status}\n${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${await res.text()}`
}

/** A stream request that can hang up as a browser does: through the request's signal, which the stream races. */
async function openStream(path: string): Promise<{ res: Response; hangUp: () => void }> {
  const controller = new AbortController()
  return { res: await request(path, { signal: controller.signal }), hangUp: () => controller.abort() }
}

/** Reads a stream until its text holds `marker` (a run's end), then hangs up; returns its headers and all it read. */
async function readUntil({ res, hangUp }: { res: Response; hangUp: () => void }, marker: string, timeoutMs = 4000): Promise<string> {
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
  const reader = res.body!.getReader()
  const decoder = new TextDecoder()
  const deadline = Date.now() + timeoutMs
  let text = ''
  while (!text.includes(marker)) {
    if (Date.now() > deadline) throw new Error(`no ${marker} within ${timeoutMs} ms; read: ${text}`)
    const chunk = await Promise.race([reader.read(), Bun.sleep(deadline - Date.now()).then(() => undefined)])
    if (!chunk || chunk.done) break
    text += decoder.decode(chunk.value, { stream: true })
  }
  hangUp()
  const head = [...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')
  return `${head}\n\n${text}`
}

describe('viewer ids', () => {
  test('every session has a viewer id, distinct from its id, returned on creation and by GET /api/sessions/:id', async () => {
    const created = await newSession()
    expect(created.viewer_id).toMatch(/^[A-Za-z0-9_-]{22}$/)
    expect(created.viewer_id).not.toBe(created.id)
    expect(created.view_url).toBe(`/?view=${created.viewer_id}`)
    expect(await (await request(`/api/sessions/${created.id}`)).json()).toMatchObject({ id: created.id, viewer_id: created.viewer_id })
    expect((await newSession()).viewer_id).not.toBe(created.viewer_id)
  })

  test('a viewer reads a live run on both streams and the page, and the owner id is nowhere in what it receives', async () => {
    const { id, viewer_id } = await newSession()
    const received: string[] = []
    const htmlStream = openStream(`/events?view=${viewer_id}`)
    const jsonStream = openStream(`/api/sessions/view/${viewer_id}/stream`)
    expect((await json(`/api/sessions/${id}/messages`, { text: 'watch me' })).status).toBe(202)
    const html = await readUntil(await htmlStream, 'data-state="final"')
    expect(html).toContain('watch me')
    const stream = await readUntil(await jsonStream, 'event: final')
    const finals = stream.split('\n').filter((line) => line.startsWith('data: {"type":"final"'))
    expect(finals).toHaveLength(1)
    const final = JSON.parse(finals[0]!.slice('data: '.length))
    expect(final).toMatchObject({ type: 'final', text: 'watch me' })
    expect(final).not.toHaveProperty('session_id')
    received.push(html, stream)
    await made.deps.runner.settled(id)

    const page = await request(`/?view=${viewer_id}`)
    expect(page.status).toBe(200)
    const pageHtml = await everything(page)
    expect(pageHtml).toContain(`hx-sse:connect="/events?view=${viewer_id}&after=`)
    expect(pageHtml).toContain('watch me')
    expect(pageHtml).toContain('Read-only')
    for (const control of ['id="composer"', 'id="message"', 'id="send"', 'id="cancel"', 'Copy read-only link', 'client_id'])
      expect(pageHtml).not.toContain(control)
    received.push(pageHtml)

    const info = await request(`/api/sessions/view/${viewer_id}`)
    expect(await info.clone().json()).toMatchObject({ viewer_id, step: 'echo', running: false, last_seq: 11 })
    received.push(await everything(info))
    const events = await request(`/api/sessions/view/${viewer_id}/events?after=2&limit=3`)
    expect(((await events.clone().json()) as { seq: number }[]).map((e) => e.seq)).toEqual([3, 4, 5])
    received.push(await everything(events))
    for (const format of ['md', 'json'])
      received.push(await everything(await request(`/api/sessions/view/${viewer_id}/transcript.${format}`)))
    // A viewer id pasted where an owner link goes is sent to its own page, not to the owner's.
    const misplaced = await request(`/?client_id=${viewer_id}`)
    expect([misplaced.status, misplaced.headers.get('location')]).toEqual([303, `/?view=${viewer_id}`])
    received.push(await everything(misplaced))

    for (const text of received) expect(text).not.toContain(id)
  })

  test('every write with a viewer id answers 403 with a sentence, starts nothing, and names no owner id', async () => {
    const { id, viewer_id } = await newSession()
    const writes = [
      () => json(`/api/sessions/${viewer_id}/messages`, { text: 'let me in' }),
      () => json(`/api/sessions/${viewer_id}/cancel`, {}),
      () => form('/chat', { client_id: viewer_id, message: 'let me in' }),
      () => form('/chat', { client_id: viewer_id, message: 'let me in' }, { 'hx-request': 'true' }),
      () => form('/cancel', { client_id: viewer_id }),
      () => form('/cancel', { client_id: viewer_id }, { 'hx-request': 'true' }),
      () => json(`/api/sessions/view/${viewer_id}/messages`, { text: 'let me in' }),
      () => json(`/api/sessions/view/${viewer_id}/cancel`, {}),
      // The owner's read routes would hand out the owner id (GET /api/sessions/:id) or its stream's session_id.
      () => request(`/api/sessions/${viewer_id}`),
      () => request(`/api/sessions/${viewer_id}/events`),
      () => request(`/api/sessions/${viewer_id}/stream`),
      () => request(`/api/sessions/${viewer_id}/transcript.md`),
      () => request(`/events?client_id=${viewer_id}`),
    ]
    for (const write of writes) {
      const res = await write()
      expect(res.status).toBe(403)
      const body = await everything(res)
      expect(body).toContain('read-only link')
      expect(body).not.toContain(id)
    }
    const api = await json(`/api/sessions/${viewer_id}/messages`, { text: 'x' })
    expect(await api.json()).toEqual({
      error: {
        code: 'READ_ONLY',
        message:
          'That is a read-only link: it can watch this chat (/?view=… or /api/sessions/view/…) but not send messages, cancel or publish.',
      },
    })
    expect(await made.deps.store.read(id, 0)).toEqual([])
  })

  test('the viewer routes take only viewer ids: an owner id or an unknown one is a 404, a malformed one a 400', async () => {
    const { id, viewer_id } = await newSession()
    for (const wrong of [id, newId()]) {
      for (const path of [
        `/api/sessions/view/${wrong}`,
        `/api/sessions/view/${wrong}/stream`,
        `/api/sessions/view/${wrong}/transcript.json`,
      ]) {
        const res = await request(path)
        expect(res.status).toBe(404)
        expect(await res.json()).toMatchObject({ error: { code: 'SESSION_NOT_FOUND', message: expect.stringContaining('read-only link') } })
      }
      expect((await request(`/events?view=${wrong}`)).status).toBe(404)
      expect((await json(`/api/sessions/view/${wrong}/messages`, { text: 'hi' })).status).toBe(404)
      const page = await request(`/?view=${wrong}`)
      expect(page.status).toBe(404)
      expect(await page.text()).toContain('No chat has that read-only link')
    }
    for (const path of ['/?view=../x', '/events?view=short', '/api/sessions/view/short/events'])
      expect((await request(path)).status).toBe(400)
    for (const path of [`/?view=${viewer_id}&client_id=${id}`, `/events?view=${viewer_id}&client_id=${id}`]) {
      const res = await request(path)
      expect(res.status).toBe(400)
      expect(await res.text()).toContain('not both')
    }
  })

  test("the owner's page offers the read-only link and both downloads; the viewer's page the downloads by viewer id", async () => {
    const { id, viewer_id } = await newSession()
    const owner = await (await request(`/?client_id=${id}`)).text()
    expect(owner).toContain(`id="copy-view-link" data-link="/?view=${viewer_id}"`)
    expect(owner).toContain(`href="/api/sessions/${id}/transcript.md" download=""`)
    expect(owner).toContain(`href="/api/sessions/${id}/transcript.json" download=""`)
    expect(owner).toContain(`data-session="${id}"`)
    const viewer = await (await request(`/?view=${viewer_id}`)).text()
    expect(viewer).toContain(`href="/api/sessions/view/${viewer_id}/transcript.md" download=""`)
    expect(viewer).toContain(`href="/api/sessions/view/${viewer_id}/transcript.json" download=""`)
    expect(viewer).toContain(`data-view="${viewer_id}"`)
    expect(viewer).not.toContain('data-session')
  })
})
