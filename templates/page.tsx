/** @jsxImportSource @kitajs/html */
import { HIGHLIGHT_BLOCK_MS, LISTED_CHATS_MAX, SYSTEM_PROMPT_MAX_BYTES } from '../src/limits.ts'
import { ID_PATTERN } from '../src/session-id.ts'
import type { Transcript } from '../src/transcript.ts'
import { RunMessage, RunStatus, UserMessage } from './messages.tsx'
import { toHtml } from './to-html.ts'
import type { VersionsView } from '../src/http/versions.ts'

/** Asset URLs carry the version so a new build is never served from a stale cache. */
export interface PageAssets {
  css: string
  icon: string
  scripts: string[]
  /** The code highlighter's worker script, which app.js starts once an answer holds code. */
  highlighter: string
}

// htmx 4 reads its config from this meta tag. Its indicator CSS is injected as a stylesheet we don't use, and
// back/forward reloads the page, because every URL of ours renders fully on the server. A lost stream tries again
// at most 5 s apart (hx-sse doubles its wait up to a minute): a page open through a server's restart is live again
// within seconds of its return, and the jitter still spreads the clients out.
const HTMX_CONFIG = 'includeIndicatorCSS:false, history:"reload", defaultTimeout:15000, sse.reconnectMaxDelay:5000'

/**
 * Sign out (auth on): ends the browser's sign-in on the server, for every instance that shares the store, and drops
 * its cookie (`POST /logout`). A plain form, so it works without scripts and from the keyboard.
 */
function SignOut() {
  return (
    <form class="sign-out" action="/logout" method="post">
      <button type="submit" id="sign-out">
        Sign out
      </button>
    </form>
  )
}

export function Layout({
  assets,
  title,
  children,
  signOut = false,
  chatList = true,
}: {
  assets: PageAssets
  title: string
  children: JSX.Element
  /** Shows the sign-out button: on the pages of a signed-in browser when auth is on. */
  signOut?: boolean
  /**
   * Has the list of this browser's chats: not on a read-only page with auth on, which a visitor without the token
   * opens, and whose list request (it needs the token) would be refused.
   */
  chatList?: boolean
}) {
  return (
    <>
      {'<!doctype html>'}
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <meta name="color-scheme" content="light dark" />
          <meta name="htmx-config" content={HTMX_CONFIG} />
          <title safe>{title}</title>
          <link rel="icon" href={assets.icon} type="image/svg+xml" />
          <link rel="stylesheet" href={assets.css} />
        </head>
        {/* The session id pattern, written once in session-id.ts: app.js reads it to check the ids it keeps. So too the
            highlighter's script and its time per code block (src/limits.ts), and how many chats the list asks about. */}
        <body
          data-id-pattern={ID_PATTERN.source}
          data-chats-max={String(LISTED_CHATS_MAX)}
          data-highlighter={assets.highlighter}
          data-highlight-ms={HIGHLIGHT_BLOCK_MS}
        >
          <header class="top">
            <a class="brand" href="/">
              stepstream
            </a>
            <span class="indicators">
              <span id="run-indicator" class="run-indicator" data-state="" aria-live="polite">
                &nbsp;
              </span>
              <span id="connection" class="connection" data-state="idle" role="status" aria-live="polite">
                &nbsp;
              </span>
            </span>
            {signOut ? <SignOut /> : ''}
          </header>
          <main id="main">{children}</main>
          {/* The chats this browser owns: app.js fills #owned-ids from localStorage and asks for the list (chat-list.tsx). */}
          {chatList ? (
            <aside class="chats" aria-labelledby="recent-title" hidden>
              <input type="hidden" id="owned-ids" name="ids" value="" />
              <section
                id="recent"
                class="recent"
                hx-post="/chats"
                hx-trigger="chatsload"
                hx-include="#owned-ids"
                hx-swap="innerHTML"
              ></section>
            </aside>
          ) : (
            ''
          )}
          {/* Plain (not deferred) scripts at the end of the body: htmx initialises on DOMContentLoaded only while the
              document is still loading, so its SSE extension is always registered first. With `defer`, htmx runs
              when the document is already interactive and initialises on a timer that can beat hx-sse's download. */}
          {assets.scripts.map((src) => (
            <script src={src}></script>
          ))}
        </body>
      </html>
    </>
  )
}

