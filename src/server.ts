import { authTokens, redacted } from './config.ts'
import { openRedis } from './redis/redis-open.ts'
import { TokenAuth } from './http/auth.ts'
import { Metrics } from './metrics.ts'
import type { Notifier } from './bus/notifier.ts'
import type { Config } from './config.ts'
import { createServer, type StepstreamServer } from './create-server.ts'
import { AppError } from './errors.ts'
import type { Logger } from './log.ts'
import type { RunCoordinator } from './runs/run-coordinator.ts'
import { type StepFactory, StepRegistry } from './steps/step-registry.ts'
import type { EventStore } from './store/event-store.ts'
import { MemoryStore } from './store/memory-store.ts'
import { storeFiles } from './store/sqlite-files.ts'
import { SqliteStore } from './store/sqlite-store.ts'

/** Why the server could not start: main prints the sentence and exits with code 2. */
export class StartError extends Error {}

export interface ServerOptions {
  config: Config
  /** The steps sessions can run; `config.step` must be one of them. */
  steps: readonly StepFactory[]
  log: Logger
  version: string
  /** Wakes the streams when a session's log grows; the store's in-process default when absent. */
  notifier?: Notifier
  /** Who runs which session; this process's own map when absent. */
  coordinator?: RunCoordinator
}

export interface RunningServer {
  /** The address it listens on, such as http://127.0.0.1:8080. */
  url: string
  /**
   * Shuts down in order: refuse new work (503 + Retry-After) while the runs are interrupted (within the cancel
   * grace, whatever the steps do), then end the streams with a spread-out `retry:`, stop listening, and flush and
   * close the store. Safe to call twice.
   */
  stop(): Promise<void>
}

/** Time past the cancel grace for the streams to end and the store to flush and close; milliseconds. */
export const SHUTDOWN_MARGIN_MS = 3000

interface OpenedStore {
  store: EventStore
  notifier?: Notifier
  coordinator?: RunCoordinator
}

async function openStore(
  config: Config,
  injected: { notifier?: Notifier; coordinator?: RunCoordinator; log: Logger },
  metrics: Metrics,
): Promise<OpenedStore> {
  const { notifier, coordinator, log } = injected
  if (config.store.kind === 'redis') {
    try {
      const redis = await openRedis(config.store.url, { leaseMs: config.runLeaseMs, log, metrics, maxSessionBytes: config.maxSessionBytes })
      return { store: redis.store, notifier: notifier ?? redis.notifier, coordinator: coordinator ?? redis.coordinator }
    } catch (error) {
      throw new StartError(`cannot reach the Redis store at ${redacted(config.store.url)}: ${messageOf(error)}`)
    }
  }
  return { store: openLocalStore(config, notifier, metrics, log), notifier, coordinator }
}

function openLocalStore(config: Config, notifier: Notifier | undefined, metrics: Metrics, log: Logger): EventStore {
  if (config.store.kind === 'memory') {
    const { maxEventsPerSession, maxSessions, maxEvents, maxSessionBytes, maxStoreBytes } = config
    return new MemoryStore({ maxEventsPerSession, maxSessions, maxEvents, maxSessionBytes, maxStoreBytes, notifier, metrics })
  }
  const path = config.store.kind === 'sqlite' ? config.store.path : ''
  try {
    const onFailure = (reason: string) => log.warn('the checkpoint worker failed; the serving thread checkpoints again', { reason })
    return new SqliteStore(path, { notifier, metrics, checkpointer: { onFailure }, maxSessionBytes: config.maxSessionBytes })
  } catch (error) {
    throw new StartError(`cannot open the SQLite store at ${path}: ${messageOf(error)}`)
  }
}

