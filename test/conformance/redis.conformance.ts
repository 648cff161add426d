import { startRedis, type TestRedis } from '../helpers/redis-server.ts'
import { runStepstreamConformance } from './stepstream-conformance.ts'

/** The Durable Streams conformance suite on Redis, a private redis-server (`bun run test:conformance`). */
let redis: TestRedis | undefined
runStepstreamConformance(
  async () => {
    redis = await startRedis()
    return { kind: 'redis', url: redis.url }
  },
  async () => redis?.destroy(),
)
