import { type StopSignal, stopped } from '../bus/session-signal.ts'
import type { LogEntry } from '../log/log-backend.ts'
import { isJsonMode } from './content-type.ts'
import { responseCursor } from './cursor.ts'
import { decodeEntryBytes } from './entry-bytes.ts'
import { noneMatch, readEtag } from './etag.ts'
import { jsonReadBody } from './json-mode.ts'
import { encodeOffset, type ReadFrom } from './offsets.ts'
import { refuse } from './parsed.ts'
import type { ReadQuery } from './read-query.ts'
import { H, headersIf, StreamRefusal, type StreamAnswer } from './stream-answer.ts'
import { type OpenStream, openStream, slide, type StreamContext } from './stream-context.ts'
import { STREAM_READ_CHUNK_BYTES } from './stream-limits.ts'

/** Entries a read asks the log for at first, and at most at once; entries. */
const FIRST_BATCH = 4
const MAX_BATCH = 1000

/** How a page that ends before the head may be cached (the HTTP layer makes it `private` when auth is on). */
export const IMMUTABLE_PAGE = 'public, max-age=60, stale-while-revalidate=300'

/** A page of a read: the entries, the seq it ends after, and whether that is the head. */
export interface Page {
  entries: LogEntry[]
  last: number
  upToDate: boolean
}

/** The seq a read starts after: the start, the tail, or an offset within what the stream has held (400 past it, 410 below it). */
export function startOf(from: ReadFrom, stream: OpenStream): number {
  if (from.kind === 'start') return stream.state.tail
  if (from.kind === 'now') return stream.state.head
  if (from.seq > stream.state.head) {
    throw refuse('offset', 'That offset is past the end of this stream: use one a response gave in Stream-Next-Offset.').error
  }
  if (from.seq < stream.state.tail) {
    throw new StreamRefusal('STREAM_GONE', 'The data at that offset is no longer kept: read from -1 for what the stream holds now.')
  }
  return from.seq
}

/**
 * Entries after `after`, up to STREAM_READ_CHUNK_BYTES (one at least), and where the page ends. Read in batches sized
 * by the entries seen so far, so that a page of large entries never loads many more than it returns (a log of
 * 1 MiB entries would otherwise be read whole for one page) and one of small entries takes few reads.
 */
export async function readPage(ctx: StreamContext, name: string, after: number, head: number): Promise<Page> {
  const entries: LogEntry[] = []
  let bytes = 0
  let batch = FIRST_BATCH
  for (let from = after; from < head; ) {
    const read = await ctx.log.read(name, from, batch)
    for (const entry of read) {
      if (entries.length > 0 && bytes + entry.data.length > STREAM_READ_CHUNK_BYTES) return page(entries, after, head)
      entries.push(entry)
      bytes += entry.data.length
    }
    if (read.length < batch) break
    from = read.at(-1)!.seq
    const average = bytes / entries.length
    batch = Math.min(MAX_BATCH, Math.max(1, Math.ceil((STREAM_READ_CHUNK_BYTES - bytes) / Math.max(1, average))))
  }
  return page(entries, after, head)
}

function page(entries: LogEntry[], after: number, head: number): Page {
  const last = entries.at(-1)?.seq ?? after
  return { entries, last, upToDate: last >= head }
}

/** The body of a page: its messages as one JSON array in JSON mode, else its bytes end to end. */
export function pageBody(entries: readonly LogEntry[], contentType: string): string | Uint8Array {
  if (isJsonMode(contentType)) return jsonReadBody(entries.map((entry) => entry.data))
  return Buffer.concat(entries.map((entry) => decodeEntryBytes(entry.data)))
}

