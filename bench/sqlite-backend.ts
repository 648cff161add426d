/**
 * Does the journal pay? The SQLite log backend (src/log/backends/sqlite-backend.ts; `backend`, group commit reduced to
 * a turn of the event loop) and the whole SqliteStore over it (`store`: the event log and its core) against the store
 * of schema 8 (its journal, merged into `events` once a second, with and without its checkpoint worker thread), under
 * the load of many runs at token pace: `--logs` logs each appending a ~100-byte event every 20 ms (50/s), each waiting
 * for its append to commit before the next, as a step does. Batches form as a turn of the event loop forms them: every append made in
 * one turn commits together on the next. bench/RESULTS.md has the figures of the backend without a journal (commit
 * 3e88cf7) and with one.
 *
 *   bun bench/sqlite-backend.ts [--logs 1000] [--seconds 15] [--pairs 2]
 *   git worktree add /tmp/v8 a0700b6 && bun bench/sqlite-backend.ts --old-root /tmp/v8   # beside the store of schema 8
 *
 * Each variant runs in a fresh process on a fresh file in the OS temp folder; variants alternate, pair after pair.
 * Reports, per run: entries/s sustained (of the offered logs × 50), commit time per batch p50/p99/max, event-loop
 * stalls over 5 ms (a 2 ms timer's lateness, src/event-loop-lag.ts), and durable latency (append call → committed)
 * p50/p99/max. On a shared machine the figures are noisy: compare pairs, not single runs.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { EventLoopLagSampler } from '../src/event-loop-lag.ts'
import type { NewEvent } from '../src/events.ts'
import { SqliteBackend } from '../src/log/backends/sqlite-backend.ts'
import { SqliteStore } from '../src/store/sqlite-store.ts'
import type { AppendEntry } from '../src/log/log-backend.ts'
import { newId } from '../src/session-id.ts'

const { values } = parseArgs({
  options: {
    logs: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '15' },
    pairs: { type: 'string', default: '2' },
    variants: { type: 'string' },
    /** A checkout that still has the store of schema 8 (commit a0700b6): adds `store-v8` (and, named, `store-v8-no-worker`). */
    'old-root': { type: 'string' },
    child: { type: 'string' },
    file: { type: 'string' },
  },
})
const LOGS = Number(values.logs)
const SECONDS = Number(values.seconds)
const TOKEN_MS = 20

/** Appends one event and resolves once it is committed. */
type Append = (log: string, data: string, event: object) => Promise<unknown>

interface Variant {
  open(path: string, commitTimes: number[]): Promise<{ create(log: string): Promise<unknown>; append: Append; close(): Promise<void> }>
}

/** What the core does above the backend, reduced to group commit: appends of one turn commit together on the next. */
async function openBackend(path: string, commitTimes: number[]) {
  const backend = new SqliteBackend(path)
  const limits = { maxLogBytes: 64 << 20, reserveBytes: 4096 }
  let pending: { entry: AppendEntry; resolve: (seq: unknown) => void }[] = []
  const flush = async () => {
    const batch = pending
    pending = []
    const started = performance.now()
    const outcomes = await backend.append(
      batch.map((p) => p.entry),
      limits,
      Date.now(),
    )
    commitTimes.push(performance.now() - started)
    for (const [i, p] of batch.entries()) p.resolve(outcomes[i])
  }
  return {
    create: (log: string) => backend.create({ log, meta: '{"step":{"name":"echo"}}' }, Date.now()),
    append: (log: string, data: string) =>
      new Promise((resolve) => {
        if (pending.length === 0) setImmediate(flush)
        pending.push({ entry: { log, data, bytes: Buffer.byteLength(data), exempt: false }, resolve })
      }),
    close: () => backend.close(),
  }
}

/** The store of schema 8, loaded from `--old-root` (it is gone from this tree once the core replaced it). */
const openStoreV8 = (worker: boolean) => async (path: string, commitTimes: number[]) => {
  if (!values['old-root']) throw new Error('the store of schema 8 needs --old-root, a checkout that has it')
  const { SqliteStore } = await import(join(values['old-root'], 'src/store/sqlite-store.ts'))
  const metrics = { eventPublished() {}, storeCheckpoint() {}, storeCommit: (s: number) => commitTimes.push(s * 1000) }
  const store = new SqliteStore(path, { metrics, ...(worker ? {} : { checkpointer: false }) })
  return {
    create: (log: string) => store.createSession(log),
    append: (log: string, _data: string, event: object) => store.append(log, event),
    close: () => store.close(),
  }
}

