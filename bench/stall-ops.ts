/**
 * One store operation the stall probe timed (bench/stall-probe.ts writes them, bench/stall-timeline.ts reads them):
 * its kind, when it started and how long it held the loop; milliseconds.
 */
export interface Op {
  kind: string
  t0: number
  ms: number
  label?: string
  n?: number
  wal?: number
  walBefore?: number
  /** WAL frames a checkpoint copied into the database during this transaction (nBackfill grew by this many). */
  backfilled?: number
}
