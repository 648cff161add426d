import { badSessionId, sessionNotFound, shuttingDown } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { Runner } from '../runs/runner.ts'
import { isWellFormedId, newId } from '../session-id.ts'
import type { StepRegistry } from '../steps/step-registry.ts'
import type { EventStore, SessionRecord } from '../store/event-store.ts'

/** Open SSE connections, counted for /metrics and for the test that a closed tab is released at once. */
export class ConnectionCount {
  open = 0
}

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
  /** A publishing program silent this long has its run closed with an error; milliseconds (`--publish-timeout`). */
  publishTimeoutMs: number
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

/**
 * Creates a session that runs `stepName` (the server's default step when absent): 422 for a step this server does
 * not have, 503 while the server shuts down.
 */
export async function createSession(deps: AppDeps, stepName?: string): Promise<SessionRecord> {
  if (deps.runner.draining) throw shuttingDown()
  return deps.store.createSession(newId(), deps.steps.spec(stepName))
}
