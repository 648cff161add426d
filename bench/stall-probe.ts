/**
 * Preload for diagnosing event-loop stalls (issue 24): `bun --preload bench/stall-probe.ts src/main.ts …`. Times what
 * holds the loop on the SQLite write path — every transaction (labelled by where it was made), every statement
 * over 1 ms, each group-commit batch (`SqliteBackend.append`: entries, sync time), journal merges, cap trims, deletes,
 * prune passes — with the WAL file's size after each transaction (a drop is a checkpoint that truncated it), and a
 * 1 ms timer that records every lag over 4 ms. Writes /tmp/stall-probe-<pid>.json at exit; bench/stall-timeline.ts
 * reads it. Nothing here changes what the server does.
 */
import { Database, Statement } from 'bun:sqlite'
import { closeSync, openSync, readSync, statSync, writeFileSync } from 'node:fs'
import { MemoryBackend } from '../src/log/backends/memory-backend.ts'
import { SqliteBackend } from '../src/log/backends/sqlite-backend.ts'
import { EntryJournal } from '../src/log/backends/sqlite-journal.ts'
import { Metrics } from '../src/metrics.ts'
import type { Op } from './stall-ops.ts'

const ops: Op[] = []
const stalls: { t: number; lagMs: number }[] = []
const commits: { t: number; ms: number }[] = []
const sqlOf = new WeakMap<object, string>()
const now = () => performance.now()

