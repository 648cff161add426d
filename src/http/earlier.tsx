/** @jsxImportSource @kitajs/html */
import { Elysia, t } from 'elysia'
import { AppError } from '../errors.ts'
import { foldTranscript } from '../transcript.ts'
import { ChatPart, type ChatAccess, renderEntries } from '../../templates/page.tsx'
import { toHtml } from '../../templates/to-html.ts'
import { chatWindow } from './chat-window.ts'
import { type AppDeps, requireSession, requireViewer } from './deps.ts'
import { PAGE_HEADERS } from './page-headers.ts'
import { messageVersions } from './versions.ts'

/** `before`: a seq, written in decimal; the first seq is 1, so the earliest part ends before 2 at the least. */
function seqOf(raw: string | undefined): number {
  const before = raw !== undefined && /^\d{1,16}$/.test(raw) ? Number(raw) : Number.NaN
  if (!(before >= 2 && before <= Number.MAX_SAFE_INTEGER)) {
    throw new AppError('BAD_REQUEST', 'The "before" parameter must be the seq of an event of this chat, a whole number from 2 up.')
  }
  return before
}

/**
 * `GET /earlier?client_id=…&before=N` (or `?view=…` for a read-only page): the part of a chat before seq N, bounded
 * like the page (src/http/chat-window.ts), as a fragment that takes the place of the "Load earlier messages" button
 * and carries the next one. A viewer's fragment is addressed by the viewer id alone, as its page is.
 */
export const earlierRoutes = (deps: AppDeps) =>
  new Elysia({ name: 'earlier' }).get(
    '/earlier',
    async ({ query }) => {
      if ((query.client_id === undefined) === (query.view === undefined)) {
        throw new AppError('BAD_REQUEST', 'Ask for the earlier messages of a chat with either client_id or view, and not both.')
      }
      const before = seqOf(query.before)
      let access: ChatAccess
      let sessionId: string
      if (query.view !== undefined) {
        const session = await requireViewer(deps.store, query.view)
        access = { kind: 'viewer', viewerId: session.viewer_id }
        sessionId = session.id
      } else {
        const session = await requireSession(deps.store, query.client_id)
        access = { kind: 'owner', sessionId: session.id, viewerId: session.viewer_id }
        sessionId = session.id
      }
      const { events, earlierBefore } = await chatWindow(deps.store, sessionId, before)
      const transcript = foldTranscript(events)
      // Versions link the owner's other branches: the owner's part alone shows them, as the page does.
      const versions = access.kind === 'owner' ? await messageVersions(deps.store, sessionId, transcript) : undefined
      const entries = await renderEntries(transcript, versions)
      const html = toHtml(<ChatPart access={access} entries={entries} earlierBefore={earlierBefore} />)
      return new Response(html, { headers: PAGE_HEADERS })
    },
    { query: t.Object({ client_id: t.Optional(t.String()), view: t.Optional(t.String()), before: t.Optional(t.String()) }) },
  )
