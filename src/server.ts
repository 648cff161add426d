import { createApp } from './app.ts'
import type { Config } from './config.ts'
import { authTokens } from './config.ts'
import { TokenAuth } from './http/auth.ts'
import { ConnectionCount } from './http/connection-limit.ts'
import { MAX_BODY_BYTES, SERVER_MAX_BODY_BYTES } from './limits.ts'
import type { Logger } from './log.ts'
import { Metrics } from './metrics.ts'
import type { Notifier } from './bus/notifier.ts'
import type { RunCoordinator } from './runs/run-coordinator.ts'
import { Runner } from './runs/runner.ts'
import { StepRegistry, type StepFactory } from './steps/step-registry.ts'
import { canPrune, canRecover, type EventStore } from './store/event-store.ts'
import { MemoryStore } from './store/memory-store.ts'
import { type PruneSchedule, schedulePruning } from './store/prune-schedule.ts'
import { DEFAULT_RETENTION_POLICY } from './store/retention-policy.ts'
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

function openStore(config: Config, notifier: Notifier | undefined, metrics: Metrics): EventStore {
  if (config.store.kind === 'memory') {
    const { maxEventsPerSession, maxSessions, maxEvents } = config
    return new MemoryStore({ maxEventsPerSession, maxSessions, maxEvents, notifier, metrics })
  }
  try {
    return new SqliteStore(config.store.path, { notifier, metrics })
  } catch (error) {
    throw new StartError(`cannot open the SQLite store at ${config.store.path}: ${error instanceof Error ? error.message : String(error)}`)
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

/** How long ending streams get to write their last frame before the server closes every connection; milliseconds. */
const STREAMS_END_MS = 1000

async function drained(connections: ConnectionCount, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs
  while (connections.open > 0 && Date.now() < deadline) await Bun.sleep(10)
}

/** Opens the store, recovers what a crash left, and listens. Throws StartError with a one-line reason. */
export async function startServer({ config, steps, log, version, notifier, coordinator }: ServerOptions): Promise<RunningServer> {
  let registry: StepRegistry
  try {
    registry = new StepRegistry(steps, config.step)
  } catch (error) {
    throw new StartError(`--step: ${error instanceof Error ? error.message : String(error)}`)
  }
  const auth = await readAuth(config)
  const metrics = new Metrics({ processMetrics: true })
  const store = openStore(config, notifier, metrics)
  if (canRecover(store)) {
    // Before listening: a run this process starts must never look like one a crash left open.
    const recovered = await store.recoverOpenRuns().catch((error) => {
      log.error('could not close the runs a crash left open; they will be closed at the next start', { error: String(error) })
      return []
    })
    if (recovered.length > 0) log.info('closed runs left open by a crash', { runs: recovered.length })
  }
  const runner = new Runner({ store, steps: registry, log, coordinator, cancelGraceMs: config.cancelGraceMs, metrics })
  const streamsEnd = new AbortController()
  const connections = new ConnectionCount({ max: config.maxConnections, maxPerIp: config.maxConnectionsPerIp })
  const app = await createApp({
    store,
    runner,
    steps: registry,
    log,
    version,
    connections,
    shutdown: streamsEnd.signal,
    heartbeatMs: config.heartbeatMs,
    retryMs: 1000,
    maxBodyBytes: MAX_BODY_BYTES,
    maxMessageBytes: config.maxMessageBytes,
    metrics,
    rateLimit: config.rateLimit,
    trustProxy: config.trustProxy,
    auth,
  })
  try {
    // Elysia asks Bun for SO_REUSEPORT, which would let a second instance share the port silently.
    app.listen({ port: config.port, hostname: config.host, maxRequestBodySize: SERVER_MAX_BODY_BYTES, reusePort: false })
  } catch (error) {
    await store.close()
    throw new StartError(`cannot listen on ${config.host}:${config.port}: ${error instanceof Error ? error.message : String(error)}`)
  }
  const server = app.server!
  const policy = { ...DEFAULT_RETENTION_POLICY, idleMs: config.retentionMs, maxEventsPerSession: config.maxEventsPerSession }
  const pruning: PruneSchedule | undefined = canPrune(store) ? schedulePruning(store, policy, log) : undefined
  const url = `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${server.port}`
  log.info('listening', { url, store: config.store.kind, step: registry.defaultStep, version, auth: auth !== undefined })

  let stopped: Promise<void> | undefined
  const stop = async () => {
    await runner.shutdown()
    streamsEnd.abort()
    // Let the streams write their closing `retry:` and end cleanly before the sockets are closed under them.
    await drained(connections, STREAMS_END_MS)
    await server.stop(true)
    await pruning?.stop()
    await store.close()
  }
  return { url, stop: () => (stopped ??= stop()) }
}

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
