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

/**
 * The longest system prompt a chat may be created with (`POST /api/sessions {"options": {"system_prompt"}}`, the
 * New Chat form); bytes of UTF-8 (4 KiB). Kept with the chat and sent with each of its requests to the model.
 */
export const SYSTEM_PROMPT_MAX_BYTES = 4 * 1024

/** The most models `--models` may offer; models (100). Each name is at most NAME_MAX_CHARS. */
export const MAX_OFFERED_MODELS = 100

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
 * Idempotent producers (`Producer-Id`) whose state a session keeps, over all its runs; producers (100). When a new
 * producer would pass it, the producers of the session's closed runs are forgotten (their runs take no more events);
 * if its open run alone holds this many, the new producer is refused with a 409.
 */
export const MAX_PRODUCERS_PER_SESSION = 100

/** The longest `Producer-Id` the publish API takes; characters (200). */
export const MAX_PRODUCER_ID_CHARS = 200

/**
 * Published runs that ended, remembered per instance so that a late append hears why (cancelled, or closed) rather
 * than "no such run"; runs (10,000), the oldest forgotten first.
 */
export const ENDED_RUNS_KEPT = 10_000

/**
 * How deep a JSON value from outside (a tool's input or result, an agent's state) is printed, on a page or in an
 * export; levels of nesting (64). A container deeper than that prints as a one-line summary of what it holds.
 */
export const RENDERED_JSON_MAX_DEPTH = 64

/**
 * The most of one such value a page prints; bytes of UTF-8 (64 KiB), plus the few lines that close what was open
 * where it was cut and say how much was left out.
 */
export const RENDERED_JSON_MAX_BYTES = 64 * 1024

/**
 * The most of one such value the Markdown export prints; bytes of UTF-8 (1 MiB: about the most one event may carry,
 * so in practice it cuts only values stored before the event limits existed).
 */
export const EXPORTED_JSON_MAX_BYTES = 1024 * 1024

/** The most events a transcript export reads from the store at a time (200). */
export const EXPORT_PAGE_EVENTS = 200

/**
 * About how many bytes of events a transcript export reads from the store at a time (256 KiB): after a page of big
 * events it asks for fewer (down to one), after small ones for more (up to EXPORT_PAGE_EVENTS). Between pages it lets
 * other requests run.
 */
export const EXPORT_PAGE_BYTES = 256 * 1024

/** The longest sign-in `next` (where /login sends a browser back to) kept; characters. Longer falls back to `/`. */
export const NEXT_MAX_CHARS = 2048
/*
 * The shape of one event, whatever its source (a publisher, an AG-UI agent, a model's tool arguments, a step):
 * checked once, iteratively, by `eventProblem` (src/json-shape.ts) at the store boundary and where outside JSON is
 * parsed. Strings are bounded by EVENT_TEXT_MAX_CHARS, every string of the event, keys included.
 */

/**
 * How deep arrays and objects may nest in one event; levels (64, the event's own object counting as one). A page
 * renders nested values recursively and JSON.stringify recurses: 60,000 levels overflowed the stack. 64 is more
 * than any tool input or agent state needs. Deeper: 422.
 */
export const MAX_EVENT_DEPTH = 64

/**
 * How many values (objects, arrays, strings, numbers, booleans, nulls) one event may hold; values (100,000). Bounds
 * the time any walk of an event takes (rendering, exporting, measuring); more: 422.
 */
export const MAX_EVENT_NODES = 100_000

/**
 * The most one event may weigh as JSON; bytes of UTF-8 (6 MiB). Chosen so that every event the text limits admit
 * fits: a `final` or an `error` carries at most EVENT_TEXT_MAX_CHARS + ERROR_MAX_CHARS characters, each at most 6
 * bytes of JSON (a control character escaped as \u001f; other text is 1-3 bytes a character), so a run's closing
 * event is never refused for its size. What it bounds in practice is the rest: tool inputs, results, agent states.
 * More: 413.
 */
export const MAX_EVENT_BYTES = 6 * 1024 * 1024

/**
 * The largest state an AG-UI agent may keep; bytes of UTF-8 JSON (1 MiB). The whole state is stored with every
 * change, so it is held well under MAX_EVENT_BYTES; a patch is measured after each of its operations and refused
 * (422) at the first that takes the state past it.
 */
