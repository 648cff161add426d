/** @jsxImportSource @kitajs/html */
import { TITLE_MAX_CHARS } from '../src/limits.ts'

/** A chat as a browser's list shows it. */
export interface ListedChat {
  /** How the browser named it: its owner id, or `view:<viewer id>`. */
  token: string
  /** The id its link opens: the owner id, or for a read-only chat the viewer id. */
  id: string
  access: 'owner' | 'viewer'
  /** '' until its first message. */
  title: string
  /** ISO 8601. */
  created_at: string
}

/** What a chat without a title yet is called in lists and in its tab. */
export const UNTITLED = 'New chat'

/**
 * The chats this browser keeps, newest first: those it owns with rename and delete, those it watches through a
 * read-only link marked so, with neither. Rendered for the ids the browser sent
 * (src/http/chat-list.tsx), never from anything the server lists. `data-asked` and `data-listed` name the ids asked
 * about and those found, so that app.js forgets the others (deleted, expired), and only those: the browser's list may
 * have grown while this one was on its way. Rename and delete answer this list again.
 */
export function ChatList({ chats, asked, notice }: { chats: ListedChat[]; asked: string[]; notice?: string }) {
  return (
    <>
      <h2 id="recent-title">Your chats</h2>
      <p class="hint">Kept in this browser only.</p>
      {notice ? (
        <p class="notice warn" role="alert" safe>
          {notice}
        </p>
      ) : (
        ''
      )}
      <ul data-listed={chats.map((chat) => chat.token).join(' ')} data-asked={asked.join(' ')}>
        {chats.map((chat) => (chat.access === 'owner' ? ChatItem({ chat }) : WatchedItem({ chat })))}
      </ul>
    </>
  )
}

/** A chat this browser watches through its read-only link: the link, marked, and nothing that writes. */
function WatchedItem({ chat }: { chat: ListedChat }) {
  return (
    <li data-chat={chat.token}>
      <a href={`/?view=${chat.id}`} safe>
        {chat.title || UNTITLED}
      </a>
      <span class="badge">read-only</span>
      <time datetime={chat.created_at} safe>
        {chat.created_at.slice(0, 10)}
      </time>
    </li>
  )
}

function ChatItem({ chat }: { chat: ListedChat }) {
  const act = { 'hx-target': '#recent', 'hx-swap': 'innerHTML', 'hx-include': '#owned-ids' }
  return (
    <li data-chat={chat.id}>
      <a href={`/?client_id=${chat.id}`} safe>
        {chat.title || UNTITLED}
      </a>
      <time datetime={chat.created_at} safe>
        {chat.created_at.slice(0, 10)}
      </time>
      <details class="chat-actions">
        <summary aria-label="Rename or delete">⋯</summary>
        <form class="rename" hx-post="/chats/rename" {...act}>
          <input type="hidden" name="client_id" value={chat.id} />
          <input name="title" value={chat.title} maxlength={String(TITLE_MAX_CHARS)} aria-label="New title" placeholder="Title" />
          <button type="submit">Rename</button>
        </form>
        <form
          class="delete"
          hx-post="/chats/delete"
          hx-confirm="Delete this chat? Its messages are removed from the server for everyone."
          {...act}
        >
          <input type="hidden" name="client_id" value={chat.id} />
          <button type="submit" class="danger">
            Delete
          </button>
        </form>
      </details>
    </li>
  )
}
