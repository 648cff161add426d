import type { Logger } from '../log.ts'
import type { StoreMetrics } from '../metrics.ts'
import { redisKeys } from './redis-keys.ts'
import { RedisLink } from './redis-link.ts'
import { RedisNotifier } from './redis-notifier.ts'
import { RedisRunCoordinator } from './redis-run-coordinator.ts'
import { RedisStore } from './redis-store.ts'
import { RedisSubscriber } from './redis-subscriber.ts'
import { parseWake } from './redis-tails.ts'

export interface OpenRedisOptions {
  /** Prefix of every key and channel; default `stepstream:`. Deployments with one prefix share their sessions. */
  prefix?: string
  /** A run's lease; milliseconds, default 10,000 (`--run-lease`). */
  leaseMs?: number
  log: Logger
  metrics?: StoreMetrics
  /** Bytes one session's events may take; default DEFAULT_MAX_SESSION_BYTES (64 MiB, `--max-session-bytes`). */
  maxSessionBytes?: number
}

/** What an instance on a shared Redis runs with: the store, its wake-ups and its run ownership, wired together. */
export interface RedisDeployment {
  store: RedisStore
  notifier: RedisNotifier
  coordinator: RedisRunCoordinator
}

/**
 * Connects to Redis at `url` (`redis://[user:pass@]host:port[/db]`, or `rediss://` for TLS) with two connections —
 * one for commands (auto-pipelined by Bun), one subscribed to the wake and cancel channels — whatever the number of
 * browsers. Rejects with Redis's reason when it cannot connect. `store.close()` closes all of it.
 */
export async function openRedis(url: string, options: OpenRedisOptions): Promise<RedisDeployment> {
  const keys = redisKeys(options.prefix)
  const link = await RedisLink.open(url)
  let subscriberLink: RedisLink
  try {
    subscriberLink = await RedisLink.open(url)
  } catch (error) {
    link.close()
    throw error
  }
  const subscriber = new RedisSubscriber(subscriberLink)
  const notifier = new RedisNotifier(link, keys.wakeChannel)
  let coordinator: RedisRunCoordinator | undefined
  const store = new RedisStore({
    link,
    keys,
    notifier,
    metrics: options.metrics,
    maxSessionBytes: options.maxSessionBytes,
    subscribed: () => subscriber.ready,
    onClose: () => {
      coordinator?.close()
      subscriber.close()
    },
  })
  coordinator = new RedisRunCoordinator({
    link,
    keys,
    log: options.log,
    leaseMs: options.leaseMs,
    closeAbandoned: (id) => store.closeAbandoned(id),
    sweep: () => store.recoverOpenRuns(),
  })
  subscriber.onResubscribed(() => {
    store.wakesMissed()
    notifier.wakeAll()
  })
  try {
    await subscriber.listen(keys.wakeChannel, (message) => {
      for (const { sessionId, seq } of parseWake(message)) {
        store.wakeHeard(sessionId, seq)
        notifier.received(sessionId)
      }
    })
    await subscriber.listen(keys.cancelChannel, (message) => void coordinator!.cancelled(message))
  } catch (error) {
    await store.close()
    throw error
  }
  return { store, notifier, coordinator }
}
