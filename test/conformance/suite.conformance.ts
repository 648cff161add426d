import { runConformance } from '../helpers/conformance.ts'

/**
 * The conformance suite against a server that is already listening, named by DS_CONFORMANCE_URL (its origin) and
 * DS_LONG_POLL_MS (its long-poll timeout, milliseconds). Not a `*.test.ts` file, so `bun test` alone never runs it:
 * scripts/conformance-reference.ts starts the reference server and runs this file against it
 * (`bun test ./test/conformance/suite.conformance.ts`).
 */

const baseUrl = process.env.DS_CONFORMANCE_URL
if (!baseUrl) throw new Error('Set DS_CONFORMANCE_URL to the origin of the server under test (http://127.0.0.1:<port>).')
const longPollTimeoutMs = process.env.DS_LONG_POLL_MS ? Number(process.env.DS_LONG_POLL_MS) : undefined

runConformance({ baseUrl: () => baseUrl, longPollTimeoutMs })