/** The tokens of `--auth-token` and `--auth-token-file` together; auth is off when there are none. */
async function readAuth(config: Config): Promise<TokenAuth | undefined> {
  let tokens = config.authTokens
  if (config.authTokenFile !== undefined) {
    try {
      const fromFile = authTokens(await Bun.file(config.authTokenFile).text())
      if (fromFile.length === 0) throw new Error('it holds no token')
      tokens = [...tokens, ...fromFile]
    } catch (error) {
      throw new StartError(`--auth-token-file ${config.authTokenFile}: ${error instanceof Error ? error.message : String(error)}`)
    }
  }
  return tokens.length > 0 ? new TokenAuth(tokens) : undefined
}

/** Opens the store, recovers what a crash left, and listens. Throws StartError with a one-line reason. */
export async function startServer({ config, steps, log, version, notifier, coordinator }: ServerOptions): Promise<RunningServer> {
  // The flags first: a wrong --step should say so, not that the database is in use by the server already running.
  try {
    new StepRegistry(steps, config.step)
  } catch (error) {
    throw new StartError(`--step: ${messageOf(error)}`)
  }
  const auth = await readAuth(config)
  const metrics = new Metrics({ processMetrics: true, eventLoopLag: true })
  const opened = await openStore(config, { notifier, coordinator, log }, metrics)
  const { store } = opened
  let server: StepstreamServer
  try {
    server = await createServer({
      steps,
      defaultStep: config.step,
      store,
      log,
      version,
      heartbeatMs: config.heartbeatMs,
      cancelGraceMs: config.cancelGraceMs,
      publishTimeoutMs: config.publishTimeoutMs,
      metrics,
      maxMessageBytes: config.maxMessageBytes,
      maxConnections: config.maxConnections,
      maxConnectionsPerIp: config.maxConnectionsPerIp,
      rateLimit: config.rateLimit,
      trustProxy: config.trustProxy,
      auth,
      signInTtlMs: config.loginTtlMs,
      retention: { idleMs: config.retentionMs, maxEventsPerSession: config.maxEventsPerSession },
      notifier: opened.notifier,
      coordinator: opened.coordinator,
    })
  } catch (error) {
    await store.close()
    metrics.close()
    throw new StartError(
      error instanceof AppError && (error.code === 'UNKNOWN_STEP' || error.code === 'STEP_UNAVAILABLE')
        ? `--step: ${error.message}`
        : messageOf(error),
    )
  }
  let url: string
  try {
    // Worker processes share one port: the kernel spreads connections among them (SO_REUSEPORT).
    url = server.listen({ port: config.port, hostname: config.host, reusePort: config.workers > 1 })
  } catch (error) {
    await server.stop()
    metrics.close()
    throw new StartError(`cannot listen on ${config.host}:${config.port}: ${messageOf(error)}`)
  }
  // The absolute path of the database: "where does my data go" is answered by the first line the server logs.
  const where = config.store.kind === 'sqlite' ? { database: storeFiles(config.store.path).database } : {}
  log.info('listening', { url, store: config.store.kind, ...where, step: config.step, version, auth: auth !== undefined, pid: process.pid })
  const stop = async () => {
    await server.stop()
    metrics.close()
  }
  return { url, stop }
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error))

/**
 * The first SIGTERM or SIGINT stops the server gracefully and exits 0 (or 1 if that takes longer than the cancel
 * grace plus SHUTDOWN_MARGIN_MS, which only a store that cannot close causes); a second one exits at once.
 */
export function stopOnSignals(server: RunningServer, log: Logger, cancelGraceMs: number): void {
  let stopping = false
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn('second signal: exiting at once', { signal })
      process.exit(signal === 'SIGINT' ? 130 : 143)
    }
    stopping = true
    log.info('shutting down', { signal })
    setTimeout(() => {
      log.error('shutdown took too long; exiting without it', { ms: cancelGraceMs + SHUTDOWN_MARGIN_MS })
      process.exit(1)
      // Not unref'd: if the shutdown waits on something that keeps nothing alive, this still ends the process.
    }, cancelGraceMs + SHUTDOWN_MARGIN_MS)
    server.stop().then(
      () => {
        log.info('stopped')
        process.exit(0)
      },
      (error) => {
        log.error('shutdown failed', { error: String(error) })
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
}
