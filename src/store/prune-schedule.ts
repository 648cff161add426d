import type { Logger } from '../log.ts'
import type { RetentionPolicy } from '../log/retention-policy.ts'
import type { Prunable } from '../log/event-store.ts'

/** How often the retention policy is applied; milliseconds. */
export const PRUNE_EVERY_MS = 60_000

export interface PruneSchedule {
  /** Stops the timer and waits for a pass in progress (call before closing the store). */
  stop(): Promise<void>
}

/**
 * Applies `policy` at once and then every `everyMs` (default one minute), never two passes at a time. A pass that
 * fails is logged and the next one tries again. The timer does not keep the process alive.
 */
export function schedulePruning(store: Prunable, policy: RetentionPolicy, log: Logger, everyMs = PRUNE_EVERY_MS): PruneSchedule {
  let running: Promise<void> | undefined
  const pass = () => {
    running ??= store
      .prune(policy)
      .then((report) => {
        if (Object.values(report).some((n) => n > 0)) log.info('pruned the store', { ...report })
      })
      .catch((error) => log.error('pruning the store failed; retrying at the next pass', { error: String(error) }))
      .finally(() => (running = undefined))
  }
  pass()
  const timer = setInterval(pass, everyMs)
  timer.unref()
  return {
    async stop() {
      clearInterval(timer)
      await running
    },
  }
}
