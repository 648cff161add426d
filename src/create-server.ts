import { type App, createApp } from './app.ts'
import type { Notifier } from './bus/notifier.ts'
import {
  DEFAULT_ECHO_DELAY_MS,
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_HOST,
  DEFAULT_LONG_POLL_MS,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_PORT,
  DEFAULT_PUBLISH_TIMEOUT_MS,
  DEFAULT_RATE_LIMIT,
  DEFAULT_RETRY_MS,
} from './defaults.ts'
import { authTokens } from './flags.ts'
import { Auth, type SignInOptions, TokenAuth } from './http/auth.ts'
import { type ConnectionLimits, ConnectionCount } from './http/connection-limit.ts'
import type { AppDeps } from './http/deps.ts'
import type { BucketRate } from './http/token-bucket.ts'
import { MAX_BODY_BYTES, SERVER_MAX_BODY_BYTES } from './limits.ts'
import { createLogger, type Logger } from './log.ts'
import { Metrics } from './metrics.ts'
import { type OpenStoreOptions, openStore, StartError, type StoreLimits } from './open-store.ts'
import { Publishing } from './publish/publishing.ts'
import { Runner, type RunnerOptions } from './runs/runner.ts'
import { echoStep } from './steps/echo-step.ts'
import { type StepFactory, StepRegistry } from './steps/step-registry.ts'
import { canPrune, canRecover, type EventStore } from './log/event-store.ts'
import { MemorySignIns } from './store/memory-sign-ins.ts'
import { keepsSignIns } from './store/sign-ins.ts'
import { type PruneSchedule, schedulePruning } from './store/prune-schedule.ts'
import { DEFAULT_RETENTION_POLICY, type RetentionPolicy } from './log/retention-policy.ts'
import type { StoreSpec } from './store-spec.ts'
import { ChatStreamLog } from './streams/chat-stream-log.ts'
import { CoreStreamLog, logCoreOf } from './streams/stream-log.ts'
import { StreamService } from './streams/stream-service.ts'

export { StartError, type StoreLimits } from './open-store.ts'
export type { StoreSpec } from './store-spec.ts'

/** Who may in: bearer tokens (programs) and the browser sign-ins they open. */
export interface AuthOptions extends Omit<SignInOptions, 'signIns'> {
  /** Tokens that open every route but /healthz; auth is on when there is one, here or in `tokenFile`. */
  tokens?: readonly string[]
  /** A file of more tokens, one a line (`#` comments), read when the server is built. */
  tokenFile?: string
}

/**
 * Everything a stepstream server is built from, each part's own options composed: the binary fills it from its
 * flags (config.ts), an embedder and the tests from code. Whatever is left out takes its default from defaults.ts.
 */
export interface ServerOptions extends Pick<RunnerOptions, 'cancelGraceMs' | 'coordinator'> {
  /** The steps sessions can run (`defineStep(…)` gives one); default the echo step at DEFAULT_ECHO_DELAY_MS. */
  steps?: readonly StepFactory[]
  /** The step of sessions created without naming one; default the first of `steps`. */
  defaultStep?: string
  /**
   * Where events are kept: a store (`new SqliteStore(path)`), or which one to open (`{ kind: 'sqlite', path }`,
   * `{ kind: 'memory' }`, `{ kind: 'redis', url }`); default a MemoryStore (the binary's is SQLite: see defaults.ts).
   */
  store?: EventStore | StoreSpec
  /** The bounds of a store opened from a spec; each defaults to its defaults.ts value. */
  storeLimits?: StoreLimits
  /** A Redis store's run lease and key prefix, when `store` is a `redis` spec. */
  redis?: OpenStoreOptions['redis']
  /** What a pruning store forgets, and when; default DEFAULT_RETENTION_POLICY (30 days idle, 100,000 events a chat). */
  retention?: Partial<RetentionPolicy>
  /** SSE connections open at once, in all and from one client address; defaults 10,000 and 100. */
  connections?: ConnectionLimits
  /** Bearer tokens and sign-ins; every route is open when absent or without a token. */
  auth?: AuthOptions
  /** A quiet stream gets a `: ping` comment this often; milliseconds, default DEFAULT_HEARTBEAT_MS (15,000). */
  heartbeatMs?: number
  /** The reconnection delay announced to clients; milliseconds, default DEFAULT_RETRY_MS (1000). */
  retryMs?: number
  /** A publishing program silent this long has its run closed with an error; milliseconds, default 60,000. */
  publishTimeoutMs?: number
  /** The longest message accepted; bytes of UTF-8, default DEFAULT_MAX_MESSAGE_BYTES (32 KiB). */
  maxMessageBytes?: number
  /** The largest request body accepted; bytes, default MAX_BODY_BYTES (1 MiB, limits.ts). */
  maxBodyBytes?: number
  /** The token bucket per client address on new chats, messages and sign-ins; default DEFAULT_RATE_LIMIT (30/m), `false` for none. */
  rateLimit?: BucketRate | false
  /** Take the client's address from `X-Forwarded-For` (only behind a proxy that sets it); default false. */
  trustProxy?: boolean
  /** Structured logs; default JSON lines at `info` on stderr. */
  log?: Logger
  /** Reported by /healthz; default "embedded". */
  version?: string
  /** What `/metrics` reports; default a fresh registry without process metrics. The caller closes the one it gives. */
  metrics?: Metrics
  /** Wakes the streams when a session's log grows; the store's own when absent. */
  notifier?: Notifier
  /** How long a Durable Streams long-poll waits for data before its 204; milliseconds, default DEFAULT_LONG_POLL_MS (20,000). */
  longPollMs?: number
}

