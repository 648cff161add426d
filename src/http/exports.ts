import { exportFileName } from '../export/chat-export.ts'
import { type ExportFormat, exportPieces } from '../export/export-stream.ts'
import { EXPORT_CHUNK_BYTES } from '../limits.ts'
import type { SessionRecord } from '../log/event-store.ts'
import type { AppDeps } from './deps.ts'
import { attachment } from './safe-headers.ts'

const TYPES = { md: 'text/markdown; charset=utf-8', json: 'application/json; charset=utf-8' }

/**
 * `transcript.md` / `transcript.json` of a session, as a download named after when the chat began. The same bytes
 * whether asked with the session id or the viewer id: the export holds neither. It streams: written as the store is
 * read, a page at a time, never held whole (src/export/export-stream.ts), in chunks of at most EXPORT_CHUNK_BYTES.
 */
export async function transcriptResponse(deps: AppDeps, session: SessionRecord, format: ExportFormat): Promise<Response> {
  const pieces = exportPieces(deps.store, session, format)
  // The first page is read before answering, so a store out of reach is still a plain HTTP error.
  const first = await pieces.next()
  const encoder = new TextEncoder()
  // What of the last piece is still to send, handed on EXPORT_CHUNK_BYTES at a time.
  let pending = first.done ? new Uint8Array() : encoder.encode(first.value)
  const body = new ReadableStream<Uint8Array>({
    // Pulled as the client reads: a slow download holds a page of the chat, not the whole of it.
    async pull(controller) {
      while (pending.length === 0) {
        const next = await pieces.next()
        if (next.done) return controller.close()
        pending = encoder.encode(next.value)
      }
      controller.enqueue(pending.subarray(0, EXPORT_CHUNK_BYTES))
      pending = pending.subarray(EXPORT_CHUNK_BYTES)
    },
    async cancel() {
      await pieces.return(undefined)
    },
  })
  return new Response(body, {
    headers: {
      'content-type': TYPES[format],
      ...attachment(exportFileName(session.created_at, format)),
      'x-content-type-options': 'nosniff',
      // A transcript grows while a run goes on: never serve an older copy.
      'cache-control': 'no-store',
    },
  })
}
