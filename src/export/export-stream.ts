import { nextTurn, TurnSlicer } from '../next-turn.ts'
import { jsonSizeUpTo } from '../bounded-json.ts'
import type { StoredEvent } from '../events.ts'
import { EXPORT_CHUNK_BYTES, EXPORT_PAGE_BYTES, EXPORT_PAGE_EVENTS } from '../limits.ts'
import type { EventStore, SessionRecord } from '../log/event-store.ts'
import { TranscriptFold } from '../transcript.ts'
import { type ChatExportHead, type ExportedEntry, exportedEntry, exportHead } from './chat-export.ts'
import { chatJsonPieces } from './chat-json.ts'
import { markdownEntry, markdownHead } from './chat-markdown.ts'

export type ExportFormat = 'md' | 'json'

/** How a format writes its head, each entry (in pieces) and its end; the pieces joined are the whole export. */
interface ExportWriter {
  head(head: ChatExportHead): string
  entry(entry: ExportedEntry, index: number): Iterable<string>
  tail(count: number): string
}

const WRITERS: Record<ExportFormat, ExportWriter> = {
  md: {
    head: (head) => markdownHead(head).join('\n\n'),
    *entry(entry) {
      for (const block of markdownEntry(entry)) yield `\n\n${block}`
    },
    tail: () => '\n',
  },
  json: chatJsonPieces,
}

/**
 * The first page's size in events: small, since nothing is known yet of how big the chat's events are (200 events of
 * 300 KB read at once held the loop for a fifth of a second); pages grow from there as nextLimit finds them small.
 */
const FIRST_PAGE = 8

/** The next page's size in events: fewer after big events, more after small ones, within 1…EXPORT_PAGE_EVENTS. */
function nextLimit(limit: number, page: StoredEvent[]): number {
  let bytes = 0
  for (const event of page) bytes += jsonSizeUpTo(event, EXPORT_PAGE_BYTES)
  return Math.max(1, Math.min(EXPORT_PAGE_EVENTS, Math.floor((limit * EXPORT_PAGE_BYTES) / Math.max(bytes, 1))))
}

/**
 * A session's export as it is written: the store is read a page at a time (bounded in events and about
 * EXPORT_PAGE_BYTES), each entry is written out as soon as nothing more can change it (a user message at once, a run
 * at its closing event) and then forgotten, a run a piece at a time (a tool call, a result, a text: each bounded by
 * what one event may hold), handed on about EXPORT_CHUNK_BYTES at a time, and other requests run between pages and
 * between pieces, until a page comes back empty (a session's `last_seq` is not the end: a SQLite store's newest
 * events may still be in its journal). The pieces joined are what `chatMarkdown` or `JSON.stringify` would give for
 * the whole chat.
 */
export async function* exportPieces(store: EventStore, session: SessionRecord, format: ExportFormat): AsyncGenerator<string> {
  const writer = WRITERS[format]
  const fold = new TranscriptFold()
  const slicer = new TurnSlicer()
  let written = 0
  let limit = FIRST_PAGE
  for (let after = 0, first = true; ; first = false) {
    const page = await store.read(session.id, after, limit)
    for (const event of page) fold.add(event)
    const last = page.at(-1)
    const done = !last
    let text = first ? writer.head(exportHead(session, fold.firstSeq)) : ''
    for (const entry of fold.takeSettled(done)) {
      for (const piece of writer.entry(exportedEntry(entry), written)) {
        text += piece
        if (text.length >= EXPORT_CHUNK_BYTES) {
          yield text
          text = ''
        }
        await slicer.pause()
      }
      written++
    }
    if (done) {
      yield text + writer.tail(written)
      return
    }
    if (text) yield text
    after = last.seq
    limit = nextLimit(limit, page)
    await nextTurn()
  }
}
