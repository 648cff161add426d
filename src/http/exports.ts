import { chatMarkdown } from '../export/chat-markdown.ts'
import { exportChat, exportFileName } from '../export/chat-export.ts'
import type { SessionRecord } from '../store/event-store.ts'
import { readAll } from '../store/read-all.ts'
import type { AppDeps } from './deps.ts'
import { attachment } from './safe-headers.ts'

const TYPES = { md: 'text/markdown; charset=utf-8', json: 'application/json; charset=utf-8' }

/**
 * `transcript.md` / `transcript.json` of a session, as a download named after when the chat began. The same bytes
 * whether asked with the owner id or the viewer id: the export holds neither.
 */
export async function transcriptResponse(deps: AppDeps, session: SessionRecord, format: 'md' | 'json'): Promise<Response> {
  const chat = exportChat(session, await readAll(deps.store, session.id))
  const body = format === 'md' ? chatMarkdown(chat) : `${JSON.stringify(chat, null, 2)}\n`
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