/** The first frame of the caller under src/, for a label. */
function where(): string {
  const line = (new Error().stack ?? '').split('\n').find((l) => l.includes('/src/') && !l.includes('stall-probe'))
  return line?.replace(/^.*\/src\//, '').replace(/\)$/, '') ?? '?'
}

let walPath: string | undefined
const walSize = () => {
  try {
    return walPath ? statSync(walPath).size : -1
  } catch {
    return -1
  }
}

/** The WAL-index's nBackfill (frames checkpointed since the WAL restarted): offset 96 of the -shm file, native order. */
let shmFd: number | undefined
const header = Buffer.alloc(4)
const backfill = () => {
  try {
    shmFd ??= walPath ? openSync(walPath.replace(/-wal$/, '-shm'), 'r') : undefined
    if (shmFd === undefined) return -1
    readSync(shmFd, header, 0, 4, 96)
    return header.readUInt32LE(0)
  } catch {
    return -1
  }
}
process.on('exit', () => shmFd !== undefined && closeSync(shmFd))

let depth = 0
const originalTransaction = Database.prototype.transaction
Database.prototype.transaction = function (this: Database, fn: (...args: never[]) => unknown) {
  if (!walPath && this.filename && this.filename !== ':memory:' && !this.filename.endsWith('.lock')) {
    walPath = `${this.filename}-wal`
    // What-if for the checkpoint: with STALL_PROBE_NO_CHECKPOINT=1 SQLite never checkpoints on its own (the WAL grows).
    if (process.env.STALL_PROBE_NO_CHECKPOINT === '1') this.exec('PRAGMA wal_autocheckpoint = 0')
  }
  const label = where()
  const tx = originalTransaction.call(this, fn as never) as (...args: unknown[]) => unknown
  const timed = (...args: unknown[]) => {
    const walBefore = depth === 0 ? walSize() : undefined
    const backfillBefore = depth === 0 ? backfill() : -1
    const t0 = now()
    depth++
    try {
      return tx(...args)
    } finally {
      depth--
      const ms = now() - t0
      if (depth === 0) {
        const after = backfill()
        // It grows when this commit checkpointed; it falls to 0 when this transaction restarted the WAL.
        const backfilled = after > backfillBefore && backfillBefore >= 0 ? after - backfillBefore : undefined
        ops.push({ kind: 'tx', t0, ms, label, wal: walSize(), walBefore, backfilled })
      }
    }
  }
  return Object.assign(timed, tx)
} as typeof Database.prototype.transaction

for (const method of ['prepare', 'query'] as const) {
  const original = Database.prototype[method]
  Database.prototype[method] = function (this: Database, sql: string, ...rest: unknown[]) {
    const statement = (original as unknown as (...a: unknown[]) => Record<string, (...a: unknown[]) => unknown>).call(this, sql, ...rest)
    const label = sql.replace(/\s+/g, ' ').slice(0, 70)
    sqlOf.set(statement, label)
    // bun:sqlite sets run/all/get/values on each statement (by parameter count), so the prototype's are not called.
    for (const name of ['run', 'all', 'get', 'values']) {
      const own = statement[name]
      if (typeof own !== 'function') continue
      statement[name] = (...args: unknown[]) => {
        const t0 = now()
        try {
          return own.apply(statement, args)
        } finally {
          const ms = now() - t0
          if (ms >= 1) ops.push({ kind: 'stmt', t0, ms, label })
        }
      }
    }
    return statement
  } as never
}
for (const method of ['run', 'all', 'get', 'values'] as const) {
  const original = Statement.prototype[method] as (...a: unknown[]) => unknown
  Statement.prototype[method] = function (this: Statement, ...args: unknown[]) {
    const t0 = now()
    try {
      return original.apply(this, args)
    } finally {
      const ms = now() - t0
      if (ms >= 1) ops.push({ kind: 'stmt', t0, ms, label: sqlOf.get(this) ?? '?' })
    }
  } as never
}
for (const method of ['run', 'exec'] as const) {
  const original = Database.prototype[method] as (...a: unknown[]) => unknown
  Database.prototype[method] = function (this: Database, ...args: unknown[]) {
    const t0 = now()
    try {
      return original.apply(this, args)
    } finally {
      const ms = now() - t0
      if (ms >= 1) ops.push({ kind: 'stmt', t0, ms, label: String(args[0]).replace(/\s+/g, ' ').slice(0, 70) })
    }
  } as never
}

/** Times the synchronous part of an async method (up to its first await) and, separately, until it settles. */
function timeMethod(proto: object, name: string, kind: string, count?: (args: unknown[]) => number) {
  const original = (proto as Record<string, (...a: unknown[]) => unknown>)[name]!
  ;(proto as Record<string, unknown>)[name] = function (this: unknown, ...args: unknown[]) {
    const t0 = now()
    const result = original.apply(this, args)
    const sync = now() - t0
    ops.push({ kind, t0, ms: sync, n: count?.(args), label: kind === 'mergeAll' ? where() : undefined })
    if (result instanceof Promise)
      void result
        .finally(() => {
          const settledAt = now()
          ops.push({ kind: `${kind}:settled`, t0, ms: settledAt - t0 })
          // How long the loop stays in the turn that answered the batch: the appends it resolves and the readers
          // they wake all run as microtasks before the next immediate.
          if (kind === 'batch') setImmediate(() => ops.push({ kind: 'burst', t0: settledAt, ms: now() - settledAt, n: count?.(args) }))
        })
        .catch(() => {})
    return result
  }
}
timeMethod(SqliteBackend.prototype, 'append', 'batch', (args) => (args[0] as unknown[]).length)
timeMethod(MemoryBackend.prototype, 'append', 'batch', (args) => (args[0] as unknown[]).length)
timeMethod(SqliteBackend.prototype, 'keepNewest', 'capTrim')
timeMethod(SqliteBackend.prototype, 'deleteEntries', 'deleteEntries')
timeMethod(SqliteBackend.prototype, 'delete', 'deleteLog')
timeMethod(EntryJournal.prototype, 'merge', 'merge')
timeMethod(EntryJournal.prototype, 'mergeAll', 'mergeAll')
const { EventLog } = await import('../src/log/event-log.ts')
timeMethod(EventLog.prototype, 'prune', 'prune')

// What-if for the turn that answers a batch: with STALL_PROBE_SLICE_WAKES=<n>, readers are woken n sessions per
// turn (the rest at the next immediate) instead of all in the turn that answered the batch.
const slice = Number(process.env.STALL_PROBE_SLICE_WAKES ?? 0)
if (slice > 0) {
  const { SessionSignal } = await import('../src/bus/session-signal.ts')
  const notify = SessionSignal.prototype.notify
  const queue: [InstanceType<typeof SessionSignal>, string][] = []
  let scheduled = false
  const drain = () => {
    for (const [bus, id] of queue.splice(0, slice)) notify.call(bus, id)
    scheduled = queue.length > 0
    if (scheduled) setImmediate(drain)
  }
  SessionSignal.prototype.notify = function (this: InstanceType<typeof SessionSignal>, sessionId: string) {
    queue.push([this, sessionId])
    if (!scheduled) {
      scheduled = true
      setImmediate(drain)
    }
  }
}

const storeCommit = Metrics.prototype.storeCommit
Metrics.prototype.storeCommit = function (this: Metrics, seconds: number) {
  commits.push({ t: now(), ms: seconds * 1000 })
  storeCommit.call(this, seconds)
}

const markGc = process.env.BUN_JSC_logGC !== undefined
let due = now() + 1
const tick = () => {
  const t = now()
  const lag = t - due
  if (lag > 4) stalls.push({ t, lagMs: lag })
  // With BUN_JSC_logGC=1 JSC logs each collection on stderr: a marker after a stall puts the collections of that
  // stall's window between it and the marker before.
  if (lag > 4 && markGc) process.stderr.write(`STALL t=${t.toFixed(1)} lag=${lag.toFixed(1)}\n`)
  due = t + 1
  setTimeout(tick, 1).unref()
}
setTimeout(tick, 1).unref()

process.on('exit', () => {
  writeFileSync(`/tmp/stall-probe-${process.pid}.json`, JSON.stringify({ ops, stalls, commits }))
})
