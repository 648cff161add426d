import type { Notifier } from '../bus/notifier.ts'
import { SessionSignal } from '../bus/session-signal.ts'
import { RedisBackend } from '../log/backends/redis-backend.ts'
import type { EventLogOptions } from '../log/event-log.ts'
import type { Logger } from '../log.ts'
import { redisKeys } from './redis-keys.ts'
import { RedisLink } from './redis-link.ts'
import { RedisRunCoordinator } from './redis-run-coordinator.ts'
import { RedisStore } from './redis-store.ts'
import { RedisSubscriber } from './redis-subscriber.ts'

export interface OpenRedisOptions extends EventLogOptions {
  /** Prefix of every key and channel; default `stepstream:`. Deployments with one prefix share their sessions. */
  prefix?: string
  /** A run's lease; milliseconds, default 10,000 (`--run-lease`). */
  leaseMs?: number
  log: Logger
}

/** What an instance on a shared Redis runs with: the store, its wake-ups and its run ownership, wired together. */
export interface RedisDeployment {
  store: RedisStore
  /** Wakes this instance's streams (the one given, or its own): the core notifies it of this instance's appends and of others' (pub/sub). */
  notifier: Notifier
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
  const notifier = options.notifier ?? new SessionSignal()
  let coordinator: RedisRunCoordinator | undefined
  const backend = new RedisBackend({
    link,
    keys: keys.log,
    subscriber,
    onClose: () => {
      coordinator?.close()
      subscriber.close()
    },
  })
  const store = new RedisStore(backend, link, keys, { ...options, notifier })
  coordinator = new RedisRunCoordinator({
    link,
    keys,
    log: options.log,
    leaseMs: options.leaseMs,
    closeAbandoned: (id) => store.recoverSession(id),
    sweep: () => store.recoverOpenRuns(),
  })
  try {
    await backend.listen()
    await subscriber.listen(keys.cancelChannel, (message) => void coordinator!.cancelled(message))
  } catch (error) {
    await store.close()
    throw error
  }
  return { store, notifier, coordinator }
}
