import { Elysia, t } from 'elysia'
import type { Server } from 'bun'
import { AGUI_NOTICES } from '../agui/agui-notices.ts'
import type { AguiFollower } from '../agui/events-to-agui.ts'
import { eventJson, type StoredEvent } from '../events.ts'
import { AppError } from '../errors.ts'
import { cachedEncoder } from '../sse/cached-encoder.ts'
import { type Chunk, type StreamNotices, sessionStream } from '../sse/session-stream.ts'
import { SharedChunks } from '../sse/shared-chunks.ts'
import { renderEventFragment } from '../../templates/event-fragments.tsx'
import type { StreamKind } from '../metrics.ts'
import type { SessionRecord } from '../log/event-store.ts'
import { requireSession, requireViewer, type AppDeps } from './deps.ts'
import { ipOf, requestIdOf } from './request-guards.ts'

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  // no-transform: proxies must not gzip or rewrite a stream (that buffers it); X-Accel-Buffering: nginx must not buffer.
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
}

/** Where a connection starts reading: `Last-Event-ID` (a reconnect) beats `?after=`, which beats 0. */
export function cursorOf(lastEventId: string | null, after: string | undefined): number {
  for (const raw of [lastEventId, after]) {
    if (raw === null || raw === undefined || raw === '') continue
    if (!/^\d{1,15}$/.test(raw))
      throw new AppError('BAD_REQUEST', `The stream position ${JSON.stringify(raw)} is not a whole number of events.`)
    return Number(raw)
  }
  return 0
}

/** How a stream writes its events and notices, and what it must read before its first event (AG-UI's priming). */
interface StreamFormat {
  encode: (event: StoredEvent) => string
  /** The chunks readers in this format share; none for a stateful `encode` (AG-UI's). */
  shared?: SharedChunks<Chunk>
  notices?: StreamNotices
  prepare?: () => Promise<void>
}

/**
 * One SSE connection on `sessionId`'s log, from the cursor `after`.
 * @param kind which stream, for the connection metrics.
 */
function streamResponse(
  deps: AppDeps,
  request: Request,
  server: Server<unknown> | null,
  sessionId: string,
  after: number,
  kind: StreamKind,
  format: StreamFormat,
): Response {
  // Counted before anything is read: a client over a cap gets its 429 while the response is still an HTTP answer.
  const release = deps.connections.acquire(ipOf(request))
  // Bun closes a connection quiet for `idleTimeout` (10 s by default), shorter than the heartbeat.
  server?.timeout(request, 0)
  deps.metrics.sseOpened(kind)
  // The generator runs ahead of the body (it waits for events, not for a pull): cancelling the body must end its wait,
  // as the client leaving does.
  const ended = new AbortController()
  request.signal.addEventListener('abort', () => ended.abort(), { once: true })
  const chunks = sessionStream({
    store: deps.store,
    sessionId,
    after,
    signal: ended.signal,
    ...format,
    heartbeatMs: deps.heartbeatMs,
    retryMs: deps.retryMs,
    shutdown: deps.shutdown,
    delivered: (events, lag) => deps.metrics.eventsDelivered(events, lag),
    onClose: () => {
      release()
      deps.metrics.sseClosed(kind)
    },
  })
  // A direct stream: each chunk is written to the socket as it is made (Bun encodes the string), with no queue, no
  // pull promise and no TextEncoder per chunk. The generator still runs only as fast as the client reads: a write the
  // socket cannot take yet answers a promise, and awaiting it before the next read is the backpressure (a client that
  // stops reading stops the stream's reads after one chunk beyond what the kernel's socket buffers took;
  // bench/stalled-readers.ts shows it). A client that leaves settles that promise, and its signal ends the generator.
  // The first chunk (`retry:`) is made at once, as a pull-based body would, so that the generator has started (and its
  // `finally` releases the connection) even if the body is cancelled before it is read.
  const first = chunks.next()
  const source: Bun.DirectUnderlyingSource = {
    type: 'direct',
    async pull(controller: ReadableStreamDirectController) {
      try {
        for (let next = await first; !next.done; next = await chunks.next()) {
          // Not flushed here: Bun sends what a turn wrote at its end, one send per socket however many chunks.
          const written = controller.write(next.value)
          if (typeof written !== 'number') await written
        }
        controller.close()
      } catch {
        // Written after the client left: the generator, parked at its `yield`, is ended here (its `finally` releases).
        void chunks.return(undefined)
      }
    },
    cancel() {
      ended.abort()
      void chunks.return(undefined)
    },
  }
  // Bun's own overload for a direct source is hidden by the DOM library's three: the cast only picks it.
  const body = new ReadableStream(source as unknown as UnderlyingDefaultSource)
  const id = requestIdOf(request)
  return new Response(body, { headers: id === undefined ? SSE_HEADERS : { ...SSE_HEADERS, 'x-request-id': id } })
}

