import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { spawnServer, type SpawnedServer } from '../helpers/spawn-server.ts'
import { SseReader } from '../helpers/sse-client.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { eventually } from '../helpers/wait.ts'

/**
 * Read-only links with auth on, on a real port of the real process (`bun src/main.ts --auth-token …`): a viewer id
 * opens its page, its streams, its exports and its earlier part without the token; the owner id, every write and
 * every other route still need it; `--private-viewer-links` makes viewer links need it too.
 */

slowTests()

const TOKEN = 'viewer-links-test-token-0123456789'
const bearer = { authorization: `Bearer ${TOKEN}` }
const MAIN = join(import.meta.dir, '../../src/main.ts')
const QUESTION = 'what do the viewers see?'

const start = (more: string[] = []) =>
  spawnServer([process.execPath, MAIN], {
    args: ['--store', 'memory', '--auth-token', TOKEN, '--rate-limit', 'off', '--echo-delay', '1', ...more],
  })

/** A chat with one answered question, made with the token: its owner id and its viewer id. */
async function chatOn(base: string): Promise<{ owner: string; viewer: string }> {
  const made = (await (await fetch(`${base}/api/sessions`, { method: 'POST', headers: bearer })).json()) as {
    id: string
    viewer_id: string
  }
  const sent = await fetch(`${base}/api/sessions/${made.id}/messages`, {
    method: 'POST',
    headers: { ...bearer, 'content-type': 'application/json' },
    body: JSON.stringify({ text: QUESTION }),
  })
  expect(sent.status).toBe(202)
  await eventually(async () => {
    const state = (await (await fetch(`${base}/api/sessions/${made.id}`, { headers: bearer })).json()) as { running: boolean }
    return !state.running || undefined
  })
  return { owner: made.id, viewer: made.viewer_id }
}

/** The viewer's reads, as its page and a program make them. */
const viewerReads = (viewer: string): string[] => [
  `/?view=${viewer}`,
  `/earlier?view=${viewer}&before=2`,
  `/api/sessions/view/${viewer}`,
  `/api/sessions/view/${viewer}/events`,
  `/api/sessions/view/${viewer}/transcript.md`,
  `/api/sessions/view/${viewer}/transcript.json`,
]

const page = (base: string, path: string) => fetch(`${base}${path}`, { headers: { accept: 'text/html' }, redirect: 'manual' })

describe('with --auth-token, read-only links open without it', () => {
  let server: SpawnedServer
  let ids: { owner: string; viewer: string }
  beforeAll(async () => {
    server = await start()
    ids = await chatOn(server.base)
  })
  afterAll(() => server?.stop())

  test('a viewer link opens its page, exports and earlier part without a token, and none of them holds the owner id', async () => {
    for (const path of viewerReads(ids.viewer)) {
      const res = await page(server.base, path)
      const body = await res.text()
      expect({ path, status: res.status }).toEqual({ path, status: 200 })
      expect(body).not.toContain(ids.owner)
    }
    const html = await (await page(server.base, `/?view=${ids.viewer}`)).text()
    expect(html).toContain(QUESTION)
    // Nothing to sign out of on a page opened without signing in.
    expect(html).not.toContain('Sign out')
  })

  test('both of its streams open without a token and replay the chat', async () => {
    for (const path of [`/events?view=${ids.viewer}`, `/api/sessions/view/${ids.viewer}/stream`]) {
      const stream = await SseReader.open(`${server.base}${path}`)
      expect({ path, status: stream.response.status }).toEqual({ path, status: 200 })
      const messages = await stream.until((m) => m.some((message) => message.data.includes(QUESTION)))
      for (const message of messages) expect(message.data).not.toContain(ids.owner)
      stream.close()
    }
  })

  test('the owner id, a viewer link carrying an owner id, and every write still need the token', async () => {
    const { owner, viewer } = ids
    // A browser is sent to sign in; a program gets 401.
    for (const path of [
      `/?client_id=${owner}`,
      `/?view=${viewer}&client_id=${owner}`,
      `/?view=${viewer}&client%5Fid=${owner}`,
      `/?client_id=${owner}&view=${viewer}`,
      `/?view=${viewer}&view=${viewer}`,
      '/',
    ]) {
      const res = await page(server.base, path)
      expect({ path, status: res.status, to: res.headers.get('location')?.split('?')[0] }).toEqual({ path, status: 303, to: '/login' })
    }
    for (const path of [
      `/api/sessions/${owner}`,
      `/api/sessions/${owner}/events`,
      `/api/sessions/${owner}/stream`,
      `/api/sessions/${owner}/transcript.md`,
      `/events?client_id=${owner}`,
      `/events?view=${viewer}&client_id=${owner}`,
      `/earlier?view=${viewer}&client_id=${owner}&before=2`,
      `/events?view=${viewer}&after=0&limit=1`,
      '/metrics',
    ]) {
      const res = await fetch(`${server.base}${path}`)
      expect({ path, status: res.status }).toEqual({ path, status: 401 })
    }
    const writes: [string, string][] = [
      ['/start', ''],
      ['/chat', `client_id=${owner}&message=hi`],
      ['/cancel', `client_id=${owner}`],
      ['/api/sessions', '{}'],
      [`/api/sessions/${owner}/messages`, '{"text":"hi"}'],
      [`/api/sessions/${owner}/cancel`, ''],
      [`/api/sessions/view/${viewer}/messages`, '{"text":"hi"}'],
      [`/api/sessions/view/${viewer}/cancel`, ''],
      [`/?view=${viewer}`, ''],
    ]
    for (const [path, body] of writes) {
      const res = await fetch(`${server.base}${path}`, { method: 'POST', body, redirect: 'manual' })
      expect({ path, status: res.status }).toEqual({ path, status: 401 })
    }
    // An owner id where a viewer id goes is no viewer of anything.
    for (const path of [`/?view=${owner}`, `/api/sessions/view/${owner}/transcript.md`, `/events?view=${owner}`]) {
      const res = await page(server.base, path)
      expect({ path, status: res.status }).toEqual({ path, status: 404 })
      expect(await res.text()).not.toContain(QUESTION)
    }
  })
})

describe('with --private-viewer-links, read-only links need the token too', () => {
  let server: SpawnedServer
  let ids: { owner: string; viewer: string }
  beforeAll(async () => {
    server = await start(['--private-viewer-links'])
    ids = await chatOn(server.base)
  })
  afterAll(() => server?.stop())

  test('every viewer read is refused without it (a browser sent to sign in) and answered with it', async () => {
    const reads = [...viewerReads(ids.viewer), `/events?view=${ids.viewer}`, `/api/sessions/view/${ids.viewer}/stream`]
    for (const path of reads) {
      const res = await fetch(`${server.base}${path}`, { redirect: 'manual' })
      expect({ path, status: res.status }).toEqual({ path, status: 401 })
    }
    const res = await page(server.base, `/?view=${ids.viewer}`)
    expect([res.status, res.headers.get('location')]).toEqual([303, `/login?next=${encodeURIComponent(`/?view=${ids.viewer}`)}`])
    const signed = await fetch(`${server.base}/?view=${ids.viewer}`, { headers: bearer })
    expect(signed.status).toBe(200)
    expect(await signed.text()).toContain(QUESTION)
  })
})
