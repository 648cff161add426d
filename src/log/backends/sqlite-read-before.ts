import type { Database, Statement } from 'bun:sqlite'
import { nextTurn } from '../../next-turn.ts'
import type { LogEntry, LogId } from '../log-backend.ts'

/** Rows whose sizes the first query reads; each next query reads twice as many, up to the most. */
const FIRST_SIZE_PAGE = 8
const MAX_SIZE_PAGE = 256

/**
 * `readBefore` over the `entries` table: sizes first, from the end, in pages that start small and double, with the
 * event loop free between two; then one range read of the rows that fit. Each row's size is its own `bytes` column,
 * stored before `data`, so a size page never walks a large entry's overflow pages (SQLite reads a record only as far
 * as the columns asked for). Rows deleted meanwhile are harmless: they are not read.
 */
export class ReadBefore {
  readonly #sizes: Statement<{ seq: number; bytes: number }, [string, number, number]>
  readonly #range: Statement<LogEntry, [string, number, number]>

  constructor(db: Database) {
    this.#sizes = db.prepare('SELECT seq, bytes FROM entries WHERE log = ? AND seq < ? ORDER BY seq DESC LIMIT ?')
    this.#range = db.prepare('SELECT seq, data FROM entries WHERE log = ? AND seq >= ? AND seq < ? ORDER BY seq')
  }

  /**
   * Rows before `before` within `maxBytes` (one at least when `atLeastOne`), ascending.
   * @param assertOpen throws once the backend closed, which it may do while this waits for the next turn.
   */
  async read(log: LogId, before: number, maxBytes: number, atLeastOne: boolean, assertOpen: () => void): Promise<LogEntry[]> {
    let from: number | undefined
    let bytes = 0
    scan: for (let below = before, page = FIRST_SIZE_PAGE; ; page = Math.min(page * 2, MAX_SIZE_PAGE)) {
      const sizes = this.#sizes.all(log, below, page)
      for (const row of sizes) {
        bytes += row.bytes
        if (bytes > maxBytes && (from !== undefined || !atLeastOne)) break scan
        from = row.seq
      }
      if (sizes.length < page) break
      below = sizes.at(-1)!.seq
      await nextTurn()
      assertOpen()
    }
    if (from === undefined) return []
    return this.#range.all(log, from, before)
  }
}