const Query = t.Object({
  client_id: t.Optional(t.String()),
  view: t.Optional(t.String()),
  after: t.Optional(t.String()),
  format: t.Optional(t.String()),
})

/**
 * The JSON streams' `?format=`: absent or `json` for stepstream's own events, `ag-ui` for AG-UI's (with
 * `threadId` naming the thread: the session id, or the viewer id on a read-only link). AG-UI's encoder is stateful
 * (src/agui/events-to-agui.ts), so it is built per connection and, for a connection that resumes mid-run, first fed
 * that run's events up to the cursor, inside the stream (after its connection is counted against the caps).
 */
function jsonFormat(
  deps: AppDeps,
  format: string | undefined,
  sessionId: string,
  after: number,
  threadId: string,
  json: StreamFormat,
): StreamFormat {
  if (format === undefined || format === 'json') return json
  if (format !== 'ag-ui') {
    throw new AppError(
      'BAD_REQUEST',
      `The stream format ${JSON.stringify(format)} is unknown: use format=json (the default) or format=ag-ui.`,
    )
  }
  // The AG-UI packages load with the first follower (they cost ~25 ms of every cold start otherwise); `prepare` runs
  // before the stream's first event is encoded.
  let agui: { follower: AguiFollower; encodeGroup: (seq: number, events: ReturnType<AguiFollower['toAgui']>) => string }
  return {
    encode: (event) => agui.encodeGroup(event.seq, agui.follower.toAgui(event)),
    notices: AGUI_NOTICES,
    prepare: async () => {
      const [{ AguiFollower, encodeAguiGroup }, { primeFollower }] = await Promise.all([
        import('../agui/events-to-agui.ts'),
        import('../agui/prime-follower.ts'),
      ])
      agui = { follower: new AguiFollower(threadId), encodeGroup: encodeAguiGroup }
      await primeFollower(deps.store, sessionId, after, agui.follower)
    },
  }
}

/**
 * The session `/events` streams: the owner's (`client_id`) or a read-only link's (`view`). The HTML fragments carry
 * no session id, so both get the same stream; a viewer id given as `client_id` is refused like any owner route.
 */
async function htmlStreamSession(deps: AppDeps, query: { client_id?: string; view?: string }): Promise<SessionRecord> {
  if (query.view === undefined) return requireSession(deps.store, query.client_id)
  if (query.client_id !== undefined) throw new AppError('BAD_REQUEST', 'Give either client_id or view, not both.')
  return requireViewer(deps.store, query.view)
}

export const streamRoutes = (deps: AppDeps) => {
  /** The HTML stream: unnamed messages whose data is the event's fragment, swapped in by htmx. */
  const html: StreamFormat = {
    encode: cachedEncoder((event) => ({ id: String(event.seq), data: renderEventFragment(event) })),
    shared: new SharedChunks(),
  }
  /** The JSON stream: named by type, the stored event as JSON. */
  const json: StreamFormat = {
    encode: cachedEncoder((event) => ({ id: String(event.seq), event: event.type, data: eventJson(event, 'owner') })),
    shared: new SharedChunks(),
  }
  /** The JSON stream of a read-only link: the same, minus `session_id` (the session id, a write capability). Its own caches: other bytes. */
  const viewerJson: StreamFormat = {
    encode: cachedEncoder((event) => ({ id: String(event.seq), event: event.type, data: eventJson(event, 'viewer') })),
    shared: new SharedChunks(),
  }
  return new Elysia({ name: 'streams' })
    .get(
      '/events',
      async ({ query, request, server }) => {
        const after = cursorOf(request.headers.get('last-event-id'), query.after)
        return streamResponse(deps, request, server, (await htmlStreamSession(deps, query)).id, after, 'html', html)
      },
      { query: Query },
    )
    .get(
      '/api/sessions/view/:viewer_id/stream',
      async ({ params, query, request, server }) => {
        const { id } = await requireViewer(deps.store, params.viewer_id)
        // The viewer's thread is its own id: the session id is in nothing a viewer receives.
        const after = cursorOf(request.headers.get('last-event-id'), query.after)
        const format = jsonFormat(deps, query.format, id, after, params.viewer_id, viewerJson)
        return streamResponse(deps, request, server, id, after, 'json', format)
      },
      { query: Query },
    )
    .get(
      '/api/sessions/:id/stream',
      async ({ params, query, request, server }) => {
        const { id } = await requireSession(deps.store, params.id)
        const after = cursorOf(request.headers.get('last-event-id'), query.after)
        return streamResponse(deps, request, server, id, after, 'json', jsonFormat(deps, query.format, id, after, id, json))
      },
      { query: Query },
    )
}
