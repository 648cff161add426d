import { runStepstreamConformance } from './stepstream-conformance.ts'

/** The Durable Streams conformance suite on the memory store (`bun run test:conformance`). */
runStepstreamConformance(async () => ({ kind: 'memory' }))
