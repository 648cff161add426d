/** @jsxImportSource @kitajs/html */
import { Elysia, t } from 'elysia'
import { AppError } from '../errors.ts'
import { LISTED_CHATS_MAX } from '../limits.ts'
import type { SessionRecord } from '../log/event-store.ts'
import { isWellFormedId } from '../session-id.ts'
import { ChatList } from '../../templates/chat-list.tsx'
import { toHtml } from '../../templates/to-html.ts'
import { deleteChat, renameChat } from './chats.ts'
import { type AppDeps, requireSession } from './deps.ts'
import { PAGE_HEADERS } from './page-headers.ts'

/** The longest `ids` field read: LISTED_CHATS_MAX ids and their separators, with room to spare; characters. */
const IDS_MAX_CHARS = LISTED_CHATS_MAX * 32

/**
 * The ids a browser says it owns, as it keeps them (app.js, localStorage), space-separated: the well-formed ones,
 * once each, the first LISTED_CHATS_MAX. Anything else in the field is ignored: it is a list the browser kept, and a
 * stale or mangled entry must not cost the rest of the list.
 */
export function ownedIds(field: string | undefined): string[] {
  const ids = new Set<string>()
  for (const id of (field ?? '').slice(0, IDS_MAX_CHARS).split(/[\s,]+/)) {
    if (ids.size === LISTED_CHATS_MAX) break
    if (isWellFormedId(id)) ids.add(id)
  }
  return [...ids]
}

const Listed = t.Object({ ids: t.Optional(t.String()) })
const Acted = t.Object({
  ids: t.Optional(t.String()),
  client_id: t.String({ error: 'The form has no client_id: reload the page and try again.' }),
  title: t.Optional(t.String()),
})

/**
 * The list of the chats this browser owns, as HTML for htmx: `POST /chats` renders it for the ids the browser sends
 * (owner ids are capabilities: they travel in a POST body, never in a URL, and the answer is never cached), and
 * `POST /chats/rename` and `/chats/delete` act on one of them and answer the list again. An id that is no owner id of
 * a live chat (a read-only id, a deleted chat) is left out, so a list shows only what its ids already open.
 */
export const chatListRoutes = (deps: AppDeps) => {
  const list = async (field: string | undefined, notice?: string, status = 200) => {
    const asked = ownedIds(field)
    const found = await Promise.all(asked.map((id) => deps.store.getSession(id)))
    const chats = found.filter((chat): chat is SessionRecord => chat !== undefined)
    chats.sort((a, b) => (a.created_at < b.created_at ? 1 : a.created_at > b.created_at ? -1 : 0))
    return new Response(toHtml(<ChatList chats={chats} asked={asked} notice={notice} />), {
      status,
      headers: { ...PAGE_HEADERS, 'cache-control': 'no-store' },
    })
  }
  /** Runs the change; a refusal with a sentence (a title too long) is shown above the list, with its status. */
  const acting = async (field: string | undefined, change: () => Promise<unknown>) => {
    try {
      await change()
    } catch (error) {
      if (error instanceof AppError && error.status < 500) return list(field, error.message, error.status)
      throw error
    }
    return list(field)
  }
  return new Elysia({ name: 'chat-list' })
    .post('/chats', ({ body }) => list(body.ids), { body: Listed })
    .post(
      '/chats/rename',
      ({ body }) => acting(body.ids, async () => renameChat(deps, await requireSession(deps.store, body.client_id), body.title ?? '')),
      { body: Acted },
    )
    .post('/chats/delete', ({ body }) => acting(body.ids, async () => deleteChat(deps, await requireSession(deps.store, body.client_id))), {
      body: Acted,
    })
}
