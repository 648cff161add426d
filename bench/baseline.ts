/**
 * The baseline: the same SSE routes as stepstream written straight on `Bun.serve`, with no framework, no store, no
 * rendering and no validation beyond what the routes need. It is what this machine can do for the same wire
 * traffic, so the benchmark reports stepstream as a ratio of it.
 *
 * Same URL shapes, same JSON event shape and framing (`event:`, `id:`, `data:`), same echo (one event per code
 * point, `--echo-delay` ms apart through `setTimeout`, as stepstream's echo step sleeps). Each session keeps its
 * encoded frames in memory, and an event is encoded once and enqueued to every viewer.
 *
 * With `--store sqlite:<path>` it is also the naive durable server the issue measures stepstream's SQLite store
 * against: one autocommit `INSERT` per event, made before the event is written to any viewer, on a WAL database with
 * stepstream's `synchronous = NORMAL` (src/log/backends/sqlite-open.ts); no batching, no merge, no retention.
 *
 * Usage: bun bench/baseline.ts [--port 0] [--host 127.0.0.1] [--echo-delay 50] [--heartbeat 15000] [--store memory]
 */
import { Database } from 'bun:sqlite'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    'echo-delay': { type: 'string', default: '50' },
    heartbeat: { type: 'string', default: '15000' },
    store: { type: 'string', default: 'memory' },
  },
})
const echoDelayMs = Number(values['echo-delay'])
const heartbeatMs = Number(values.heartbeat)
const insertEvent = openStore(values.store!)

/** `memory` keeps nothing but the frames; `sqlite:<path>` returns the one-INSERT-per-event writer. */
function openStore(store: string): ((session: string, seq: number, type: string, json: string) => void) | undefined {
  if (store === 'memory') return undefined
  if (!store.startsWith('sqlite:')) throw new Error(`baseline: --store takes memory or sqlite:<path>, not ${store}`)
  const db = new Database(store.slice('sqlite:'.length), { create: true })
  db.exec('PRAGMA journal_mode = WAL')
  db.exec('PRAGMA synchronous = NORMAL')
  db.exec(
    'CREATE TABLE IF NOT EXISTS events (session TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, json TEXT NOT NULL, PRIMARY KEY (session, seq))',
  )
  const insert = db.prepare('INSERT INTO events (session, seq, type, json) VALUES (?, ?, ?, ?)')
  return (session, seq, type, json) => insert.run(session, seq, type, json)
}

interface Viewer {
  controller: ReadableStreamDefaultController<Uint8Array>
  lastWrite: number
}

interface Session {
  id: string
  /** Encoded frames; the frame of event `seq` is at index `seq - 1`. */
  frames: Uint8Array[]
  viewers: Set<Viewer>
  running: boolean
}

const sessions = new Map<string, Session>()
const encoder = new TextEncoder()
const RETRY = encoder.encode('retry: 1000\n\n')
const PING = encoder.encode(': ping\n\n')
const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
}

const newId = () => Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64url')

function send(session: Session, viewer: Viewer, bytes: Uint8Array, now: number) {
  try {
    viewer.controller.enqueue(bytes)
    viewer.lastWrite = now
  } catch {
    // The stream was closed under us (the client left between two events): forget the viewer.
    session.viewers.delete(viewer)
  }
}

