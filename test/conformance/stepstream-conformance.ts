import { afterAll, beforeAll } from 'bun:test'
import { createServer, type StepstreamServer, type StoreSpec } from '../../src/create-server.ts'
import { createLogger } from '../../src/log.ts'
import { runConformance } from '../helpers/conformance.ts'

/**
 * The long-poll timeout of stepstream's conformance runs; milliseconds. The suite's tests time out after 5 s and wait
 * `longPollTimeoutMs + 1 s` for a long-poll: 3 s leaves room on a loaded machine.
 */
export const CONFORMANCE_LONG_POLL_MS = 3000

/**
 * Registers the conformance suite against stepstream on a real port of 127.0.0.1, auth off, with a fresh store from
 * `store()` (called in beforeAll: a fresh database each run, the suite leaves ~650 streams behind). `cleanup` runs
 * after the server stopped.
 */
export function runStepstreamConformance(store: () => Promise<StoreSpec>, cleanup: () => Promise<void> = async () => {}): void {
  let server: StepstreamServer | undefined
  let url = ''
  beforeAll(async () => {
    server = await createServer({
      store: await store(),
      longPollMs: CONFORMANCE_LONG_POLL_MS,
      rateLimit: false,
      log: createLogger('error'),
    })
    url = server.listen({ port: 0, hostname: '127.0.0.1' })
  })
  afterAll(async () => {
    await server?.stop()
    await cleanup()
  })
  runConformance({ baseUrl: () => url, longPollTimeoutMs: CONFORMANCE_LONG_POLL_MS })
}
