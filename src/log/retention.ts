import { ACTIVITY_RESOLUTION_MS } from '../limits.ts'
import { TurnSlicer } from '../next-turn.ts'
import { emptyPruneReport, type PruneReport, type RetentionPolicy } from './retention-policy.ts'
import type { ActivityCursor, LogId } from './log-backend.ts'
import type { LogCore } from './log-core.ts'

/** Logs one listing of the backend takes at a time; logs. */
const PAGE = 100

/**
 * Retention, once for every backend: expired logs and idle ones are deleted, logs quiet for `compactAfterMs` are
 * compacted (by the layer above, which knows what its entries mean), and logs over the per-log cap lose their oldest
 * entries. A log's `activeAt` lags its last append by up to ACTIVITY_RESOLUTION_MS, so idleness is measured that much
 * more leniently, and each pass looks back that much further than where the last one stopped.
 */
export class Retention {
  /** Logs quiet since before this were compacted by an earlier pass; epoch milliseconds. */
  #compactedBefore = 0
  /** When the last cap pass started; epoch milliseconds. */
  #capCheckedAt = 0

  /** @param compact deletes what compaction drops from one log; answers how many entries went. */
  constructor(
    private readonly core: LogCore,
    private readonly compact: (log: LogId) => Promise<number>,
  ) {}

  /** Applies `policy` once; `now` (epoch milliseconds) moves the age cut-offs, for tests. */
  async prune(policy: RetentionPolicy, now = this.core.now()): Promise<PruneReport> {
    const report = emptyPruneReport()
    const started = this.core.now()
    const backend = this.core.backend
    const gone = async (log: LogId) => {
      // Soft-deleted already (forks name it): it goes with its last fork, and deleting it again would only write its
      // mark again, on every pass, for as long as a branch lives.
      if ((await this.core.medium(() => backend.state(log)))?.deletedAt !== undefined) return
      const held = await this.core.delete(log)
      // A log forks name is kept, marked deleted: it goes with its last fork.
      if (!held || held === 'SOFT') return
      report.sessionsDeleted += held.logs
      report.eventsDeleted += held.entries
    }
    for (let expired = await this.core.medium(() => backend.expiredLogs(now, PAGE)); expired.length > 0; ) {
      for (const log of expired) await gone(log)
      expired = expired.length < PAGE ? [] : await this.core.medium(() => backend.expiredLogs(now, PAGE))
    }
    await this.#each(0, now - policy.idleMs - ACTIVITY_RESOLUTION_MS, gone)
    const quietBefore = now - policy.compactAfterMs
    await this.#each(Math.max(0, this.#compactedBefore - ACTIVITY_RESOLUTION_MS), quietBefore, async (log) => {
      // An uncapped log's entries are never deleted but with it, and are not a chat's events to parse.
      if ((await this.core.state(log))?.capped !== false) report.partialsCompacted += await this.compact(log)
    })
    this.#compactedBefore = Math.max(this.#compactedBefore, quietBefore)
    await this.#each(Math.max(0, this.#capCheckedAt - ACTIVITY_RESOLUTION_MS), Number.MAX_SAFE_INTEGER, async (log) => {
      const state = await this.core.state(log)
      const over = state && state.capped !== false ? state.count - policy.maxEventsPerSession : 0
      if (over > 0) report.eventsCapped += await this.core.keepNewest(log, policy.maxEventsPerSession)
    })
    // Only after a whole pass: a pass that failed half-way checks the same logs again next time.
    this.#capCheckedAt = started
    // Other instances of a shared store change the totals too: each pass counts them again.
    await this.core.recount()
    return report
  }

  /** Calls `visit` for each log active in [from, to), page by page, letting other work run between logs. */
  async #each(from: number, to: number, visit: (log: LogId) => Promise<void>): Promise<void> {
    const slicer = new TurnSlicer()
    let cursor: ActivityCursor | undefined
    for (;;) {
      const page = await this.core.medium(() => this.core.backend.activeBetween(from, to, PAGE, cursor))
      for (const { log } of page) {
        await visit(log)
        await slicer.pause()
      }
      if (page.length < PAGE) return
      cursor = page.at(-1)
    }
  }
}
