import type { Config } from './config.ts'
import { createServer, StartError, type StepstreamServer } from './create-server.ts'
import { AppError } from './errors.ts'
import type { Logger } from './log.ts'
import { Metrics } from './metrics.ts'
import type { StepFactory } from './steps/step-registry.ts'
import { storeFiles } from './log/backends/sqlite-files.ts'

export { StartError }

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

/**
 * The binary's server: createServer with the flags' options, this process's metrics, and `steps` (`--step` names one
 * of them); then listens and says where in its first log line. Throws StartError with a one-line reason, naming the
 * flag when one is to blame.
 */
export async function startServer(config: Config, steps: readonly StepFactory[], log: Logger, version: string): Promise<RunningServer> {
  const metrics = new Metrics({ processMetrics: true, eventLoopLag: true })
  let server: StepstreamServer
  try {
    server = await createServer({ ...config.server, steps, log, version, metrics })
  } catch (error) {
    metrics.close()
    // The steps are checked first: a wrong --step says so, not that the database is in use by the server running.
    if (error instanceof AppError && (error.code === 'UNKNOWN_STEP' || error.code === 'STEP_UNAVAILABLE')) {
      throw new StartError(`--step: ${error.message}`)
    }
    throw error instanceof StartError ? error : new StartError(messageOf(error))
  }
  const { port, hostname } = config.listen
  let url: string
  try {
    // Worker processes share one port: the kernel spreads connections among them (SO_REUSEPORT).
    url = server.listen({ port, hostname, reusePort: config.workers > 1 })
  } catch (error) {
    await server.stop()
    metrics.close()
    throw new StartError(`cannot listen on ${hostname}:${port}: ${messageOf(error)}`)
  }
  const { store } = config.server
  // The absolute path of the database: "where does my data go" is answered by the first line the server logs.
  const where = store.kind === 'sqlite' ? { database: storeFiles(store.path).database } : {}
  const auth = server.deps.auth !== undefined
  log.info('listening', { url, store: store.kind, ...where, step: config.server.defaultStep, version, auth, pid: process.pid })
  // The operator's hint goes where the operator looks: the page's users cannot restart the server.
  if (config.server.defaultStep === 'echo')
    log.info('new chats get the echo step: start with --step openai --model <name> to talk to a model')
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
