import packageJson from '../package.json' with { type: 'json' }
import { createApp } from './app.ts'
import { helpText, parseConfig, type Config } from './config.ts'
import { ConnectionCount } from './http/deps.ts'
import { MAX_BODY_BYTES, SERVER_MAX_BODY_BYTES } from './limits.ts'
import { createLogger } from './log.ts'
import { Runner } from './runs/runner.ts'
import { EchoStep } from './steps/echo-step.ts'
import { MemoryStore } from './store/memory-store.ts'
import { SqliteStore } from './store/sqlite-store.ts'
import type { EventStore } from './store/event-store.ts'
import { schedulePruning } from './store/prune-schedule.ts'
import { DEFAULT_RETENTION_POLICY } from './store/retention-policy.ts'

const VERSION = packageJson.version

/** A bad flag or an unusable store: one line on stderr and exit code 2, as `--help` promises. */
function fail(message: string): never {
  process.stderr.write(`stepstream: ${message}\n`)
  process.exit(2)
}

function openStore(config: Config): EventStore {
  if (config.store.kind === 'memory') return new MemoryStore({ maxEventsPerSession: config.maxEventsPerSession })
  try {
    return new SqliteStore(config.store.path)
  } catch (error) {
    fail(`cannot open the SQLite store at ${config.store.path}: ${error instanceof Error ? error.message : String(error)}`)
  }
}

async function main() {
  const parsed = parseConfig(process.argv.slice(2), process.env)
  if (parsed.kind === 'help') return void process.stdout.write(helpText(VERSION))
  if (parsed.kind === 'version') return void process.stdout.write(`stepstream ${VERSION}\n`)
  if (parsed.kind === 'error') fail(parsed.message)
  const { config } = parsed

  const log = createLogger(config.logLevel)
  const store = openStore(config)
  if (store instanceof SqliteStore) {
    // Before listening: a run this process starts must never look like one a crash left open.
    const recovered = await store.recoverOpenRuns().catch((error) => {
      log.error('could not close the runs a crash left open; they will be closed at the next start', { error: String(error) })
      return []
    })
    if (recovered.length > 0) log.info('closed runs left open by a crash', { runs: recovered.length })
  }
  const runner = new Runner(store, new EchoStep(config.echoDelayMs), log)
  const shutdown = new AbortController()
  const app = await createApp({
    store,
    runner,
    log,
    version: VERSION,
    connections: new ConnectionCount(),
    shutdown: shutdown.signal,
    heartbeatMs: config.heartbeatMs,
    retryMs: 1000,
    maxBodyBytes: MAX_BODY_BYTES,
  })
  try {
    // Elysia asks Bun for SO_REUSEPORT, which would let a second instance share the port silently.
    app.listen({ port: config.port, hostname: config.host, maxRequestBodySize: SERVER_MAX_BODY_BYTES, reusePort: false })
  } catch (error) {
    fail(`cannot listen on ${config.host}:${config.port}: ${error instanceof Error ? error.message : String(error)}`)
  }
  const server = app.server!
  const pruning =
    store instanceof SqliteStore
      ? schedulePruning(
          store,
          { ...DEFAULT_RETENTION_POLICY, idleMs: config.retentionMs, maxEventsPerSession: config.maxEventsPerSession },
          log,
        )
      : undefined
  log.info('listening', {
    url: `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${server.port}`,
    store: config.store.kind,
    version: VERSION,
  })

  let stopping = false
  const stop = async (signal: string) => {
    if (stopping) return
    stopping = true
    log.info('shutting down', { signal })
    // Streams first, so browsers reconnect to the next instance; then runs write their `interrupt`; then the store.
    shutdown.abort()
    await runner.shutdown()
    await server.stop(true)
    await pruning?.stop()
    await store.close()
    process.exit(0)
  }
  process.on('SIGTERM', () => void stop('SIGTERM'))
  process.on('SIGINT', () => void stop('SIGINT'))
}

await main()
