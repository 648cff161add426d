import { afterEach, expect, test } from 'bun:test'
import { MAX_EVENT_DEPTH } from '../../src/limits.ts'
import { testApp, url } from '../helpers/test-app.ts'

let made: Awaited<ReturnType<typeof testApp>> | undefined
afterEach(() => made?.close())

const nested = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`

test('a JSON body nested deeper than an array of events may be is refused with 422 and a sentence, before any route reads it', async () => {
  made = await testApp()
  const post = (path: string, body: string) =>
    made!.app.handle(new Request(url(path), { method: 'POST', headers: { 'content-type': 'application/json' }, body }))
  // 32,767 levels of session options: JSON.stringify took most of a second on them, and 60,000 overflowed its stack.
  for (const depth of [MAX_EVENT_DEPTH + 1, 32_767, 60_000]) {
    const res = await post('/api/sessions', `{"step":"echo","options":{"a":${nested(depth)}}}`)
    expect(res.status).toBe(422)
    const { error } = (await res.json()) as { error: { code: string; message: string } }
    expect(error.code).toBe('BODY_TOO_DEEP')
    expect(error.message).toContain(`more than ${MAX_EVENT_DEPTH + 1} levels deep`)
  }
  // Within the bound, the body reaches its route, which judges it as before.
  const ok = await post('/api/sessions', `{"step":"echo","options":{"a":${nested(MAX_EVENT_DEPTH - 3)}}}`)
  expect(ok.status).toBe(201)
})
