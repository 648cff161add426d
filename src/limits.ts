/**
 * The request limits, each written once: the server enforces them, the page renders them into its form, and the
 * tests import them.
 */

/** The largest request body the app accepts, with or without Content-Length; bytes (1 MiB). */
export const MAX_BODY_BYTES = 1024 * 1024

/**
 * The longest message a user may send by default; bytes of UTF-8 (32 KiB, `--max-message-bytes`). The page's
 * `maxlength` is set to the same number: it counts UTF-16 code units, each at least one byte, so it never stops a
 * message the server would take, and a longer non-ASCII one meets the server's 413 and its sentence.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 32 * 1024

/**
 * The longest text one event may carry (a message, a delta, a whole answer); characters. The event schemas enforce
 * it, and crash recovery truncates an interrupted answer to it.
 */
export const EVENT_TEXT_MAX_CHARS = 1_000_000

/** The longest id or name an event holds (a tool call's id and name, an agent step's name, a model's name). */
export const NAME_MAX_CHARS = 200

/** The longest error sentence an `error` event holds; a longer one is cut. */
export const ERROR_MAX_CHARS = 10_000

/**
 * Bun's own `maxRequestBodySize`; bytes (1 GiB). Bun answers a body over it with an empty 413 before the app sees the
 * request, so it sits far above MAX_BODY_BYTES: the limit a client meets is always the app's, with its sentence. That
 * costs nothing, because the app never reads more than MAX_BODY_BYTES of a body: a Content-Length over it is refused
 * before the body is read, and a chunked body is read with a byte count that stops at the limit (capped-body.ts).
 */
export const SERVER_MAX_BODY_BYTES = 1024 * 1024 * 1024

/**
 * What every byte budget (a chat's, the memory store's) keeps free for closing events; bytes (64 KiB). Every other
 * event must leave it free, so a run that started can always be closed: a final whose answer is longer than what is
 * left has its text cut to fit (src/store/byte-budget.ts).
 */
export const CLOSING_RESERVE_BYTES = 64 * 1024

/** A chat's byte budget by default, across all its events as stored; bytes (64 MiB, `--max-session-bytes`). */
export const DEFAULT_MAX_SESSION_BYTES = 64 * 1024 * 1024

/** The memory store's byte budget by default, across all chats; bytes (256 MiB, `--max-store-bytes`). */
export const DEFAULT_MAX_STORE_BYTES = 256 * 1024 * 1024

/**
 * What a chat page renders at once: its newest events up to this many bytes as stored, from a turn's start; the
 * "Load earlier messages" control fetches the part before, bounded the same way (src/http/chat-window.ts); bytes
 * (512 KiB). A page of a long chat costs the same as a page of a short one.
 */
export const PAGE_EVENT_BYTES = 512 * 1024