/** The step new chats run, named on the landing page so the demo is not mistaken for a model. */
export interface StepHint {
  name: string
  description: string
  /** The models a new chat may choose from (`--models`): a select when there are two or more. */
  models?: readonly string[]
}

/**
 * What New Chat lets a chat of a model step choose: its model (when the server offers more than one) and a system
 * prompt of its own (src/steps/openai-choice.ts checks both; SYSTEM_PROMPT_MAX_BYTES bounds the prompt).
 */
function NewChatChoices({ models, promptMaxBytes }: { models: readonly string[]; promptMaxBytes: number }) {
  return (
    <div class="new-chat-choices">
      {models.length > 1 ? (
        <label>
          Model{' '}
          <select name="model" id="new-chat-model">
            {models.map((model) => (
              <option value={model} safe>
                {model}
              </option>
            ))}
          </select>
        </label>
      ) : (
        ''
      )}
      <details>
        <summary>System prompt (optional)</summary>
        <label for="new-chat-system-prompt" class="visually-hidden">
          System prompt
        </label>
        <textarea
          id="new-chat-system-prompt"
          name="system_prompt"
          rows="3"
          maxlength={String(promptMaxBytes)}
          placeholder="You are a helpful assistant."
        ></textarea>
      </details>
    </div>
  )
}

/** htmx 4 sends a refusal of New Chat (4xx, 5xx) to the notice under its form (attribute names JSX cannot spell). */
const NEW_CHAT_REFUSED = { 'hx-status:4xx': 'target:#new-chat-notice', 'hx-status:5xx': 'target:#new-chat-notice' }
/** A refused first connection of the stream (the server at its cap, restarting) is not content: app.js asks again. */
const STREAM_REFUSED = { 'hx-status:4xx': 'swap:none', 'hx-status:5xx': 'swap:none' }

export function Landing({ notice, step }: { notice?: string; step?: StepHint }) {
  const choices = step?.models !== undefined && step.models.length > 0
  return (
    <section class="landing">
      {notice ? (
        <p class="notice warn" role="alert" safe>
          {notice}
        </p>
      ) : (
        ''
      )}
      <h1>Watch a step think, live.</h1>
      <p>Each chat is a link: copy it into another tab and both follow the same conversation.</p>
      {step ? (
        <p class="hint">
          New chats run the <code safe>{step.name}</code> step: <span safe>{step.description}</span>.
        </p>
      ) : (
        ''
      )}
      {/* A refused New Chat (a prompt too long, the rate limit) says why under the form, which stays as filled. */}
      <form action="/start" method="post" hx-post="/start" hx-target="#main" hx-swap="innerHTML" {...NEW_CHAT_REFUSED}>
        {choices ? <NewChatChoices models={step.models!} promptMaxBytes={SYSTEM_PROMPT_MAX_BYTES} /> : ''}
        <button type="submit" class="primary">
          Start New Chat
        </button>
        <p id="new-chat-notice" class="notice" role="status"></p>
      </form>
    </section>
  )
}

/**
 * Who is looking at a chat. The owner's page can write (the composer, Cancel) and share; a read-only viewer's page
 * is addressed by the viewer id alone and must never hold the session id, so its variant has none to render.
 */
export type ChatAccess = { kind: 'owner'; sessionId: string; viewerId: string } | { kind: 'viewer'; viewerId: string }

/** Where a page's links lead: its stream, its exports and its earlier part, by the id that page was opened with. */
function chatPaths(access: ChatAccess) {
  if (access.kind === 'viewer') {
    const view = `view=${access.viewerId}`
    return { stream: `/events?${view}`, api: `/api/sessions/view/${access.viewerId}`, earlier: `/earlier?${view}` }
  }
  const owner = `client_id=${access.sessionId}`
  return { stream: `/events?${owner}`, api: `/api/sessions/${access.sessionId}`, earlier: `/earlier?${owner}` }
}

/**
 * "Load earlier messages": fetches the part of the chat before seq `before` (src/http/earlier.tsx) and takes its
 * place with it, which brings the next such button along while there is more.
 */
export function LoadEarlier({ access, before }: { access: ChatAccess; before: number }) {
  return (
    <button type="button" class="load-earlier" hx-get={`${chatPaths(access).earlier}&before=${before}`} hx-swap="outerHTML">
      Load earlier messages
    </button>
  )
}

