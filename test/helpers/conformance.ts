import { runConformanceTests } from '@durable-streams/server-conformance-tests'
import { installVitestShims } from './vitest-shims.ts'

/**
 * The official Durable Streams conformance suite (@durable-streams/server-conformance-tests, pinned), registered as
 * `bun test` blocks against a server. The suite addresses `${baseUrl}/v1/stream/<name>`, a path it fixes, and reads
 * `baseUrl` only when a test runs: a file may start its server in `beforeAll` and hand the URL over through a getter.
 * Its own timeouts are 5 s per test, so the server's long-poll must answer well within that (~4.5 s at most).
 */

export interface ConformanceOptions {
  /** The server's origin (`http://127.0.0.1:<port>`), read when each test runs; no default. */
  baseUrl: () => string
  /**
   * The server's long-poll timeout, as the suite should expect it; milliseconds, default 4,000 (the suite's own
   * default, 20,000, outlasts its 5 s test timeout, so a server under test must be set lower).
   */
  longPollTimeoutMs?: number
  /** Runs the 6 optional webhook-subscription tests; default false (the issue does not require them). */
  subscriptions?: boolean
}

/** Registers every conformance test (338 with subscriptions, 332 without) in the calling test file. */
export function runConformance(options: ConformanceOptions): void {
  installVitestShims()
  runConformanceTests({
    get baseUrl() {
      return options.baseUrl()
    },
    longPollTimeoutMs: options.longPollTimeoutMs ?? 4000,
    subscriptions: options.subscriptions ?? false,
  })
}
