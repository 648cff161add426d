import type { EventStore, SessionRecord } from '../store/event-store.ts'
import type { Runner } from '../runs/runner.ts'
import type { Logger } from '../log.ts'
import { badSessionId, sessionNotFound } from '../errors.ts'
import { isWellFormedId } from '../session-id.ts'

/** Open SSE connections, counted for /metrics and for the test that a closed tab is released at once. */
export class ConnectionCount {
  open = 0
}

/** Everything the HTTP layer needs; `createApp` takes it whole so tests can pass fakes. */
export interface AppDeps {
  store: EventStore
  runner: Runner
  log: Logger
  version: string
  connections: ConnectionCount
  /** Aborted on SIGTERM/SIGINT: every stream ends with a `retry:` so browsers come back to the next instance. */
  shutdown: AbortSignal
  /** Keep-alive comment interval on quiet streams; milliseconds. */
  heartbeatMs: number
  /** Reconnection delay announced to clients; milliseconds, default 1000. */
  retryMs: number
  /** Largest request body accepted; bytes, default 1 MiB. */
  maxBodyBytes: number
}

/** Resolves a session id from a URL or form: malformed → 400, unknown → 404, both with a sentence. */
export async function requireSession(store: EventStore, id: unknown): Promise<SessionRecord> {
  if (!isWellFormedId(id)) throw badSessionId()
  const session = await store.getSession(id)
  if (!session) throw sessionNotFound()
  return session
}
