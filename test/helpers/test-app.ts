import { createServer, type ServerOptions } from '../../src/create-server.ts'
import { silentLogger } from '../../src/log.ts'
import { Runner } from '../../src/runs/runner.ts'
import { echoStep } from '../../src/steps/echo-step.ts'
import type { Step } from '../../src/steps/step.ts'
import { type StepFactory, StepRegistry } from '../../src/steps/step-registry.ts'
import type { EventStore } from '../../src/log/event-store.ts'

/** The server's options, with the tests' shorthands for steps and auth, and their own defaults (see testApp). */
export interface TestAppOptions extends Omit<ServerOptions, 'steps' | 'defaultStep' | 'store' | 'auth'> {
  /** A store object, or one createServer opens (`{ kind: 'sqlite', path }`, `{ kind: 'redis', url }`). */
  store?: ServerOptions['store']
  /** The one step of the app's registry (its default); the echo step by default. */
  step?: Step
  /** Other steps the registry holds besides the default one (sessions can pick them by name). */
  moreSteps?: Step[]
  /** Echo step delay; milliseconds, default 1. */
  echoDelayMs?: number
  /** Turns auth on with these tokens. */
  authTokens?: string[]
  /** How long a browser sign-in lasts; milliseconds, the server's default when absent. */
  signInTtlMs?: number
  /** The sign-ins' clock (epoch ms); `Date.now` when absent. */
  now?: () => number
  /** With auth on, whether read-only links open without the token (`open`, the default) or not (`private`). */
  viewerLinks?: 'open' | 'private'
}

/**
 * The server createServer builds, with a memory store, a fast echo step, silent logs and no rate limit (tests from one
 * address create many sessions), plus its deps for assertions.
 */
export async function testApp(options: TestAppOptions = {}) {
  const { step, moreSteps = [], echoDelayMs = 1, authTokens, signInTtlMs, now, viewerLinks, ...server } = options
  const made = await createServer({
    ...server,
    log: server.log ?? silentLogger,
    version: server.version ?? 'test',
    rateLimit: server.rateLimit ?? false,
    steps: [step ? fixedStep(step) : echoStep(echoDelayMs), ...moreSteps.map(fixedStep)],
    auth: authTokens && { tokens: authTokens, ttlMs: signInTtlMs, now, viewerLinks },
  })
  return { app: made.app, deps: made.deps, close: made.stop }
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