/**
 * A part of a chat: the button for the part before it, if there is one, then its entries (`renderEntries`'s HTML).
 */
export function ChatPart({ access, entries, earlierBefore }: { access: ChatAccess; entries: string; earlierBefore?: number }) {
  // HTML already: the message templates escaped what they print.
  const safeEntries = entries
  return (
    <>
      {earlierBefore === undefined ? '' : <LoadEarlier access={access} before={earlierBefore} />}
      {safeEntries}
    </>
  )
}

/** How long rendering entries may hold the event loop before it lets others run; milliseconds. */
const RENDER_SLICE_MS = 4

/**
 * A transcript's entries as HTML, in order, the event loop let go every RENDER_SLICE_MS: a page's worth of long
 * answers (PAGE_EVENT_BYTES) is tens of milliseconds of Markdown, which no request may hold the loop for at once.
 */
export async function renderEntries(transcript: Transcript, versions?: ReadonlyMap<number, VersionsView>): Promise<string> {
  const parts: string[] = []
  let since = performance.now()
  for (const entry of transcript.entries) {
    parts.push(
      toHtml(
        entry.kind === 'user' ? <UserMessage event={entry.event} versions={versions?.get(entry.event.seq)} /> : <RunMessage run={entry} />,
      ),
    )
    if (performance.now() - since > RENDER_SLICE_MS) {
      await new Promise<void>((resolve) => setImmediate(resolve))
      since = performance.now()
    }
  }
  return parts.join('')
}

/** Share and keep: the read-only link (owners only), and the transcript as Markdown or JSON. */
function ChatTools({ access, model }: { access: ChatAccess; model?: string }) {
  const { api } = chatPaths(access)
  return (
    <nav class="chat-tools" aria-label="Share and export">
      {model === undefined ? (
        ''
      ) : (
        <span class="chat-model" id="chat-model">
          Model: <code safe>{model}</code>
        </span>
      )}
      {access.kind === 'owner' ? (
        <button type="button" id="copy-view-link" data-link={`/?view=${access.viewerId}`}>
          Copy read-only link
        </button>
      ) : (
        <p class="viewer-note">Read-only: you are watching this chat and cannot write to it.</p>
      )}
      <a href={`${api}/transcript.md`} download="">
        Download .md
      </a>
      <a href={`${api}/transcript.json`} download="">
        Download .json
      </a>
    </nav>
  )
}

/** A published chat's owner: a sentence instead of the message box, and Cancel while a run streams. */
function PublishedControls({ sessionId, running }: { sessionId: string; running: boolean }) {
  return (
    <div id="composer" class="composer published">
      <p class="hint">A program publishes the answers in this chat; it takes no messages from here.</p>
      <CancelButton sessionId={sessionId} running={running} />
    </div>
  )
}

function Composer({ sessionId, running, maxMessageBytes }: { sessionId: string; running: boolean; maxMessageBytes: number }) {
  return (
    // The id in the URL too (the server reads the form's): a proxy routing by chat (deploy/nginx-redis.conf) sees it.
    <form
      id="composer"
      class="composer"
      action={`/chat?client_id=${sessionId}`}
      method="post"
      hx-post={`/chat?client_id=${sessionId}`}
      hx-target="#notice"
      hx-swap="innerHTML"
    >
      <input type="hidden" name="client_id" value={sessionId} />
      <label for="message" class="visually-hidden">
        Your message
      </label>
      <textarea
        id="message"
        name="message"
        rows="1"
        maxlength={String(maxMessageBytes)}
        placeholder="Type a message, Enter to send"
        required
      ></textarea>
      <button type="submit" id="send" class="primary" disabled={running}>
        Send
      </button>
      <CancelButton sessionId={sessionId} running={running} />
    </form>
  )
}

/**
 * The owner's "Edit" and "Regenerate" (docs/branches.md), as templates public/app.js puts beside the messages: the
 * stream's fragments are the same for every reader, so the controls only the owner may use are added on the owner's
 * page alone. Each form opens the branch the server made (HX-Redirect).
 */
