import { runStepstreamConformance } from './stepstream-conformance.ts'

/** The Durable Streams conformance suite on the memory store (part of `bun test`; alone: `bun run test:conformance`). */
runStepstreamConformance(async () => ({ kind: 'memory' }))