export const MAX_AGENT_STATE_BYTES = 1024 * 1024

/** The most operations one AG-UI STATE_DELTA (an RFC 6902 JSON Patch) may hold; operations (1,000). More: 422. */
export const MAX_PATCH_OPERATIONS = 1_000

/**
 * How many text messages and tool calls an AG-UI run may have open at once (started, not ended); each (1,000). The
 * mapper keeps each open one by its id until it ends; one more is refused (422).
 */
export const MAX_AGUI_OPEN = 1_000

/**
 * What every byte budget (a chat's, the memory store's) keeps free for closing events; bytes (64 KiB). Every other
 * event must leave it free, so a run that started can always be closed: a final whose answer is longer than what is
 * left has its text cut to fit (src/log/byte-budget.ts).
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

/**
 * The most tool calls a model may ask for in one answer; calls (128). Each is kept until the answer ends, so a model
 * sending ever new call indexes grew memory without bound; past it the run ends with an `error`.
 */
export const MAX_TOOL_CALLS_PER_TURN = 128

/**
 * The most of a model server's or an agent's error answer that is read, to quote it in the run's `error`; bytes
 * (64 KiB). The clients read an error answer whole: one answering 500 with an endless body grew the server by GBs.
 */
export const UPSTREAM_ERROR_MAX_BYTES = 64 * 1024

/**
 * The most of a text an error sentence quotes — the URL a model server answered 404 for, what a JSON parser found
 * wrong with a line; characters (200). Longer is cut with `…`, so a sentence stays a sentence.
 */
export const QUOTED_MAX_CHARS = 200

/**
 * The most bytes one chunk of a transcript export's response carries (64 KiB): a long run is written a piece at a
 * time (a tool call, a result, a text), other requests run between pieces, and a piece is handed to the client in
 * chunks of at most this size.
 */
export const EXPORT_CHUNK_BYTES = 64 * 1024

/**
 * About the most bytes of events one `GET …/events` answers (4 MiB, as their JSON): a page ends before the event
 * that would pass it, or at `limit` events, whichever comes first; it always holds at least one event, so a client
 * paging with `after=` gets every event, however big.
 */
export const EVENTS_PAGE_BYTES = 4 * 1024 * 1024

/**
 * The longest finished answer a page renders as Markdown; characters (64 Ki). Longer (up to EVENT_TEXT_MAX_CHARS)
 * is shown as plain text: markdown-it took ~250 ms for a 1,000,000-character answer, on every view of the chat.
 */
export const RENDERED_MARKDOWN_MAX_CHARS = 64 * 1024

/** The longest language name shown above a code block; characters (24). It is the fence's first word, from a model. */
export const CODE_LANGUAGE_LABEL_MAX_CHARS = 24

/**
 * How long the page's highlighter may work on one code block; milliseconds (1,000). highlight.js's grammars are
 * regular expressions that some inputs drive quadratic or worse (under Bun, 60,000 "a"s as TypeScript took 26 s and
 * 1,000 "0"s as Java 0.6 s), so the page highlights in a worker and ends it past this time: the block stays plain, the
 * tab responsive. Never on the server: there it would stall every stream.
 */
export const HIGHLIGHT_BLOCK_MS = 1000

/**
 * The most events one batch of AG-UI events (a publish request's JSON array, an NDJSON line) may be mapped to; bytes of
 * JSON (8 MiB). Every STATE_DELTA that changes the state is stored as the whole state (up to MAX_AGENT_STATE_BYTES),
 * so a 34-byte delta can make a megabyte: a 1 MiB body of them would have made tens of gigabytes. A legitimate agent
 * sends state changes as they happen, a few per request, so 8 of the largest states (or one request's worth of text
 * many times over) fits; the rest of the mapping is counted as it goes, and at the limit the request is refused whole
 * (413), nothing stored. Per request: what a whole run may keep is the chat's byte budget.
 */
export const MAX_MAPPED_BATCH_BYTES = 8 * 1024 * 1024

/*
 * The log core (src/log/log-core.ts): what it keeps and batches, the same on every backend.
 */

/** The most entries one group commit hands the backend at once; entries (256). */
export const MAX_APPEND_BATCH = 256

/**
 * The most data one group commit hands the backend at once, however few its entries (one always goes); characters of
 * data (8 Mi). 256 events of 6 MiB would otherwise be one 1.5 GB transaction (or Redis script call).
 */