function BranchControls({ sessionId }: { sessionId: string }) {
  return (
    <>
      <template id="edit-template">
        <form
          class="edit-form"
          action="/edit"
          method="post"
          hx-post={`/edit?client_id=${sessionId}`}
          hx-target="#notice"
          hx-swap="innerHTML"
        >
          <input type="hidden" name="client_id" value={sessionId} />
          <input type="hidden" name="seq" value="" />
          <textarea name="message" rows="3" aria-label="Edited message" required></textarea>
          <div class="edit-actions">
            <button type="submit" class="primary">
              Send edited
            </button>
            <button type="button" class="edit-cancel">
              Cancel
            </button>
          </div>
        </form>
      </template>
      <template id="regenerate-template">
        <form
          class="regenerate-form"
          action="/regenerate"
          method="post"
          hx-post={`/regenerate?client_id=${sessionId}`}
          hx-target="#notice"
          hx-swap="innerHTML"
        >
          <input type="hidden" name="client_id" value={sessionId} />
          <button type="submit" class="regenerate" aria-label="Regenerate this answer">
            Regenerate
          </button>
        </form>
      </template>
    </>
  )
}

/** Cancel, shown while a run is active (app.js follows the run status the stream keeps). */
function CancelButton({ sessionId, running }: { sessionId: string; running: boolean }) {
  return (
    <button
      type="button"
      id="cancel"
      hx-post={`/cancel?client_id=${sessionId}`}
      hx-vals={JSON.stringify({ client_id: sessionId })}
      hx-target="#notice"
      hx-swap="innerHTML"
      hidden={!running}
    >
      Cancel
    </button>
  )
}

/**
 * A chat page: the same transcript and stream for owner and viewer; only the owner gets the composer and Cancel.
 * `running` comes from the runner: a run can be active before its `start` event is in the transcript.
 */
export function Chat({
  access,
  transcript,
  running,
  maxMessageBytes,
  published = false,
  earlierBefore,
  entries,
  model,
  titled = false,
}: {
  access: ChatAccess
  /** The model the chat chose at New Chat (the openai step's), shown above the transcript. */
  model?: string
  transcript: Transcript
  running: boolean
  /** `--max-message-bytes`, rendered as `maxlength` (see DEFAULT_MAX_MESSAGE_BYTES in src/limits.ts for why). */
  maxMessageBytes: number
  /** A chat a program publishes into: it takes no messages from the page, so the owner gets Cancel only. */
  published?: boolean
  /** The page shows the chat's latest part only (src/http/chat-window.ts): the seq its earlier part ends before. */
  earlierBefore?: number
  /** The transcript's entries, rendered (`renderEntries`). */
  entries: string
  /** Whether the page's <title> is the chat's title already; app.js asks for it once the first message is in. */
  titled?: boolean
}) {
  const stream = `${chatPaths(access).stream}&after=${transcript.lastSeq}`
  // app.js keeps an owner's chat in this browser's list; a viewer's is never kept (this browser does not own it). Both
  // read the title from `data-api` once the first message is in, when the page was rendered without one.
  const remember = access.kind === 'owner' ? { 'data-session': access.sessionId } : { 'data-view': access.viewerId }
  return (
    <section class="chat" {...remember} data-api={chatPaths(access).api} data-titled={titled ? 'yes' : undefined}>
      <ChatTools access={access} model={model} />
      <div
        id="transcript"
        class="transcript"
        role="log"
        aria-live="polite"
        aria-label="Conversation"
        hx-sse:connect={stream}
        hx-swap="beforeend"
        {...STREAM_REFUSED}
      >
        <ChatPart access={access} entries={entries} earlierBefore={earlierBefore} />
      </div>
      <RunStatus running={running} />
      <button type="button" id="jump" class="jump" hidden>
        Jump to latest ↓
      </button>
      <p id="notice" class="notice" role="status"></p>
      {access.kind !== 'owner' ? (
        ''
      ) : published ? (
        <PublishedControls sessionId={access.sessionId} running={running} />
      ) : (
        <>
          <Composer sessionId={access.sessionId} running={running} maxMessageBytes={maxMessageBytes} />
          <BranchControls sessionId={access.sessionId} />
        </>
      )}
    </section>
  )
}

export function ErrorPage({ status, message }: { status: number; message: string }) {
  return (
    <section class="landing">
      <h1 safe>{`${status}`}</h1>
      <p class="notice warn" role="alert" safe>
        {message}
      </p>
      <p>
        <a href="/">Back to the start page</a>
      </p>
    </section>
  )
}
