import { badSessionId, sessionNotFound, shuttingDown } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { Metrics } from '../metrics.ts'
import type { Runner } from '../runs/runner.ts'
import { isWellFormedId, newId } from '../session-id.ts'
import type { StepRegistry } from '../steps/step-registry.ts'
import type { EventStore, SessionRecord } from '../store/event-store.ts'
import type { TokenAuth } from './auth.ts'
import type { ConnectionCount } from './connection-limit.ts'
import type { BucketRate } from './token-bucket.ts'

/** Everything the HTTP layer needs; `createApp` takes it whole so tests can pass fakes. */
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
  /** Keep-alive comment interval on quiet streams; milliseconds. */
  heartbeatMs: number
  /** Reconnection delay announced to clients; milliseconds (main uses 1000). */
  retryMs: number
  /** Largest request body accepted; bytes, default 1 MiB. */
  maxBodyBytes: number
  /** Longest message accepted; bytes of UTF-8, default 32 KiB. */
  maxMessageBytes: number
  metrics: Metrics
  /** The token bucket per client address on new chats, messages and sign-ins; none when undefined. */
  rateLimit: BucketRate | undefined
  /** Read the client's address from `X-Forwarded-For`. */
  trustProxy: boolean
  /** Bearer tokens and the sign-in cookie; every route is open when undefined. */
  auth: TokenAuth | undefined
}

/** Resolves a session id from a URL or form: malformed → 400, unknown → 404, both with a sentence. */
export async function requireSession(store: EventStore, id: unknown): Promise<SessionRecord> {
  if (!isWellFormedId(id)) throw badSessionId()
  const session = await store.getSession(id)
  if (!session) throw sessionNotFound()
  return session
}

/**
 * Creates a session that runs `stepName` (the server's default step when absent): 422 for a step this server does
 * not have, 503 while the server shuts down.
 */
export async function createSession(deps: AppDeps, stepName?: string): Promise<SessionRecord> {
  if (deps.runner.draining) throw shuttingDown()
  return deps.store.createSession(newId(), deps.steps.spec(stepName))
}