export interface StepstreamServer {
  /** The whole HTTP app, an Elysia instance: `listen()` it, or mount it in your own app with `.use(server.app)`. */
  readonly app: App
  /** The store the server writes (the one given, or the one it opened). */
  readonly store: EventStore
  /** The parts the app was built from (runner, connections, metrics…), for tests and diagnostics. */
  readonly deps: AppDeps
  /**
   * Listens on `port` (default 8080; 0 picks a free one) of `hostname` (default 0.0.0.0); returns the URL.
   * `reusePort` (default false) lets several processes share the port, for `--workers`.
   */
  listen(options?: ListenOptions): string
  /**
   * Shuts down in order: new work is refused (503 + Retry-After) while the runs are interrupted (within the cancel
   * grace, whatever the steps do); then the streams end with a spread-out `retry:`, the server stops listening
   * (if it listened), and the store is flushed and closed. Safe to call twice.
   */
  stop(): Promise<void>
}

export interface ListenOptions {
  /** TCP port; default DEFAULT_PORT (8080), 0 picks a free one. */
  port?: number
  /** Interface; default DEFAULT_HOST (0.0.0.0). */
  hostname?: string
  /** Let several processes share the port (SO_REUSEPORT), for `--workers`; default false. */
  reusePort?: boolean
}

/** How long ending streams get to write their last frame before the server closes every connection; milliseconds. */
const STREAMS_END_MS = 1000

/**
 * Builds a stepstream server, the one place it is built (the binary, embedders and the tests all call it): checks
 * the steps, reads the token file, opens the store, recovers the runs a crash left open (for a store that can),
 * schedules retention (for a store that prunes), and returns the app without listening. A wrong step throws its
 * AppError (`UNKNOWN_STEP`, `STEP_UNAVAILABLE`) before anything is opened; a store or token file that cannot be
 * read throws a StartError.
 */
export async function createServer(options: ServerOptions = {}): Promise<StepstreamServer> {
  const log = options.log ?? createLogger('info')
  const steps = new StepRegistry(options.steps ?? [echoStep(DEFAULT_ECHO_DELAY_MS)], options.defaultStep)
  const tokens = await readTokens(options.auth)
  const metrics = options.metrics ?? new Metrics()
  const retention = { ...DEFAULT_RETENTION_POLICY, ...options.retention }
  const given = options.store
  const opened =
    given !== undefined && !('kind' in given)
      ? { store: given, notifier: options.notifier, coordinator: options.coordinator }
      : await openStore(given ?? { kind: 'memory' }, {
          storeLimits: { maxEventsPerSession: retention.maxEventsPerSession, ...options.storeLimits },
          redis: options.redis ?? {},
          notifier: options.notifier,
          coordinator: options.coordinator,
          metrics,
          log,
        })
  const { store } = opened
  try {
    await recoverOpenRuns(store, log)
    const runner = new Runner({ store, steps, log, coordinator: opened.coordinator, cancelGraceMs: options.cancelGraceMs, metrics })
    const streamsEnd = new AbortController()
    const deps: AppDeps = {
      store,
      runner,
      steps,
      log,
      version: options.version ?? 'embedded',
      connections: new ConnectionCount(options.connections),
      shutdown: streamsEnd.signal,
      heartbeatMs: options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS,
      retryMs: options.retryMs ?? DEFAULT_RETRY_MS,
      maxBodyBytes: options.maxBodyBytes ?? MAX_BODY_BYTES,
      publishing: new Publishing({ store, runner, timeoutMs: options.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS }),
      maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      metrics,
      rateLimit: options.rateLimit === false ? undefined : (options.rateLimit ?? DEFAULT_RATE_LIMIT),
      trustProxy: options.trustProxy ?? false,
      auth: tokens.length > 0 ? tokenAuth(tokens, store, options.auth) : undefined,
      ...streamServices(store, options.longPollMs ?? DEFAULT_LONG_POLL_MS),
    }
    const app = await createApp(deps)
    const pruning: PruneSchedule | undefined = canPrune(store) ? schedulePruning(store, retention, log) : undefined
    return serverOf(app, deps, streamsEnd, pruning)
  } catch (error) {
    // A store this call opened is this call's to close; one the caller gave stays the caller's.
    if (store !== given) await store.close()
    throw error
  }
}