/** Appends an event to the session's log and writes its one encoding to every viewer. */
function publish(session: Session, event: Record<string, unknown>) {
  const seq = session.frames.length + 1
  const json = JSON.stringify({ ...event, seq, session_id: session.id })
  insertEvent?.(session.id, seq, String(event.type), json)
  const bytes = encoder.encode(`event: ${event.type}\nid: ${seq}\ndata: ${json}\n\n`)
  session.frames.push(bytes)
  const now = Date.now()
  for (const viewer of session.viewers) send(session, viewer, bytes, now)
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

async function echo(session: Session, stepId: string, text: string) {
  const ts = () => new Date().toISOString()
  publish(session, { type: 'start', step_type: 'echo', step_id: stepId, ts: ts() })
  let streamed = ''
  // The same timetable as stepstream's echo step (src/steps/echo-step.ts): token i is due i × delay after the first.
  let due = performance.now()
  for (const char of text) {
    if (streamed) {
      due += echoDelayMs
      await sleep(Math.max(0, due - performance.now()))
    }
    publish(session, { type: 'partial', delta: char, step_id: stepId, ts: ts() })
    streamed += char
  }
  publish(session, { type: 'final', text: streamed, step_id: stepId, ts: ts() })
  session.running = false
}

const json = (body: unknown, status: number) => Response.json(body, { status })

/** Starts the session's echo run of `text`; the answer of both message routes. */
function startRun(session: Session, text: string): Response {
  if (session.running) return json({ error: 'a run is active' }, 409)
  const stepId = newId()
  session.running = true
  publish(session, { type: 'user', text, step_id: stepId, ts: new Date().toISOString() })
  void echo(session, stepId, text)
  return json({ step_id: stepId }, 202)
}

/**
 * The smallest honest chat page, for the browser scenario (bench/scenarios/browser.ts): a form posted with fetch, one
 * EventSource on the session's stream, each partial's text appended to the run's answer and the final's text put in
 * its place. The same ids and `data-state` as stepstream's page, so one measuring script reads both.
 */
const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>baseline</title></head><body>
<div id="transcript"></div>
<form id="composer"><textarea id="message" name="message"></textarea><button>Send</button></form>
<script>
const id = new URLSearchParams(location.search).get('client_id')
const transcript = document.getElementById('transcript')
const answers = new Map()
const source = new EventSource('/api/sessions/' + id + '/stream')
source.addEventListener('start', (e) => {
  const event = JSON.parse(e.data)
  const answer = document.createElement('div')
  answer.className = 'answer'
  answer.dataset.state = 'streaming'
  answer.innerHTML = '<div class="text"></div>'
  transcript.append(answer)
  answers.set(event.step_id, answer)
})
source.addEventListener('partial', (e) => {
  const event = JSON.parse(e.data)
  answers.get(event.step_id)?.firstChild.append(event.delta)
})
source.addEventListener('final', (e) => {
  const event = JSON.parse(e.data)
  const answer = answers.get(event.step_id)
  if (!answer) return
  answer.firstChild.textContent = event.text
  answer.dataset.state = 'final'
})
document.getElementById('composer').addEventListener('submit', (e) => {
  e.preventDefault()
  const body = new URLSearchParams({ client_id: id, message: document.getElementById('message').value })
  document.getElementById('message').value = ''
  fetch('/chat', { method: 'POST', body })
})
</script></body></html>`

export const server = Bun.serve({
  port: Number(values.port),
  hostname: values.host,
  routes: {
    '/': () => new Response(PAGE, { headers: { 'content-type': 'text/html; charset=utf-8' } }),
    '/chat': {
      POST: async (req) => {
        const form = await req.formData()
        const session = sessions.get(String(form.get('client_id')))
        if (!session) return json({ error: 'no such session' }, 404)
        return startRun(session, String(form.get('message') ?? ''))
      },
    },
    '/healthz': () => json({ status: 'ok' }, 200),
    '/api/sessions': {
      POST: () => {
        const id = newId()
        sessions.set(id, { id, frames: [], viewers: new Set(), running: false })
        return json({ id, url: `/?client_id=${id}` }, 201)
      },
    },
    '/api/sessions/:id/messages': {
      POST: async (req) => {
        const session = sessions.get(req.params.id)
        if (!session) return json({ error: 'no such session' }, 404)
        const { text } = (await req.json()) as { text: string }
        return startRun(session, text)
      },
    },
    '/api/sessions/:id/stream': (req, srv) => {
      const session = sessions.get(req.params.id)
      if (!session) return json({ error: 'no such session' }, 404)
      const after = Number(req.headers.get('last-event-id') ?? new URL(req.url).searchParams.get('after') ?? 0) || 0
      // Bun closes a connection quiet for `idleTimeout` (10 s by default); a stream must outlive it.
      srv.timeout(req, 0)
      let viewer: Viewer
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          viewer = { controller, lastWrite: Date.now() }
          controller.enqueue(RETRY)
          for (const frame of session.frames.slice(after)) controller.enqueue(frame)
          session.viewers.add(viewer)
        },
        cancel() {
          session.viewers.delete(viewer)
        },
      })
      req.signal.addEventListener('abort', () => session.viewers.delete(viewer), { once: true })
      return new Response(body, { headers: SSE_HEADERS })
    },
  },
  fetch: () => json({ error: 'not found' }, 404),
})

// One timer for all streams, not one per stream: the lean way to keep quiet streams alive through proxies.
setInterval(
  () => {
    const now = Date.now()
    for (const session of sessions.values()) {
      for (const viewer of session.viewers) if (now - viewer.lastWrite >= heartbeatMs) send(session, viewer, PING, now)
    }
  },
  Math.min(heartbeatMs, 1000),
)

process.stderr.write(
  `${JSON.stringify({ time: new Date().toISOString(), level: 'info', msg: 'listening', url: `http://${values.host}:${server.port}` })}\n`,
)

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    void server.stop(true).then(() => process.exit(0))
  })
}
