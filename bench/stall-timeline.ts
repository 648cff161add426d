/**
 * `bun bench/stall-timeline.ts /tmp/stall-probe-<pid>.json`: reads what bench/stall-probe.ts recorded and prints the
 * event loop's stalls (lag over 5 ms) against what the SQLite store was doing at the time: each stall's window is the
 * `lag` before the late timer ran, and the operations that overlap it are its suspects, the longest first. Then the
 * distributions the issue asks for: group-commit batch sizes and durations, journal merges, checkpoints (a
 * transaction after which the WAL file is smaller than before it), cap trims, prune passes.
 */
import { readFileSync } from 'node:fs'
import type { Op } from './stall-ops.ts'

const { ops, stalls, commits } = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as {
  ops: Op[]
  stalls: { t: number; lagMs: number }[]
  commits: { t: number; ms: number }[]
}
const STALL_MS = 5
const syncOps = ops.filter((o) => !o.kind.endsWith(':settled'))
const batches = syncOps.filter((o) => o.kind === 'batch')
const start = batches[0]?.t0 ?? 0
const end = batches.at(-1)?.t0 ?? 0
const during = (t: number) => t >= start && t <= end + 1000
const q = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? Number.NaN : s[Math.min(s.length - 1, Math.floor(p * s.length))]!
}
const f = (n: number) => n.toFixed(1)

/** Which of a transaction's labels names what it was: the file:line where the transaction was made. */
function what(o: Op): string {
  if (o.kind === 'tx') {
    const restart = o.walBefore !== undefined && o.wal !== undefined && o.wal < o.walBefore ? ' + WAL restarted and truncated' : ''
    const checkpoint = o.backfilled ? ` + checkpoint of ${o.backfilled} frames` : ''
    return `tx ${o.label}${checkpoint}${restart}`
  }
  return `${o.kind}${o.n !== undefined ? ` (${o.n} entries)` : ''}${o.label ? ` ${o.label}` : ''}`
}

const settled = ops.filter((o) => o.kind === 'batch:settled').map((o) => o.t0 + o.ms)
const answered = (from: number, to: number) => settled.some((t) => t >= from && t <= to)
const loadStalls = stalls.filter((s) => during(s.t) && s.lagMs > STALL_MS)
process.stdout.write(
  `load window ${f((end - start) / 1000)} s; stalls over ${STALL_MS} ms: ${loadStalls.length}, max ${f(Math.max(0, ...loadStalls.map((s) => s.lagMs)))} ms\n\n`,
)

const blame = new Map<string, { count: number; lag: number }>()
const rows: string[] = []
for (const s of loadStalls) {
  const from = s.t - s.lagMs - 1
  const suspects = syncOps.filter((o) => o.kind !== 'stmt' && o.t0 < s.t && o.t0 + o.ms > from).sort((a, b) => b.ms - a.ms)
  // Blamed only when it covers at least half the stall: a 1 ms commit inside a 200 ms stall did not cause it.
  const overlap = (o: Op) => Math.min(o.t0 + o.ms, s.t) - Math.max(o.t0, from)
  // The store's own work first (a transaction, or a statement outside one such as the merge's DELETE): a burst is
  // measured up to the next immediate, so it also spans whatever timers ran in between.
  const storeOps = syncOps.filter((o) => (o.kind === 'tx' || o.kind === 'stmt') && o.t0 < s.t && o.t0 + o.ms > from)
  const store = storeOps.sort((a, b) => overlap(b) - overlap(a))[0]
  const burst = suspects.filter((o) => o.kind === 'burst').sort((a, b) => overlap(b) - overlap(a))[0]
  const key =
    store && overlap(store) >= 0.5 * s.lagMs
      ? store.kind === 'tx'
        ? what(store)
            .replace(/:\d+:\d+/, '')
            .replace(/of \d+ frames/, '')
        : `statement ${store.label}`
      : burst && overlap(burst) >= 0.5 * s.lagMs
        ? 'the turn answering a batch (appends resolved, readers woken)'
        : answered(from, s.t)
          ? 'a batch was answered in it, covering less than half'
          : 'no store operation covers half of it (other JS, GC, or the process descheduled)'
  const b = blame.get(key) ?? { count: 0, lag: 0 }
  b.count++
  b.lag += s.lagMs
  blame.set(key, b)
  const stmts = syncOps.filter((o) => o.kind === 'stmt' && o.t0 < s.t && o.t0 + o.ms > from).sort((a, b) => b.ms - a.ms)
  rows.push(
    `| ${f((s.t - start) / 1000)} | ${f(s.lagMs)} | ${
      suspects
        .slice(0, 3)
        .map((o) => `${what(o)} ${f(o.ms)} ms`)
        .join('; ') || '—'
    } | ${
      stmts
        .slice(0, 2)
        .map((o) => `${o.label} ${f(o.ms)} ms`)
        .join('; ') || '—'
    } |`,
  )
}
process.stdout.write('| stalls blamed on (longest overlapping operation) | stalls | lag summed (ms) |\n|---|---:|---:|\n')
for (const [k, v] of [...blame].sort((a, b) => b[1].lag - a[1].lag)) process.stdout.write(`| ${k} | ${v.count} | ${f(v.lag)} |\n`)
const longest = loadStalls
  .map((s, i) => ({ s, i }))
  .sort((a, b) => b.s.lagMs - a.s.lagMs)
  .slice(0, 25)
  .sort((a, b) => a.s.t - b.s.t)