/**
 * The Durable Streams over the store's log core (every store createServer opens has one), and its chats read as
 * streams; none for a store without.
 */
function streamServices(store: EventStore, longPollMs: number): Pick<AppDeps, 'streams' | 'chatStreams'> {
  const core = logCoreOf(store)
  return {
    streams: core && new StreamService(new CoreStreamLog(core), { longPollMs }),
    chatStreams: core && new StreamService(new ChatStreamLog(store, core), { longPollMs }),
  }
}

/** Closes the runs a crash left open, before serving: a run this process starts must never look like one of them. */
async function recoverOpenRuns(store: EventStore, log: Logger): Promise<void> {
  if (!canRecover(store)) return
  const recovered = await store.recoverOpenRuns().catch((error) => {
    log.error('could not close the runs a crash left open; they will be closed at the next start', { error: String(error) })
    return []
  })
  if (recovered.length > 0) log.info('closed runs left open by a crash', { runs: recovered.length })
}

/** Sign-ins live in the store, so that instances sharing it share them; a store without them keeps them here. */
function tokenAuth(tokens: readonly string[], store: EventStore, options: AuthOptions = {}): Auth {
  const signIns = keepsSignIns(store) ? store.signIns : new MemorySignIns()
  return new Auth(new TokenAuth(tokens), { signIns, ttlMs: options.ttlMs, now: options.now, viewerLinks: options.viewerLinks })
}

function serverOf(app: App, deps: AppDeps, streamsEnd: AbortController, pruning: PruneSchedule | undefined): StepstreamServer {
  let stopped: Promise<void> | undefined
  const stop = async () => {
    await deps.runner.shutdown()
    streamsEnd.abort()
    // Let the streams write their closing `retry:` and end cleanly before the sockets are closed under them.
    const deadline = Date.now() + STREAMS_END_MS
    while (deps.connections.open > 0 && Date.now() < deadline) await Bun.sleep(10)
    await app.server?.stop(true)
    await pruning?.stop()
    await deps.store.close()
  }
  return {
    app,
    store: deps.store,
    deps,
    listen: ({ port = DEFAULT_PORT, hostname = DEFAULT_HOST, reusePort = false } = {}) => {
      // Elysia asks Bun for SO_REUSEPORT, which would let a second instance share the port silently: only workers
      // started together by `--workers` (on a shared Redis) ask for it. Bun's own body
      // limit sits far above the app's, so a client always meets the app's 413 with its sentence (limits.ts).
      app.listen({ port, hostname, maxRequestBodySize: SERVER_MAX_BODY_BYTES, reusePort })
      return `http://${hostname === '0.0.0.0' ? 'localhost' : hostname}:${app.server!.port}`
    },
    stop: () => (stopped ??= stop()),
  }
}

/** The tokens given and those of the token file together; auth is off when there are none. */
async function readTokens(auth: AuthOptions | undefined): Promise<string[]> {
  const tokens = [...(auth?.tokens ?? [])]
  if (auth?.tokenFile === undefined) return tokens
  try {
    const fromFile = authTokens(await Bun.file(auth.tokenFile).text())
    if (fromFile.length === 0) throw new Error('it holds no token')
    return [...tokens, ...fromFile]
  } catch (error) {
    throw new StartError(`--auth-token-file ${auth.tokenFile}: ${error instanceof Error ? error.message : String(error)}`)
  }
}