/** The whole store as the server has it: the event log and its core (group commit, caches) over the backend. */
async function openStore(path: string, commitTimes: number[]) {
  const metrics = { eventPublished() {}, storeCommit: (s: number) => commitTimes.push(s * 1000) }
  const store = new SqliteStore(path, { metrics })
  return {
    create: (log: string) => store.createSession(log, { name: 'echo' }),
    append: (log: string, _data: string, event: object) => store.append(log, event as NewEvent),
    close: () => store.close(),
  }
}

const VARIANTS: Record<string, Variant> = {
  backend: { open: openBackend },
  store: { open: openStore },
  'store-v8': { open: openStoreV8(true) },
  'store-v8-no-worker': { open: openStoreV8(false) },
}

const quantile = (sorted: Float64Array, q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0

async function runChild(name: string, path: string) {
  const commitTimes: number[] = []
  const store = await VARIANTS[name]!.open(path, commitTimes)
  const ids = Array.from({ length: LOGS }, newId)
  for (const id of ids) await store.create(id)
  const step = newId()
  let stalls = 0
  const lag = new EventLoopLagSampler({ observe: (seconds) => void (seconds > 0.005 && stalls++) })
  const latencies: number[] = []
  const started = performance.now()
  const deadline = started + SECONDS * 1000
  await Promise.all(
    ids.map(async (id, i) => {
      // Spread over the first token interval, as runs started one after another are.
      let next = started + (i / LOGS) * TOKEN_MS
      for (let n = 0; ; n++) {
        const wait = next - performance.now()
        if (wait > 0) await Bun.sleep(wait)
        if (performance.now() >= deadline) return
        const event = { type: 'partial', step_id: step, ts: new Date().toISOString(), delta: ` tok${n % 100}` }
        const sent = performance.now()
        await store.append(id, JSON.stringify(event), event)
        latencies.push(performance.now() - sent)
        next = Math.max(next + TOKEN_MS, performance.now())
      }
    }),
  )
  const elapsed = (performance.now() - started) / 1000
  lag.stop()
  const closing = performance.now()
  await store.close()
  const closeMs = performance.now() - closing
  const commits = Float64Array.from(commitTimes).sort()
  const durable = Float64Array.from(latencies).sort()
  const ms = (v: number) => Number(v.toFixed(2))
  return {
    variant: name,
    'entries/s': Math.round(latencies.length / elapsed),
    'of offered %': Math.round((latencies.length / elapsed / (LOGS * (1000 / TOKEN_MS))) * 100),
    batches: commits.length,
    'commit p50': ms(quantile(commits, 0.5)),
    'commit p99': ms(quantile(commits, 0.99)),
    'commit max': ms(quantile(commits, 1)),
    'stalls>5ms': stalls,
    'durable p50': ms(quantile(durable, 0.5)),
    'durable p99': ms(quantile(durable, 0.99)),
    'durable max': ms(quantile(durable, 1)),
    'close ms': Math.round(closeMs),
  }
}

if (values.child) {
  console.log(JSON.stringify(await runChild(values.child, values.file!)))
  process.exit(0)
}

const dir = mkdtempSync(join(tmpdir(), 'stepstream-bench-backend-'))
try {
  const rows = []
  const variants = values.variants?.split(',') ?? (values['old-root'] ? ['backend', 'store', 'store-v8'] : ['backend', 'store'])
  for (let pair = 0; pair < Number(values.pairs); pair++) {
    for (const name of pair % 2 === 0 ? variants : [...variants].reverse()) {
      const file = join(dir, `${name}-${pair}.db`)
      const child = Bun.spawn(
        [
          process.execPath,
          import.meta.path,
          '--child',
          name,
          '--file',
          file,
          '--logs',
          String(LOGS),
          '--seconds',
          String(SECONDS),
          ...(values['old-root'] ? ['--old-root', values['old-root']] : []),
        ],
        { stdout: 'pipe', stderr: 'inherit' },
      )
      const out = await new Response(child.stdout).text()
      if ((await child.exited) !== 0) throw new Error(`${name} failed`)
      rows.push({ pair: pair + 1, ...JSON.parse(out.trim().split('\n').at(-1)!) })
    }
  }
  console.log(`${LOGS} logs × ${1000 / TOKEN_MS} appends/s, ${SECONDS} s per run; times in ms; Bun ${Bun.version}`)
  console.table(rows)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
