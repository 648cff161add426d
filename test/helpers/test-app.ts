import { createApp } from '../../src/app.ts'
import { ConnectionCount, type AppDeps } from '../../src/http/deps.ts'
import { MAX_BODY_BYTES } from '../../src/limits.ts'
import { silentLogger } from '../../src/log.ts'
import { Runner } from '../../src/runs/runner.ts'
import { EchoStep } from '../../src/steps/echo-step.ts'
import type { Step } from '../../src/steps/step.ts'
import type { EventStore } from '../../src/store/event-store.ts'
import { MemoryStore } from '../../src/store/memory-store.ts'

export interface TestAppOptions {
  store?: EventStore
  step?: Step
  /** Echo step delay; milliseconds, default 1. */
  echoDelayMs?: number
  heartbeatMs?: number
  maxBodyBytes?: number
}

/** An app with a memory store and a fast echo step, plus its deps for assertions. */
export async function testApp(options: TestAppOptions = {}) {
  const store = options.store ?? new MemoryStore()
  const shutdown = new AbortController()
  const deps: AppDeps = {
    store,
    runner: new Runner(store, options.step ?? new EchoStep(options.echoDelayMs ?? 1), silentLogger),
    log: silentLogger,
    version: 'test',
    connections: new ConnectionCount(),
    shutdown: shutdown.signal,
    heartbeatMs: options.heartbeatMs ?? 15_000,
    retryMs: 1000,
    maxBodyBytes: options.maxBodyBytes ?? MAX_BODY_BYTES,
  }
  const app = await createApp(deps)
  const close = async () => {
    shutdown.abort()
    await deps.runner.shutdown()
    if (app.server) await app.stop(true)
    await store.close()
  }
  return { app, deps, close }
}

/** The same app listening on a free port of 127.0.0.1. */
export async function testServer(options: TestAppOptions = {}) {
  const made = await testApp(options)
  made.app.listen({ port: 0, hostname: '127.0.0.1' })
  const base = `http://127.0.0.1:${made.app.server!.port}`
  return { ...made, base }
}

/** `app.handle` needs a localhost URL (other hosts can 404). */
export const url = (path: string) => `http://localhost${path}`