export const MAX_APPEND_BATCH_BYTES = 8 * 1024 * 1024

/**
 * What one Redis script call that goes through a log's entries (a trim, a compaction, a fork's copy) takes at most:
 * entries (512), and bytes (1 MiB, passed by the page that crosses it). A log may hold 64 MiB, and a script holds
 * Redis's one thread for as long as it runs; the backend calls again for the rest (src/log/backends/redis-backend.ts).
 */
export const REDIS_PAGE_ENTRIES = 512
export const REDIS_PAGE_BYTES = 1024 * 1024

/** Newest entries the core keeps in memory per log for live readers; entries (32). */
export const LOG_TAIL_ENTRIES = 32

/** Logs whose newest entries the core keeps, the least recently used dropped first; logs (4,096). */
export const LOG_TAIL_LOGS = 4096

/** What all kept newest entries may hold; characters of data (32 Mi). */
export const LOG_TAIL_CHARS = 32 * 1024 * 1024

/** An entry longer than this is never kept in memory (its readers go to the backend); characters (64 Ki). */
export const LOG_TAIL_ENTRY_CHARS = 64 * 1024

/**
 * How far a log's `activeAt` may lag behind its last append; milliseconds (60 s). Recording it on every append cost a
 * write per log per batch; retention measures idleness in hours and days, and closing entries always record it.
 */
export const ACTIVITY_RESOLUTION_MS = 60_000

/**
 * Producer marks one log entry may carry (src/log/log-backend.ts `AppendEntry.producers`): a stream's `Stream-Seq`
 * and its idempotent producer; marks (2).
 */
export const MAX_MARKS_PER_ENTRY = 2

/** Logs whose entry count and last touch the core remembers, the least recent forgotten (and asked again); logs (65,536). */
export const LOG_LEDGER_LOGS = 65_536

/**
 * Log states the SQLite backend keeps in memory (src/log/backends/sqlite-backend.ts); past it the cache is dropped and
 * refilled on demand, a primary-key lookup each; logs (100,000).
 */
export const SQLITE_CACHED_LOGS = 100_000

/**
 * Committed entries the SQLite backend's journal may hold before it merges them into `entries` early; past twice as
 * many, each commit also merges a chunk itself, which slows appends to what the merge can take; entries (50,000).
 */
export const SQLITE_JOURNAL_MERGE_AT = 50_000

/**
 * WAL pages past which the SQLite store's serving connection checkpoints by itself, inside the commit that crossed
 * them, because its checkpoint worker (src/log/backends/sqlite-checkpointer.ts) fell behind; pages of 4 KiB (10,000,
 * about 40 MB, five seconds of WAL at 10,000 events/s). Bounds the `-wal` file whatever the worker does.
 */
export const SQLITE_WAL_BACKSTOP_PAGES = 10_000

/**
 * Branches a chat records as versions of its messages (src/log/chat-versions.ts), kept in its meta; branches (100).
 * One more fork of those messages is refused with a 409 until one of them is deleted.
 */
export const MAX_BRANCHES_PER_CHAT = 100

/**
 * How far up a branch's origins the page looks for the versions of its messages; chats (32). Messages copied from
 * further up show no versions (the chats stay reachable from their own pages).
 */
export const MAX_BRANCH_DEPTH = 32

/**
 * The longest chat title, given by a rename or cut from the first message; characters (Unicode code points, 100). A
 * title is kept in the chat's meta and rendered in every list of chats, so it is bounded where it enters.
 */
export const TITLE_MAX_CHARS = 100

/**
 * The most a chat title may weigh; bytes of UTF-8 (300). Below four bytes a character, so that a title of emoji or
 * other four-byte characters is bounded by its bytes, not only its length.
 */
export const TITLE_MAX_BYTES = 300

/**
 * The most chats the page's list asks about in one request: the ids this browser owns, newest first (200). Older ones
 * stay in the browser and are listed once newer ones are deleted.
 */
export const LISTED_CHATS_MAX = 200

/**
 * What the chunks shared by the readers of a session at one cursor may hold, per stream format, all sessions together;
 * characters (16 Mi). Only the newest chunk of a session with two readers or more is kept (src/sse/shared-chunks.ts).
 */
export const SHARED_CHUNK_CHARS = 16 * 1024 * 1024
