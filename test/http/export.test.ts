import { afterEach, expect, test } from 'bun:test'
import { exportFileName } from '../../src/export/chat-export.ts'
import { testApp, url } from '../helpers/test-app.ts'

let made: Awaited<ReturnType<typeof testApp>> | undefined
afterEach(() => made?.close())

const get = (path: string) => made!.app.handle(new Request(url(path)))

test('transcript.md and .json download the same exact bytes through the owner id and the viewer id, named by date', async () => {
  made = await testApp()
  const { id, viewer_id } = (await (await made.app.handle(new Request(url('/api/sessions'), { method: 'POST' }))).json()) as {
    id: string
    viewer_id: string
  }
  const { created_at } = (await (await get(`/api/sessions/${id}`)).json()) as { created_at: string }
  const ts = '2026-03-04T09:05:01.000Z'
  await made.deps.store.append(id, { type: 'user', step_id: 'r1', ts, text: 'hi' })
  await made.deps.store.append(id, { type: 'start', step_id: 'r1', ts, step_type: 'echo' })
  await made.deps.store.append(id, { type: 'final', step_id: 'r1', ts, text: 'hi' })

  const expected = {
    md: `# hi\n\n- Created: ${created_at}\n- Step: echo\n\n## You — ${ts}\n\nhi\n\n## Assistant — ${ts}\n\nhi\n`,
    json: `${JSON.stringify(
      {
        format: 'stepstream.transcript.v1',
        title: 'hi',
        created_at,
        step: 'echo',
        truncated: false,
        entries: [
          { role: 'user', ts, text: 'hi' },
          {
            role: 'assistant',
            run_id: 'r1',
            ts,
            step_type: 'echo',
            status: 'final',
            ended_at: ts,
            reasoning: '',
            tool_calls: [],
            text: 'hi',
          },
        ],
      },
      null,
      2,
    )}\n`,
  }
  const types = { md: 'text/markdown; charset=utf-8', json: 'application/json; charset=utf-8' }
  for (const format of ['md', 'json'] as const) {
    for (const path of [`/api/sessions/${id}/transcript.${format}`, `/api/sessions/view/${viewer_id}/transcript.${format}`]) {
      const res = await get(path)
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toBe(types[format])
      expect(res.headers.get('content-disposition')).toBe(`attachment; filename="${exportFileName(created_at, format)}"`)
      expect(res.headers.get('cache-control')).toBe('no-store')
      expect(await res.text()).toBe(expected[format])
    }
  }
})
