/** @jsxImportSource @kitajs/html */
import { Elysia, t } from 'elysia'
import { AppError } from '../errors.ts'
import { LISTED_CHATS_MAX } from '../limits.ts'
import { isWellFormedId } from '../session-id.ts'
import { ChatList, type ListedChat } from '../../templates/chat-list.tsx'
import { toHtml } from '../../templates/to-html.ts'
import { deleteChat, renameChat } from './chats.ts'
import { type AppDeps, requireSession } from './deps.ts'
import { PAGE_HEADERS } from './page-headers.ts'

/** The longest `ids` field read: LISTED_CHATS_MAX ids and their separators, with room to spare; characters. */
const IDS_MAX_CHARS = LISTED_CHATS_MAX * 32

/** How a read-only id is marked in the list's field: `view:<viewer id>`. */
const VIEW_MARK = 'view:'

/**
 * The chats a browser keeps (app.js, localStorage), space-separated: owner ids, and read-only ids marked `view:`.
 * The well-formed ones, once each, the first LISTED_CHATS_MAX. Anything else in the field is ignored: it is a list the
 * browser kept, and a stale or mangled entry must not cost the rest of the list.
 */
export function keptIds(field: string | undefined): string[] {
  const ids = new Set<string>()
  for (const token of (field ?? '').slice(0, IDS_MAX_CHARS).split(/[\s,]+/)) {
    if (ids.size === LISTED_CHATS_MAX) break
    if (isWellFormedId(token.startsWith(VIEW_MARK) ? token.slice(VIEW_MARK.length) : token)) ids.add(token)
  }
  return [...ids]
}

/** The chat a kept id opens, as the list shows it: by its owner id, or by its read-only id (never its owner id). */
async function listedChat(deps: AppDeps, token: string): Promise<ListedChat | undefined> {
  if (token.startsWith(VIEW_MARK)) {
    const viewerId = token.slice(VIEW_MARK.length)
    const chat = await deps.store.getSessionByViewer(viewerId)
    return chat && { token, id: viewerId, access: 'viewer', title: chat.title, created_at: chat.created_at }
  }
  const chat = await deps.store.getSession(token)
  return chat && { token, id: chat.id, access: 'owner', title: chat.title, created_at: chat.created_at }
}

const Listed = t.Object({ ids: t.Optional(t.String()) })
const Acted = t.Object({
  ids: t.Optional(t.String()),
  client_id: t.String({ error: 'The form has no client_id: reload the page and try again.' }),
  title: t.Optional(t.String()),
})

/**
 * The list of the chats this browser keeps, as HTML for htmx: `POST /chats` renders it for the ids the browser sends
 * (owner ids are capabilities: they travel in a POST body, never in a URL, and the answer is never cached), and
 * `POST /chats/rename` and `/chats/delete` act on one it owns and answer the list again. Each id shows only what it
 * opens already: an owner id its chat, with rename and delete; a read-only id its chat, read-only, by that id alone.
 * An id that opens nothing (a deleted chat, a read-only id sent as an owner id) is left out.
 */
export const chatListRoutes = (deps: AppDeps) => {
  const list = async (field: string | undefined, notice?: string, status = 200) => {
    const asked = keptIds(field)
    const found = await Promise.all(asked.map((token) => listedChat(deps, token)))
    const chats = found.filter((chat): chat is ListedChat => chat !== undefined)
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
