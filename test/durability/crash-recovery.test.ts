import { afterAll, beforeAll } from 'bun:test'
import { join } from 'node:path'
import { newId } from '../../src/session-id.ts'
import { redisAvailable, startRedis, type TestRedis } from '../helpers/redis-server.ts'
import { crashRecoveryTests } from './crash-recovery.ts'
import { tempDir } from './helpers.ts'
import { slowTests } from '../helpers/slow-tests.ts'

// These tests start redis-server and child processes, each of which may take up to READY_MS on a loaded machine.
slowTests()
const tmp = tempDir()
afterAll(tmp.remove)
const stores = join(import.meta.dir, 'crash-stores.ts')

crashRecoveryTests('the event log over a journaled memory backend', {
  module: stores,
  export: 'openJournaled',
  args: () => [`${tmp.file()}.jsonl`],
})
crashRecoveryTests('sqlite', { module: stores, export: 'openSqlite', args: () => [tmp.file()] })

const redisReady = redisAvailable('the crash contract on Redis')
let redis: TestRedis | undefined
beforeAll(async () => {
  if (redisReady) redis = await startRedis()
})
afterAll(async () => {
  await redis?.destroy()
})
/**
 * The Redis run's lease; milliseconds. Short, since recovery waits it out after the kill; long enough that the child,
 * renewing every third of it, never loses it on a busy machine before it is killed.
 */
const LEASE_MS = 1500
if (redisReady) {
  crashRecoveryTests('redis', { module: stores, export: 'openRedisStore', args: () => [redis!.url, `crash${newId()}:`, LEASE_MS] })
}