/** GET without `live` (or `offset=now`): a page, with its ETag and caching, or a 304. */
export async function catchUp(ctx: StreamContext, name: string, query: ReadQuery, ifNoneMatch: string | null): Promise<StreamAnswer> {
  const stream = await openStream(ctx, name)
  await slide(ctx, name, stream)
  const { contentType } = stream.meta
  const headers = contentHeaders(contentType)
  if (query.from.kind === 'now') {
    const closed = headersIf(stream.state.closed, { [H.closed]: 'true' })
    const tail = { [H.nextOffset]: encodeOffset(stream.state.head), [H.upToDate]: 'true', ...closed }
    return { status: 200, headers: { ...headers, ...tail, 'cache-control': 'no-store' }, body: isJsonMode(contentType) ? '[]' : '' }
  }
  const after = startOf(query.from, stream)
  const page = await readPage(ctx, name, after, stream.state.head)
  const closed = page.upToDate && stream.state.closed
  const next = encodeOffset(page.last)
  const etag = readEtag(stream.meta.etag, encodeOffset(after), next, closed)
  // A page that ends before the head never changes; one at the head does when the stream grows: revalidated.
  const cacheControl = page.upToDate ? 'no-cache' : IMMUTABLE_PAGE
  if (noneMatch(ifNoneMatch, etag)) return { status: 304, headers: { etag, 'cache-control': cacheControl } }
  const answered = { ...headers, ...pageHeaders(page, next, closed), etag, 'cache-control': cacheControl }
  return { status: 200, headers: answered, body: pageBody(page.entries, contentType) }
}

/**
 * GET with `live=long-poll`: data after the offset at once, else a wait of up to `longPollMs` for some, else 204. A
 * wake that brought no data (a touch of a sliding TTL, another reader's expiry check) waits again for the time left.
 */
export async function longPoll(ctx: StreamContext, name: string, query: ReadQuery, signal: StopSignal): Promise<StreamAnswer> {
  let stream = await openStream(ctx, name)
  await slide(ctx, name, stream)
  const after = startOf(query.from, stream)
  const cursor = () => responseCursor(query.cursor, ctx.log.now(), ctx.random)
  const deadline = ctx.log.now() + ctx.longPollMs
  for (;;) {
    const page = await readPage(ctx, name, after, stream.state.head)
    if (page.entries.length > 0) {
      const closed = page.upToDate && stream.state.closed
      const headers = { ...contentHeaders(stream.meta.contentType), ...pageHeaders(page, encodeOffset(page.last), closed) }
      return {
        status: 200,
        headers: { ...headers, [H.cursor]: cursor(), 'cache-control': 'no-cache' },
        body: pageBody(page.entries, stream.meta.contentType),
      }
    }
    const idle = { [H.nextOffset]: encodeOffset(after), [H.upToDate]: 'true', 'cache-control': 'no-cache' }
    if (stream.state.closed) return { status: 204, headers: { ...idle, [H.closed]: 'true' } }
    const left = deadline - ctx.log.now()
    if (left <= 0 || stopped(signal)) return { status: 204, headers: { ...idle, [H.cursor]: cursor() } }
    // 'closed' comes round the loop: the stream read again is closed and answered so.
    await ctx.log.waitFor(name, after, signal, left)
    stream = await openStream(ctx, name)
  }
}

/** HEAD: where the stream ends and how it was made; never cached, never moving a sliding TTL. */
export async function head(ctx: StreamContext, name: string): Promise<StreamAnswer> {
  const { state, meta } = await openStream(ctx, name)
  const headers: Record<string, string> = {
    ...contentHeaders(meta.contentType),
    [H.nextOffset]: encodeOffset(state.head),
    'cache-control': 'no-store',
  }
  if (state.closed) headers[H.closed] = 'true'
  if (meta.expiry?.kind === 'ttl') headers[H.ttl] = String(meta.expiry.seconds)
  if (meta.expiry?.kind === 'at') headers[H.expiresAt] = new Date(meta.expiry.at).toISOString()
  // The tag of a GET from -1 that reads to the head, as RFC 9110 asks of a HEAD.
  headers.etag = readEtag(meta.etag, encodeOffset(state.tail), encodeOffset(state.head), state.closed)
  return { status: 200, headers }
}

/** The headers of a page: where it ends, whether that is the head, whether the stream is closed there. */
function pageHeaders(page: Page, next: string, closed: boolean): Record<string, string> {
  return { [H.nextOffset]: next, ...(page.upToDate && { [H.upToDate]: 'true' }), ...(closed && { [H.closed]: 'true' }) }
}

/** The stream's Content-Type (the HTTP layer makes raw bytes a download). */
function contentHeaders(contentType: string): Record<string, string> {
  return { 'content-type': contentType }
}