process.stdout.write('\n| t (s) | lag (ms) | overlapping operations, longest first | statements over 1 ms in it |\n|---:|---:|---|---|\n')
for (const { i } of longest) process.stdout.write(`${rows[i]}\n`)

const list = (label: string, xs: number[], unit: string) =>
  process.stdout.write(
    `| ${label} | ${xs.length} | ${f(q(xs, 0.5))} | ${f(q(xs, 0.9))} | ${f(q(xs, 0.99))} | ${f(Math.max(...xs))} | ${f(xs.reduce((a, b) => a + b, 0))} | ${unit} |\n`,
  )
process.stdout.write(
  '\n| operation (load window) | count | p50 | p90 | p99 | max | sum | unit |\n|---|---:|---:|---:|---:|---:|---:|---|\n',
)
list(
  'group-commit batch size',
  batches.map((b) => b.n ?? 0),
  'entries',
)
list(
  'group-commit batch, sync time (SqliteBackend.append)',
  batches.map((b) => b.ms),
  'ms',
)
const bursts = syncOps.filter((o) => o.kind === 'burst' && during(o.t0))
list(
  'turn after a batch is answered (to the next setImmediate)',
  bursts.map((b) => b.ms),
  'ms',
)
for (const [lo, hi] of [
  [1, 50],
  [51, 150],
  [151, 256],
] as const) {
  const xs = bursts.filter((b) => (b.n ?? 0) >= lo && (b.n ?? 0) <= hi).map((b) => b.ms)
  if (xs.length) list(`  … for batches of ${lo}–${hi} entries`, xs, 'ms')
}
list(
  'stepstream_store_commit_seconds (LogCore, incl. awaits)',
  commits.filter((c) => during(c.t)).map((c) => c.ms),
  'ms',
)
const txs = syncOps.filter((o) => o.kind === 'tx' && during(o.t0))
for (const label of [...new Set(txs.map((o) => o.label))])
  list(
    `tx ${label}`,
    txs.filter((o) => o.label === label).map((o) => o.ms),
    'ms',
  )
const checkpoints = txs.filter((o) => o.backfilled)
list(
  'tx whose commit checkpointed (nBackfill grew)',
  checkpoints.map((o) => o.ms),
  'ms',
)
list(
  '  … frames it copied',
  checkpoints.map((o) => o.backfilled ?? 0),
  'frames',
)
const restarts = txs.filter((o) => o.walBefore !== undefined && o.wal! < o.walBefore)
list(
  'tx that restarted the WAL (file truncated to 0)',
  restarts.map((o) => o.ms),
  'ms',
)
for (const kind of ['mergeAll', 'capTrim', 'deleteEntries', 'deleteLog', 'prune'])
  if (syncOps.some((o) => o.kind === kind && during(o.t0)))
    list(
      `${kind} (sync part)`,
      syncOps.filter((o) => o.kind === kind && during(o.t0)).map((o) => o.ms),
      'ms',
    )
const merges = ops.filter((o) => o.kind === 'merge:settled' && during(o.t0))
list(
  'merge pass, start to settled (yields between chunks)',
  merges.map((o) => o.ms),
  'ms',
)
process.stdout.write(`\nWAL size before each restart (bytes): ${restarts.map((o) => o.walBefore).join(', ')}\n`)
const mergeAllCallers = new Map<string, number>()
for (const o of syncOps.filter((o) => o.kind === 'mergeAll'))
  mergeAllCallers.set(o.label ?? '?', (mergeAllCallers.get(o.label ?? '?') ?? 0) + 1)
process.stdout.write(`mergeAll callers: ${JSON.stringify([...mergeAllCallers])}\n`)

// Optional second argument: the server's stderr with BUN_JSC_logGC=1 and the probe's STALL markers.
if (process.argv[3]) {
  const pauses: number[] = []
  const cycles: number[] = []
  let sinceMarker: number[] = []
  const stallGc: { lag: number; gc: number }[] = []
  for (const line of readFileSync(process.argv[3], 'utf8').split('\n')) {
    const marker = /^STALL t=([\d.]+) lag=([\d.]+)/.exec(line)
    if (marker) {
      if (during(Number(marker[1])) && Number(marker[2]) > STALL_MS)
        stallGc.push({ lag: Number(marker[2]), gc: sinceMarker.reduce((a, b) => a + b, 0) })
      sinceMarker = []
      continue
    }
    const end = /p=([\d.]+)ms \(max [\d.]+\), cycle ([\d.]+)ms END/.exec(line)
    if (end) {
      pauses.push(Number(end[1]))
      cycles.push(Number(end[2]))
      sinceMarker.push(Number(end[1]))
    }
  }
  process.stdout.write(
    `\nGC (whole run): ${cycles.length} collections, last-increment pause p50 ${f(q(pauses, 0.5))} ms, max ${f(Math.max(...pauses))} ms; cycle p50 ${f(q(cycles, 0.5))} ms, max ${f(Math.max(...cycles))} ms\n`,
  )
  const withGc = stallGc.filter((s) => s.gc >= 0.5 * s.lag)
  process.stdout.write(
    `stalls over ${STALL_MS} ms in the load window whose GC pauses cover half their lag: ${withGc.length} of ${stallGc.length}\n`,
  )
}
