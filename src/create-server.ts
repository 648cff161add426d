import { type App, createApp } from './app.ts'
import type { Notifier } from './bus/notifier.ts'
import { Auth, type TokenAuth } from './http/auth.ts'
import { ConnectionCount } from './http/connection-limit.ts'
import type { BucketRate } from './http/token-bucket.ts'
import { DEFAULT_MAX_MESSAGE_BYTES, MAX_BODY_BYTES, SERVER_MAX_BODY_BYTES } from './limits.ts'
import { createLogger, type Logger } from './log.ts'
import { Metrics } from './metrics.ts'
import type { RunCoordinator } from './runs/run-coordinator.ts'
import { Runner } from './runs/runner.ts'
import { echoStep } from './steps/echo-step.ts'
import { type StepFactory, StepRegistry } from './steps/step-registry.ts'
import { canPrune, canRecover, type EventStore } from './store/event-store.ts'
import { MemoryStore } from './store/memory-store.ts'
import { MemorySignIns } from './store/memory-sign-ins.ts'
import { keepsSignIns } from './store/sign-ins.ts'
import { type PruneSchedule, schedulePruning } from './store/prune-schedule.ts'
import { DEFAULT_RETENTION_POLICY, type RetentionPolicy } from './store/retention-policy.ts'

export interface CreateServerOptions {
  /** The steps sessions can run (`defineStep(…)` gives one); defaults to the echo step at 50 ms a character. */
  steps?: readonly StepFactory[]
  /** The step of sessions created without naming one; defaults to the first of `steps`. */
  defaultStep?: string
  /** Where events are kept; defaults to a MemoryStore. Pass `new SqliteStore(path)` to keep them across restarts. */
  store?: EventStore
  /** Structured logs; defaults to JSON lines at `info` on stderr. */
  log?: Logger
  /** Reported by /healthz; defaults to "embedded". */
  version?: string
  /** A quiet stream gets a `: ping` comment this often; milliseconds, default 15,000. */
  heartbeatMs?: number
  /** The reconnection delay announced to clients; milliseconds, default 1000. */
  retryMs?: number
  /** How long a cancelled step may take to return before its run is closed without it; milliseconds, default 2000. */
  cancelGraceMs?: number
  /** A publishing program silent this long has its run closed with an error; milliseconds, default 60,000. */
  publishTimeoutMs?: number
  /** What a pruning store forgets, and when; defaults to 30 days idle, 100,000 events a session. */
  retention?: Partial<RetentionPolicy>
  /** Wakes the streams when a session's log grows; the store's in-process default when absent. */
  notifier?: Notifier
  /** Who runs which session; this process's own map when absent. */
  coordinator?: RunCoordinator
  /** What `/metrics` reports; a fresh registry without process metrics when absent. Give it to the store too. */
  metrics?: Metrics
  /** The longest message accepted; bytes of UTF-8, default 32 KiB. */
  maxMessageBytes?: number
  /** SSE connections open at once, in all (default 10,000) and from one client address (default 100). */
  maxConnections?: number
  maxConnectionsPerIp?: number
  /** The token bucket per client address on new chats, messages and sign-ins; none when absent. */
  rateLimit?: BucketRate
  /** Take the client's address from `X-Forwarded-For` (only behind a proxy that sets it); default false. */
  trustProxy?: boolean
  /** Bearer tokens every route but /healthz requires; open to all when absent. */
  auth?: TokenAuth
  /** How long a browser sign-in (/login) lasts; milliseconds, default 7 days. Kept in the store, so instances share it. */
  signInTtlMs?: number
}

