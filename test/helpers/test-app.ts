import { createApp } from '../../src/app.ts'
import { Auth, TokenAuth } from '../../src/http/auth.ts'
import { ConnectionCount, type ConnectionLimits } from '../../src/http/connection-limit.ts'
import type { AppDeps } from '../../src/http/deps.ts'
import type { BucketRate } from '../../src/http/token-bucket.ts'
import { DEFAULT_MAX_MESSAGE_BYTES, MAX_BODY_BYTES } from '../../src/limits.ts'
import { type Logger, silentLogger } from '../../src/log.ts'
import { Metrics } from '../../src/metrics.ts'
import { Runner } from '../../src/runs/runner.ts'
import { echoStep } from '../../src/steps/echo-step.ts'
import type { Step } from '../../src/steps/step.ts'
import { type StepFactory, StepRegistry } from '../../src/steps/step-registry.ts'
import type { EventStore } from '../../src/store/event-store.ts'
import { keepsSignIns } from '../../src/store/sign-ins.ts'
import { MemorySignIns } from '../../src/store/memory-sign-ins.ts'
import { MemoryStore } from '../../src/store/memory-store.ts'

export interface TestAppOptions {
  store?: EventStore
  /** The one step of the app's registry (its default); the echo step by default. */
  step?: Step
  /** Other steps the registry holds besides the default one (sessions can pick them by name). */
  moreSteps?: Step[]
  /** A publishing program's allowed silence; milliseconds, default 60,000. */
  publishTimeoutMs?: number
  /** A cancelled step's time to return; milliseconds, default 2000. */
  cancelGraceMs?: number
  /** Echo step delay; milliseconds, default 1. */
  echoDelayMs?: number
  heartbeatMs?: number
  maxBodyBytes?: number
  maxMessageBytes?: number
  /** The token bucket per client address; off by default (tests from one address create many sessions). */
  rateLimit?: BucketRate
  /** SSE connection caps; the server's defaults when absent. */
  connections?: ConnectionLimits
  trustProxy?: boolean
  /** Turns auth on with these tokens. */
  authTokens?: string[]
  /** How long a browser sign-in lasts; milliseconds, the server's default when absent. */
  signInTtlMs?: number
  /** The sign-ins' clock (epoch ms); `Date.now` when absent. */
  now?: () => number
  log?: Logger
}

/** An app with a memory store and a fast echo step, plus its deps for assertions. */
export async function testApp(options: TestAppOptions = {}) {
  const metrics = new Metrics()
  const store = options.store ?? new MemoryStore({ metrics })
  const log = options.log ?? silentLogger
  const shutdown = new AbortController()
  const steps = new StepRegistry([
    options.step ? fixedStep(options.step) : echoStep(options.echoDelayMs ?? 1),
    ...(options.moreSteps ?? []).map(fixedStep),
  ])
  const deps: AppDeps = {
    store,
    steps,
    runner: new Runner({ store, steps, log, cancelGraceMs: options.cancelGraceMs, metrics }),
    log,
    version: 'test',
    connections: new ConnectionCount(options.connections),
    shutdown: shutdown.signal,
    heartbeatMs: options.heartbeatMs ?? 15_000,
    retryMs: 1000,
    maxBodyBytes: options.maxBodyBytes ?? MAX_BODY_BYTES,
    publishTimeoutMs: options.publishTimeoutMs ?? 60_000,
    maxMessageBytes: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    metrics,
    rateLimit: options.rateLimit,
    trustProxy: options.trustProxy ?? false,
    auth: options.authTokens
      ? new Auth(new TokenAuth(options.authTokens), {
          signIns: keepsSignIns(store) ? store.signIns : new MemorySignIns(),
          ttlMs: options.signInTtlMs,
          now: options.now,
        })
      : undefined,
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

/** A registry entry that hands every session the same step object (test steps keep no per-session state). */
export const fixedStep = (step: Step): StepFactory => ({ name: step.type, description: `the ${step.type} test step`, create: () => step })

/** A runner whose registry holds only `step`, as the tests of the runner's guarantees need. */
export function runnerFor(store: EventStore, step: Step, options: { cancelGraceMs?: number } = {}): Runner {
  return new Runner({ store, steps: new StepRegistry([fixedStep(step)]), log: silentLogger, ...options })
}
