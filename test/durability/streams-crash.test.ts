import { afterAll, expect, test } from 'bun:test'
import { encodeOffset } from '../../src/streams/offsets.ts'
import { slowTests } from '../helpers/slow-tests.ts'
import { spawnServer, type SpawnedServer } from '../helpers/spawn-server.ts'
import { until } from '../helpers/wait.ts'
import { tempDir } from './helpers.ts'

// Real processes, killed and started again: a start may take seconds on a loaded machine.
slowTests()

/**
 * Durable Streams on SQLite, SIGKILLed while appends are in flight: every append that was answered is there after a
 * restart, at the offset it was answered with, once; nothing unanswered is there twice; a producer's retry of the
 * request it never got an answer to is stored at most once.
 */

const tmp = tempDir('stepstream-streams-crash-')
afterAll(tmp.remove)

const start = (path: string) => spawnServer([process.execPath, 'src/main.ts'], { args: ['--store', `sqlite:${path}`] })

const WRITERS = 4

/** One writer: appends `w<writer>-<n>` with its producer's seq n, one after another, until a request fails. */
async function write(server: SpawnedServer, writer: number, answered: Map<string, string>): Promise<number> {
  const url = `${server.base}/v1/stream/crash-${writer}`
  for (let n = 0; ; n++) {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', 'producer-id': `w${writer}`, 'producer-epoch': '0', 'producer-seq': String(n) },
      body: `w${writer}-${n};`,
    }).catch(() => undefined)
    if (response?.status !== 200) return n
    answered.set(`w${writer}-${n};`, response.headers.get('stream-next-offset')!)
  }
}

/** The stream's whole text, read by catch-up pages. */
async function readAll(server: SpawnedServer, name: string): Promise<string> {
  let offset = '-1'
  let text = ''
  for (;;) {
    const response = await fetch(`${server.base}/v1/stream/${name}?offset=${offset}`)
    expect(response.status).toBe(200)
    text += await response.text()
    if (response.headers.get('stream-up-to-date') === 'true') return text
    offset = response.headers.get('stream-next-offset')!
  }
}

test('SIGKILL mid-append on SQLite: every answered append is there once, at its offset; a retried one is stored once', async () => {
  const path = tmp.file()
  let server = await start(path)
  for (let w = 0; w < WRITERS; w++) {
    expect((await fetch(`${server.base}/v1/stream/crash-${w}`, { method: 'PUT', headers: { 'content-type': 'text/plain' } })).status).toBe(
      201,
    )
  }
  const answered = new Map<string, string>()
  const writers = Array.from({ length: WRITERS }, (_, w) => write(server, w, answered))
  // Killed once each writer has had answers, with requests of every writer in flight.
  await until(() => answered.size >= WRITERS * 25, { what: 'answers to a hundred appends' })
  server.proc.kill('SIGKILL')
  const sent = await Promise.all(writers)
  await server.proc.exited

  server = await start(path)
  try {
    for (let w = 0; w < WRITERS; w++) {
      const pieces = (await readAll(server, `crash-${w}`)).split(';').filter(Boolean)
      // In order, each once, and nothing past what was sent: the entries are a prefix of the writer's sequence.
      expect(pieces).toEqual(pieces.map((_, n) => `w${w}-${n}`))
      expect(pieces.length).toBeLessThanOrEqual(sent[w]! + 1)
      // Every answered append is there, and at the offset it was answered with (one entry per append: seq n + 1).
      for (const [piece, offset] of answered) {
        if (!piece.startsWith(`w${w}-`)) continue
        const n = Number(piece.slice(`w${w}-`.length, -1))
        expect(pieces[n]).toBe(`w${w}-${n}`)
        expect(offset).toBe(encodeOffset(n + 1))
      }
      const resend = (n: number) =>
        fetch(`${server.base}/v1/stream/crash-${w}`, {
          method: 'POST',
          headers: { 'content-type': 'text/plain', 'producer-id': `w${w}`, 'producer-epoch': '0', 'producer-seq': String(n) },
          body: `w${w}-${n};`,
        })
      // The producer's state outlived the crash: its last answered request, sent again, is a duplicate.
      expect((await resend(sent[w]! - 1)).status).toBe(204)
      // The request the crash left unanswered, sent again: stored once (a duplicate if it had been stored).
      expect([200, 204]).toContain((await resend(sent[w]!)).status)
      const after = (await readAll(server, `crash-${w}`)).split(';').filter(Boolean)
      expect(after).toEqual(Array.from({ length: sent[w]! + 1 }, (_, n) => `w${w}-${n}`))
    }
  } finally {
    await server.stop()
  }
})
