/**
 * Every default of the server, each written once. Config parsing applies them and `--help` prints them (config.ts
 * and each step's `*-config.ts`), createServer fills what an embedder leaves out from them, and a part's constructor
 * that falls back to one imports it from here: none restates the number. The byte limits a page and the event gate
 * read too stay in limits.ts, re-exported here so that this table holds every default.
 */
import type { BucketRate } from './http/token-bucket.ts'
import type { LogLevel } from './log.ts'

export { DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_MAX_SESSION_BYTES, DEFAULT_MAX_STORE_BYTES } from './limits.ts'

const MINUTE = 60 * 1000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

/** The TCP port the binary listens on (8080). */
export const DEFAULT_PORT = 8080

/** The interface the binary listens on: every one (0.0.0.0). */
export const DEFAULT_HOST = '0.0.0.0'

/**
 * Where the binary keeps events: a SQLite file in its working directory (`./stepstream.db`). An embedder's
 * `createServer()` without a store gets a MemoryStore instead: a library that writes a file nobody asked for, in
 * whatever directory its host runs in, would surprise more than it helps.
 */
export const DEFAULT_SQLITE_PATH = './stepstream.db'

/** The step of chats created without naming one (`echo`). */
export const DEFAULT_STEP = 'echo'

/** Processes serving one port (1: the process serves alone). */
export const DEFAULT_WORKERS = 1

/** The least severe log line written (`info`). */
export const DEFAULT_LOG_LEVEL: LogLevel = 'info'

/** How long a cancelled step may take to return before the runner closes its run without it; milliseconds (2000). */
export const DEFAULT_CANCEL_GRACE_MS = 2000

/** How long a publishing program may stay silent before its run is closed with an error; milliseconds (60,000). */
export const DEFAULT_PUBLISH_TIMEOUT_MS = 60_000

/**
 * How long a Durable Streams long-poll waits for data before answering 204 (`--long-poll-ms`); milliseconds (20,000:
 * under the 30 s most proxies allow an idle request; the conformance runs set 3,000).
 */
export const DEFAULT_LONG_POLL_MS = 20_000

/** How long a stream may stay quiet before it gets a `: ping` comment; milliseconds (15,000). */
export const DEFAULT_HEARTBEAT_MS = 15_000

/** The reconnection delay a stream announces to its client (`retry:`); milliseconds (1000). */
export const DEFAULT_RETRY_MS = 1000

/** The pause between two characters of the echo step; milliseconds (50). */
export const DEFAULT_ECHO_DELAY_MS = 50

/** The memory store's chats held at once; chats (10,000). */
export const DEFAULT_MAX_SESSIONS = 10_000

/** The memory store's events held across all chats; events (1,000,000). */
export const DEFAULT_MAX_EVENTS = 1_000_000

/** Events kept per chat, the oldest deleted first, in every store; events (100,000). */
export const DEFAULT_MAX_EVENTS_PER_SESSION = 100_000

/** How long a chat may stay idle before it is deleted with its events; milliseconds (30 days). */
export const DEFAULT_RETENTION_MS = 30 * DAY

/**
 * How long a chat stays quiet before the `partial` events of its finished runs are compacted away; milliseconds
 * (1 hour): a reader still streaming the run finishes it before its cursor could land in a compacted range.
 */
export const DEFAULT_COMPACT_AFTER_MS = HOUR

/** How long a run holds its chat on a shared Redis without renewing its lease; milliseconds (10,000). */
export const DEFAULT_RUN_LEASE_MS = 10_000

/** SSE connections open at once in all; connections (10,000). */
export const DEFAULT_MAX_CONNECTIONS = 10_000

/** SSE connections open at once from one client address; connections (100). */
export const DEFAULT_MAX_CONNECTIONS_PER_IP = 100

/**
 * The token bucket per client address on new chats, messages and sign-ins: a burst of 30, refilled at one every
 * 2000 milliseconds (`30/m`). Applied by the binary and by createServer alike; `rateLimit: false` turns it off.
 */
export const DEFAULT_RATE_LIMIT: Readonly<BucketRate> = { capacity: 30, perMs: 2000 }

/** How long a browser sign-in lasts before /login asks again; milliseconds (7 days). */
export const DEFAULT_SIGN_IN_TTL_MS = 7 * DAY

/** The openai step's server, up to `/v1` (https://api.openai.com/v1). */
export const DEFAULT_OPENAI_BASE_URL = 'https://api.openai.com/v1'

/** The system message the openai step's conversations start with, and that `/start` runs with (the tutorial's). */
export const SYSTEM_PROMPT = 'You are a helpful assistant.'

/** Rounds of tool calls an openai run may make before it ends with an error; rounds (8). */
export const DEFAULT_MAX_TOOL_ROUNDS = 8

/** How long a model server or an agent may send no byte before the run ends with an error; milliseconds (120,000). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 120_000
