import { type StopSignal, stopped } from '../bus/session-signal.ts'
import { sseDataEncoding } from '../streams/content-type.ts'
import { responseCursor } from '../streams/cursor.ts'
import { encodeOffset } from '../streams/offsets.ts'
import type { ReadQuery } from '../streams/read-query.ts'
import { H } from '../streams/stream-answer.ts'
import { type OpenStream, openStream, slide, type StreamContext } from '../streams/stream-context.ts'
import { STREAM_SSE_MAX_MS } from '../streams/stream-limits.ts'
import { controlEvent, dataEvent } from '../streams/stream-sse.ts'
import { type Page, pageBody, readPage, startOf } from '../streams/stream-read.ts'

const encoder = new TextEncoder()

/**
 * GET `live=sse`: a page of data, then its control event, until caught up; then a control event at each change or
 * each long-poll interval, until the stream closes at its tail, the client goes, the server shuts down, or
 * STREAM_SSE_MAX_MS passes (clients resume from the last control's offset). The stream is opened before the answer
 * starts, so a missing stream or a bad offset is an ordinary refusal; once started, it never throws (a failure ends it,
 * told to `failed`). `release` is
 * called once, when the response ends (the connection it held is free).
 */
export async function sseResponse(
  ctx: StreamContext,
  name: string,
  query: ReadQuery,
  stop: AbortSignal[],
  release: () => void,
  /** Told of a failure that ended the answer once it had started (the client reconnects from its last offset). */
  failed: (error: unknown) => void,
): Promise<Response> {
  const stream = await openStream(ctx, name)
  await slide(ctx, name, stream)
  const start = startOf(query.from, stream)
  const ended = new AbortController()
  const signals: StopSignal = [...stop, ended.signal]
  const frames = events(ctx, name, query, start, stream, signals)
  let released = false
  const end = () => {
    if (released) return
    released = true
    release()
  }
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await frames.next().catch((error: unknown) => {
        failed(error)
        return { done: true as const, value: undefined }
      })
      if (!next.done) return controller.enqueue(encoder.encode(next.value))
      end()
      controller.close()
    },
    cancel() {
      ended.abort()
      end()
    },
  })
  const headers: Record<string, string> = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' }
  if (sseDataEncoding(stream.meta.contentType) === 'base64') headers[H.sseEncoding] = 'base64'
  return new Response(body, { status: 200, headers })
}

async function* events(
  ctx: StreamContext,
  name: string,
  query: ReadQuery,
  start: number,
  first: OpenStream,
  signals: StopSignal,
): AsyncGenerator<string> {
  const deadline = ctx.log.now() + STREAM_SSE_MAX_MS
  const { contentType } = first.meta
  let after = start
  let head = first.state.head
  let closed = first.state.closed
  for (;;) {
    const page = await readPage(ctx, name, after, head)
    if (page.entries.length > 0) yield dataEvent(ssePayload(page, contentType))
    after = page.last
    if (closed && page.upToDate) {
      yield controlEvent({ streamNextOffset: encodeOffset(after), streamClosed: true })
      return
    }
    const cursor = responseCursor(query.cursor, ctx.log.now(), ctx.random)
    yield controlEvent({ streamNextOffset: encodeOffset(after), streamCursor: cursor, ...(page.upToDate && { upToDate: true as const }) })
    if (!page.upToDate) continue
    // Until the stream changes, or an interval passes (whose control event keeps the connection alive): a wake that
    // changed nothing (a touch of a sliding TTL) sends nothing.
    for (let changed = false; !changed; ) {
      const left = deadline - ctx.log.now()
      if (left <= 0 || stopped(signals)) return
      const outcome = await ctx.log.waitFor(name, after, signals, Math.min(ctx.longPollMs, left))
      if (stopped(signals)) return
      const now = await openStream(ctx, name).catch(() => undefined)
      if (!now) return
      await slide(ctx, name, now)
      changed = outcome === true || now.state.head !== head || now.state.closed !== closed
      head = now.state.head
      closed = now.state.closed
    }
  }
}

/** A page as one data event: JSON mode's array, `text/*` as text, anything else as base64. */
function ssePayload(page: Page, contentType: string): string {
  const body = pageBody(page.entries, contentType)
  if (typeof body === 'string') return body
  return sseDataEncoding(contentType) === 'base64' ? Buffer.from(body).toString('base64') : Buffer.from(body).toString('utf8')
}