export interface StepstreamServer {
  /** The whole HTTP app, an Elysia instance: `listen()` it, or mount it in your own app with `.use(server.app)`. */
  readonly app: App
  /** The store the server writes (the one given, or the MemoryStore it made). */
  readonly store: EventStore
  /**
   * Listens on `port` (default 8080; 0 picks a free one) of `hostname` (default 0.0.0.0); resolves with the URL.
   * `reusePort` (default false) lets several processes share the port, for `--workers`.
   */
  listen(options?: { port?: number; hostname?: string; reusePort?: boolean }): string
  /**
   * Shuts down in order: new work is refused (503 + Retry-After) while the runs are interrupted (within the cancel
   * grace, whatever the steps do); then the streams end with a spread-out `retry:`, the server stops listening
   * (if it listened), and the store is flushed and closed. Safe to call twice.
   */
  stop(): Promise<void>
}

/** How long ending streams get to write their last frame before the server closes every connection; milliseconds. */
const STREAMS_END_MS = 1000

/**
 * Builds a stepstream server around your steps and store: recovers the runs a crash left open (for a store that
 * can), schedules retention (for a store that prunes), and returns the app without listening.
 */
export async function createServer(options: CreateServerOptions = {}): Promise<StepstreamServer> {
  const log = options.log ?? createLogger('info')
  const steps = new StepRegistry(options.steps ?? [echoStep(50)], options.defaultStep)
  const metrics = options.metrics ?? new Metrics()
  const retention = { ...DEFAULT_RETENTION_POLICY, ...options.retention }
  const store =
    options.store ?? new MemoryStore({ notifier: options.notifier, metrics, maxEventsPerSession: retention.maxEventsPerSession })
  if (canRecover(store)) {
    // Before serving: a run this process starts must never look like one a crash left open.
    const recovered = await store.recoverOpenRuns().catch((error) => {
      log.error('could not close the runs a crash left open; they will be closed at the next start', { error: String(error) })
      return []
    })
    if (recovered.length > 0) log.info('closed runs left open by a crash', { runs: recovered.length })
  }
  const runner = new Runner({ store, steps, log, coordinator: options.coordinator, cancelGraceMs: options.cancelGraceMs, metrics })
  const streamsEnd = new AbortController()
  const connections = new ConnectionCount({ max: options.maxConnections, maxPerIp: options.maxConnectionsPerIp })
  const app = await createApp({
    store,
    runner,
    steps,
    log,
    version: options.version ?? 'embedded',
    connections,
    shutdown: streamsEnd.signal,
    heartbeatMs: options.heartbeatMs ?? 15_000,
    retryMs: options.retryMs ?? 1000,
    maxBodyBytes: MAX_BODY_BYTES,
    publishTimeoutMs: options.publishTimeoutMs ?? 60_000,
    maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    metrics,
    rateLimit: options.rateLimit,
    trustProxy: options.trustProxy ?? false,
    // Sign-ins live in the store, so that instances sharing it share them; a store without them keeps them here.
    auth:
      options.auth &&
      new Auth(options.auth, { signIns: keepsSignIns(store) ? store.signIns : new MemorySignIns(), ttlMs: options.signInTtlMs }),
  })
  const pruning: PruneSchedule | undefined = canPrune(store) ? schedulePruning(store, retention, log) : undefined

  let stopped: Promise<void> | undefined
  const stop = async () => {
    await runner.shutdown()
    streamsEnd.abort()
    // Let the streams write their closing `retry:` and end cleanly before the sockets are closed under them.
    const deadline = Date.now() + STREAMS_END_MS
    while (connections.open > 0 && Date.now() < deadline) await Bun.sleep(10)
    await app.server?.stop(true)
    await pruning?.stop()
    await store.close()
  }
  return {
    app,
    store,
    listen: ({ port = 8080, hostname = '0.0.0.0', reusePort = false } = {}) => {
      // Elysia asks Bun for SO_REUSEPORT, which would let a second instance share the port silently: only workers
      // started together by `--workers` (on a shared Redis) ask for it. Bun's own body
      // limit sits far above the app's, so a client always meets the app's 413 with its sentence (limits.ts).
      app.listen({ port, hostname, maxRequestBodySize: SERVER_MAX_BODY_BYTES, reusePort })
      return `http://${hostname === '0.0.0.0' ? 'localhost' : hostname}:${app.server!.port}`
    },
    stop: () => (stopped ??= stop()),
  }
}
