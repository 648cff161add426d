import type { ActivityCursor, LogId } from '../log-backend.ts'

/** Orders by (activeAt, log), as `activeBetween` pages. */
function compare(a: ActivityCursor, b: ActivityCursor): number {
  if (a.activeAt !== b.activeAt) return a.activeAt - b.activeAt
  return a.log < b.log ? -1 : a.log > b.log ? 1 : 0
}

/**
 * The memory backend's logs ordered by (activeAt, log), so a page of `activeBetween` costs a binary search and the
 * page, not a scan and a sort of every log (a retention pass pages through them all: that was quadratic). A move is a
 * search and an array splice, at most once per log per ACTIVITY_RESOLUTION_MS.
 */
export class ActivityIndex {
  readonly #sorted: ActivityCursor[] = []

  add(log: LogId, activeAt: number): void {
    const item = { log, activeAt }
    this.#sorted.splice(this.#firstAfter(item, true), 0, item)
  }

  remove(log: LogId, activeAt: number): void {
    const at = this.#firstAfter({ log, activeAt }, true)
    if (this.#sorted[at]?.log === log) this.#sorted.splice(at, 1)
  }

  move(log: LogId, from: number, to: number): void {
    if (from === to) return
    this.remove(log, from)
    this.add(log, to)
  }

  /** Logs with `from <= activeAt < to`, ordered, at most `limit`, after `cursor` when given. */
  page(from: number, to: number, limit: number, cursor?: ActivityCursor): ActivityCursor[] {
    const start = { log: '', activeAt: from }
    let at = cursor && compare(cursor, start) >= 0 ? this.#firstAfter(cursor, false) : this.#firstAfter(start, true)
    const found: ActivityCursor[] = []
    for (; found.length < limit && at < this.#sorted.length; at++) {
      const item = this.#sorted[at]!
      if (item.activeAt >= to) break
      found.push({ ...item })
    }
    return found
  }

  /** The index of the first item above `item` (or, with `orEqual`, at or above it). */
  #firstAfter(item: ActivityCursor, orEqual: boolean): number {
    let lo = 0
    let hi = this.#sorted.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      const order = compare(this.#sorted[mid]!, item)
      if (order < 0 || (order === 0 && !orEqual)) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}
