import { afterAll, beforeAll, expect, test } from 'bun:test'
import { HIGHLIGHT_BLOCK_MS } from '../../src/limits.ts'
import { testApp, url } from '../helpers/test-app.ts'

let made: Awaited<ReturnType<typeof testApp>>
beforeAll(async () => {
  made = await testApp()
})
afterAll(() => made.close())

const get = (path: string, headers: Record<string, string> = {}) => made.app.handle(new Request(url(path), { headers }))

test('the page names its highlighter and its time per block, and does not load it itself', async () => {
  const html = await (await get('/')).text()
  expect(html).toMatch(/<body [^>]*data-highlighter="\/assets\/highlight-worker\.js\?v=[a-z0-9]+"/)
  expect(html).toContain(`data-highlight-ms="${HIGHLIGHT_BLOCK_MS}"`)
  expect(html).not.toMatch(/<script[^>]+highlight/)
})

test('the highlighter is one script: highlight.js’s own build, then the worker’s handler, served gzipped and immutable', async () => {
  const html = await (await get('/')).text()
  const src = html.match(/data-highlighter="([^"]+)"/)![1]!
  const res = await get(src)
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8')
  const body = await res.text()
  expect(body).toStartWith('/*!\n  Highlight.js v11.12.0')
  expect(body).toContain('self.onmessage')
  expect(body.indexOf('self.onmessage')).toBeGreaterThan(body.indexOf('var hljs='))
  const gz = await get(src, { 'accept-encoding': 'gzip' })
  expect(gz.headers.get('content-encoding')).toBe('gzip')
  expect(gz.headers.get('cache-control')).toContain('immutable')
})
