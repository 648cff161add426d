import { badSessionId, readOnly, sessionNotFound, shuttingDown, viewerNotFound } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { Metrics } from '../metrics.ts'
import type { Publishing } from '../publish/publishing.ts'
import type { Runner } from '../runs/runner.ts'
import { isWellFormedId, newId } from '../session-id.ts'
import type { StepRegistry } from '../steps/step-registry.ts'
import type { EventStore, SessionRecord } from '../log/event-store.ts'
import type { StreamService } from '../streams/stream-service.ts'
import type { Auth } from './auth.ts'
import type { ConnectionCount } from './connection-limit.ts'
import type { BucketRate } from './token-bucket.ts'

/** Everything the HTTP layer needs, built by createServer (the one place) from its options and defaults. */
export interface AppDeps {
  store: EventStore
  runner: Runner
  /** The steps sessions can be created with; its default is `--step`. */
  steps: StepRegistry
  log: Logger
  version: string
  connections: ConnectionCount
  /**
   * Aborted on shutdown once the runs are closed: every stream ends with a `retry:` so browsers come back to the
   * next instance. (New work is refused from the first signal on: see Runner.shutdown.)
   */
  shutdown: AbortSignal
  /** Keep-alive comment interval on quiet streams; milliseconds (`--heartbeat`). */
  heartbeatMs: number
  /** Reconnection delay announced to clients; milliseconds. */
  retryMs: number
  /** The runs programs publish over HTTP, one per server; a silent one is closed after `--publish-timeout`. */
  publishing: Publishing
  /** Largest request body accepted; bytes. */
  maxBodyBytes: number
  /** Longest message accepted; bytes of UTF-8 (`--max-message-bytes`). */
  maxMessageBytes: number
  metrics: Metrics
  /**
   * The token bucket per client address on new chats and messages; none when undefined. Sign-in attempts and wrong
   * credentials take from a second bucket of the same rate.
   */
  rateLimit: BucketRate | undefined
  /** Read the client's address from `X-Forwarded-For`. */
  trustProxy: boolean
  /** Bearer tokens and browser sign-ins; every route is open when undefined. */
  auth: Auth | undefined
  /** The Durable Streams at `/v1/stream/*`, kept in the store's log core; undefined for a store without one. */
  streams: StreamService | undefined
  /**
   * The chats as read-only Durable Streams at `/v1/stream/sessions/<id>` and `/v1/stream/view/<viewer_id>`, over the
   * same log core (src/streams/chat-stream-log.ts); undefined for a store without one.
   */
  chatStreams: StreamService | undefined
}

/**
 * Resolves an owner id from a URL or form, for every route that writes or shows the owner's view: malformed → 400,
 * a viewer id → 403 (whatever the route, a read-only link never gains a write), unknown → 404; each with a sentence.
 */
export async function requireSession(store: EventStore, id: unknown): Promise<SessionRecord> {
  if (!isWellFormedId(id)) throw badSessionId()
  const session = await store.getSession(id)
  if (session) return session
  if (await store.getSessionByViewer(id)) throw readOnly()
  throw sessionNotFound()
}

/**
 * Resolves a viewer id, for the read-only routes: malformed → 400, unknown → 404. An owner id is unknown here: the
 * viewer routes answer what a viewer may see, and a caller holding the owner id has the owner's routes. The record
 * holds the owner id for reading the log: a viewer route must never send it.
 */
export async function requireViewer(store: EventStore, viewerId: unknown): Promise<SessionRecord> {
  if (!isWellFormedId(viewerId)) throw badSessionId()
  const session = await store.getSessionByViewer(viewerId)
  if (!session) throw viewerNotFound()
  return session
}

/**
 * Creates a session that runs `stepName` (the server's default step when absent): 422 for a step this server does
 * not have, 503 while the server shuts down.
 */
export async function createSession(deps: AppDeps, stepName?: string, options?: Record<string, unknown>): Promise<SessionRecord> {
  if (deps.runner.draining) throw shuttingDown()
  return deps.store.createSession(newId(), deps.steps.spec(stepName, options))
}
