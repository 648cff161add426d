/**
 * The request limits, each written once: the server enforces them, the page renders them into its form, and the
 * tests import them.
 */

/** The largest request body the app accepts, with or without Content-Length; bytes (1 MiB). */
export const MAX_BODY_BYTES = 1024 * 1024

/** The longest message a user may send; characters (UTF-16 code units, as `maxlength` and `.length` count them). */
export const MESSAGE_MAX_CHARS = 20_000

/**
 * The longest text one event may carry (a message, a delta, a whole answer); characters. The event schemas enforce
 * it, and crash recovery truncates an interrupted answer to it.
 */
export const EVENT_TEXT_MAX_CHARS = 1_000_000

/**
 * Bun's own `maxRequestBodySize`; bytes (4 MiB). Bun answers a body over it with an empty 413 before the app sees
 * the request, so it sits well above MAX_BODY_BYTES: the limit a client meets is the app's, with its sentence. Bun's
 * stays as the backstop for a body no route reads through the capped parser.
 */
export const SERVER_MAX_BODY_BYTES = MAX_BODY_BYTES * 4
