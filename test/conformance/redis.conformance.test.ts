import { redisAvailable, startRedis, type TestRedis } from '../helpers/redis-server.ts'
import { runStepstreamConformance } from './stepstream-conformance.ts'

/**
 * The Durable Streams conformance suite on Redis, a private redis-server (part of `bun test`; alone: `bun run
 * test:conformance`). Without redis-server it skips with one line, and fails under CI=true.
 */
let redis: TestRedis | undefined
if (redisAvailable('the Durable Streams conformance suite on Redis')) {
  runStepstreamConformance(
    async () => {
      redis = await startRedis()
      return { kind: 'redis', url: redis.url }
    },
    async () => redis?.destroy(),
  )
}
