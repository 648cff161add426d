import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { newId } from '../../src/session-id.ts'
import { allowedMethods } from '../../src/http/allowed-methods.ts'
import { testApp, testServer, url } from '../helpers/test-app.ts'

let made: Awaited<ReturnType<typeof testApp>>
beforeAll(async () => {
  made = await testApp()
})
afterAll(() => made.close())

const call = (method: string, path: string, headers: Record<string, string> = {}) =>
  made.app.handle(new Request(url(path), { method, headers }))

describe('a wrong method on a route that exists', () => {
  const id = newId()
  const cases: [string, string, string][] = [
    ['DELETE', '/chat', 'POST'],
    ['GET', '/chat', 'POST'],
    ['PUT', '/api/sessions', 'POST'],
    ['POST', '/events', 'GET, HEAD'],
    ['POST', `/api/sessions/${id}/stream`, 'GET, HEAD'],
    ['PUT', `/api/sessions/${id}`, 'DELETE, GET, HEAD, PATCH'],
    ['PATCH', '/start', 'GET, HEAD, POST'],
  ]
  for (const [method, path, allow] of cases) {
    test(`${method} ${path.replace(id, ':id')} → 405 with Allow: ${allow}`, async () => {
      const res = await call(method, path)
      expect(res.status).toBe(405)
      expect(res.headers.get('allow')).toBe(allow)
    })
  }

  test('the body is the JSON error under /api/ or when JSON is asked for', async () => {
    for (const res of [await call('PUT', '/api/sessions'), await call('DELETE', '/chat', { accept: 'application/json' })]) {
      expect(res.headers.get('content-type')).toStartWith('application/json')
      const body = (await res.json()) as { error: { code: string; message: string } }
      expect(body.error.code).toBe('METHOD_NOT_ALLOWED')
      expect(body.error.message).toMatch(/does not answer (PUT|DELETE): use POST\.$/)
    }
  })

  test('the body is an HTML page for a browser, and a notice fragment for htmx', async () => {
    const page = await call('GET', '/chat')
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8')
    const html = await page.text()
    expect(html).toStartWith('<!doctype html>')
    expect(html).toContain('/chat does not answer GET: use POST.')
    const fragment = await (await call('DELETE', '/cancel', { 'hx-request': 'true' })).text()
    expect(fragment).toBe('<span class="error">/cancel does not answer DELETE: use POST.</span>')
  })

  test('a GET route answers HEAD, and an unknown path stays 404 whatever the method', async () => {
    expect((await call('HEAD', '/healthz')).status).toBe(200)
    for (const method of ['GET', 'POST', 'DELETE']) {
      const res = await call(method, '/nowhere')
      expect(res.status).toBe(404)
      expect(res.headers.get('allow')).toBeNull()
    }
    const api = await call('PUT', `/api/sessions/${id}/nothing`)
    expect(api.status).toBe(404)
    expect(((await api.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND')
  })

  test('the same on a real port, where Bun routes static paths itself', async () => {
    const server = await testServer()
    try {
      const wrong = await fetch(`${server.base}/healthz`, { method: 'POST' })
      expect(wrong.status).toBe(405)
      expect(wrong.headers.get('allow')).toBe('GET, HEAD')
      expect(await wrong.text()).toContain('/healthz does not answer POST: use GET or HEAD.')
      const api = await fetch(`${server.base}/api/sessions`, { method: 'PUT' })
      expect(api.status).toBe(405)
      expect(((await api.json()) as { error: { code: string } }).error.code).toBe('METHOD_NOT_ALLOWED')
      expect((await fetch(`${server.base}/nowhere`, { method: 'DELETE' })).status).toBe(404)
    } finally {
      await server.close()
    }
  })
})

describe('allowedMethods', () => {
  const at = allowedMethods([
    { method: 'GET', path: '/' },
    { method: 'POST', path: '/api/sessions/' },
    { method: 'GET', path: '/api/sessions/:id' },
    { method: 'POST', path: '/api/sessions/:id/messages' },
  ])
  test('params match one segment, a trailing slash is optional, GET brings HEAD', () => {
    expect(at('/')).toEqual(['GET', 'HEAD'])
    expect(at('/api/sessions')).toEqual(['POST'])
    expect(at('/api/sessions/abc/')).toEqual(['GET', 'HEAD'])
    expect(at('/api/sessions/abc/messages')).toEqual(['POST'])
    expect(at('/api/sessions/a/b')).toEqual([])
    expect(at('/nowhere')).toEqual([])
  })
})
