import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { LISTED_CHATS_MAX } from '../../src/limits.ts'
import { newId } from '../../src/session-id.ts'
import { keptIds } from '../../src/http/chat-list.tsx'
import { testApp, url } from '../helpers/test-app.ts'
import { until } from '../helpers/wait.ts'

let made: Awaited<ReturnType<typeof testApp>>
beforeEach(async () => {
  made = await testApp()
})
afterEach(() => made.close())

const form = (path: string, body: string) =>
  made.app.handle(
    new Request(url(path), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'hx-request': 'true' },
      body,
    }),
  )
const chat = async (text?: string) => {
  const created = (await (await made.app.handle(new Request(url('/api/sessions'), { method: 'POST' }))).json()) as {
    id: string
    viewer_id: string
  }
  if (text) await made.deps.store.renameSession(created.id, text)
  return created
}

describe('the chat list (POST /chats)', () => {
  test('lists the owner ids it is sent, newest first, and nothing else: not a read-only id, not an unknown one', async () => {
    const older = await chat('older')
    // Created in a later millisecond than the first (created_at's resolution), so that newest first has one answer.
    const since = Date.now()
    await until(() => Date.now() > since)
    const newer = await chat('<b>newer</b> " onfocus="alert(1)')
    const ids = [older.id, newer.viewer_id, newId(), 'not an id', newer.id, older.id].join(' ')
    const res = await form('/chats', `ids=${encodeURIComponent(ids)}`)
    expect(res.status).toBe(200)
    // Owner ids are capabilities: the answer is never kept by a cache.
    expect(res.headers.get('cache-control')).toBe('no-store')
    const html = await res.text()
    expect([...html.matchAll(/<li data-chat="([^"]+)"/g)].map((m) => m[1])).toEqual([newer.id, older.id])
    // A title is text, in the link and in the rename box's value alike.
    expect(html).toContain('>&lt;b&gt;newer&lt;/b&gt; &quot; onfocus=&quot;alert(1)</a>')
    expect(html).not.toContain('><b>newer')
    expect(html).not.toContain('" onfocus="')
    expect(html).toContain('value="<b>newer</b> &#34; onfocus=&#34;alert(1)"')
    expect(html).toContain(`data-listed="${newer.id} ${older.id}"`)
  })

  test('a read-only id marked view: is listed by that id alone, read-only, with nothing that writes', async () => {
    const watched = await chat('watched')
    const res = await form('/chats', `ids=${encodeURIComponent(`view:${watched.viewer_id} view:${watched.id}`)}`)
    const html = await res.text()
    expect([...html.matchAll(/<li data-chat="([^"]+)"/g)].map((m) => m[1])).toEqual([`view:${watched.viewer_id}`])
    expect(html).toContain(`href="/?view=${watched.viewer_id}"`)
    expect(html).toContain('read-only')
    // Only the field's own echo (data-asked) holds what was sent; the entry holds nothing but the read-only id.
    expect(html.slice(html.indexOf('<li'))).not.toContain(watched.id)
    expect(html).not.toContain('<form')
  })

  test('reads at most LISTED_CHATS_MAX well-formed ids, once each', () => {
    const many = Array.from({ length: LISTED_CHATS_MAX + 5 }, () => newId())
    expect(keptIds([many[0], many[0], '__proto__', 'view:__proto__', ...many].join(' '))).toEqual(many.slice(0, LISTED_CHATS_MAX))
    const [a, b] = [newId(), newId()]
    expect(keptIds(`view:${a} ${b} view:${a}`)).toEqual([`view:${a}`, b])
    expect(keptIds(undefined)).toEqual([])
  })

  test('rename and delete act on an owner id only and answer the list; a refused title shows its sentence', async () => {
    const mine = await chat('mine')
    const viewed = await chat('theirs')
    const renamed = await form('/chats/rename', `client_id=${mine.id}&title=Renamed&ids=${mine.id}`)
    expect(await renamed.text()).toContain('>Renamed</a>')
    const refused = await form('/chats/rename', `client_id=${mine.id}&title=${encodeURIComponent('a\nb')}&ids=${mine.id}`)
    expect(refused.status).toBe(422)
    expect(await refused.text()).toContain('one line of plain text')
    expect((await form('/chats/delete', `client_id=${viewed.viewer_id}&ids=${mine.id}`)).status).toBe(403)
    expect(await made.deps.store.getSession(viewed.id)).toBeDefined()
    const deleted = await form('/chats/delete', `client_id=${mine.id}&ids=${mine.id}`)
    expect(deleted.status).toBe(200)
    expect(await deleted.text()).toContain('data-listed=""')
    expect(await made.deps.store.getSession(mine.id)).toBeUndefined()
  })
})
