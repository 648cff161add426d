/**
 * SqliteStore append benchmark: many sessions appending token-sized `partial` events at once, each session
 * followed by a reader (as a stream would be). Reports throughput and append-to-visible latency: from the
 * `append` call to the moment that session's reader, woken by `waitFor`, has read the event.
 *
 *   bun bench/store-append.ts [--sessions 1000] [--seconds 5] [--rate 50000] [--window 0]   (0: the server's default, the next loop turn)
 *
 * Two phases on a fresh file in the OS temp folder:
 * - saturate: every session appends as fast as its previous append resolves (the most the store can take);
 * - offered: `--rate` events per second spread over the sessions, not waiting for one another (latency at load).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { newId } from '../src/session-id.ts'
import { SqliteStore } from '../src/store/sqlite-store.ts'

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '5' },
    rate: { type: 'string', default: '50000' },
    window: { type: 'string', default: '0' },
  },
})
const SESSIONS = Number(values.sessions)
const SECONDS = Number(values.seconds)
const RATE = Number(values.rate)
const WINDOW_MS = Number(values.window)

interface PhaseResult {
  phase: string
  events: number
  eventsPerSecond: number
  p50Ms: number
  p99Ms: number
  maxMs: number
}

/** Readers that record, per event, how long it took from its append call until a reader had it. */
function followAll(store: SqliteStore, ids: string[], sentAt: Map<string, number[]>, latencies: number[], stop: AbortSignal) {
  return ids.map(async (id) => {
    let cursor = 0
    while (!stop.aborted) {
      await store.waitFor(id, cursor, stop)
      const now = performance.now()
      for (const event of await store.read(id, cursor)) {
        latencies.push(now - sentAt.get(id)![event.seq]!)
        cursor = event.seq
      }
    }
  })
}

function summarize(phase: string, latencies: number[], seconds: number): PhaseResult {
  const sorted = Float64Array.from(latencies).sort()
  const at = (q: number) => Number(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(2))
  return {
    phase,
    events: sorted.length,
    eventsPerSecond: Math.round(sorted.length / seconds),
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    maxMs: at(1),
  }
}

async function phase(
  name: string,
  store: SqliteStore,
  write: (ids: string[], sentAt: Map<string, number[]>, deadline: number) => Promise<void>,
) {
  const ids = Array.from({ length: SESSIONS }, newId)
  for (const id of ids) await store.createSession(id, { name: 'echo' })
  const sentAt = new Map(ids.map((id) => [id, [0]]))
  const latencies: number[] = []
  const stop = new AbortController()
  const readers = followAll(store, ids, sentAt, latencies, stop.signal)
  const started = performance.now()
  await write(ids, sentAt, started + SECONDS * 1000)
  const elapsed = (performance.now() - started) / 1000
  // Let the readers catch the last commit, then release them.
  await Bun.sleep(50)
  stop.abort()
  await Promise.all(readers)
  return summarize(name, latencies, elapsed)
}

const delta = (i: number) => ({ type: 'partial' as const, step_id: 'bench-step', ts: new Date().toISOString(), delta: ` tok${i % 100}` })

/** Each session appends its next event as soon as the previous one is committed. */
const saturate = (store: SqliteStore) => (ids: string[], sentAt: Map<string, number[]>, deadline: number) =>
  Promise.all(
    ids.map(async (id) => {
      const sent = sentAt.get(id)!
      for (let i = 0; performance.now() < deadline; i++) {
        sent.push(performance.now())
        await store.append(id, delta(i))
      }
    }),
  ).then(() => undefined)

/** `RATE` events per second, round-robin over the sessions, issued on a 1 ms tick without waiting. */
const offered = (store: SqliteStore) => (ids: string[], sentAt: Map<string, number[]>, deadline: number) =>
  new Promise<void>((resolve) => {
    const started = performance.now()
    let issued = 0
    const pending: Promise<unknown>[] = []
    const tick = setInterval(() => {
      const now = performance.now()
      const due = Math.floor(((Math.min(now, deadline) - started) / 1000) * RATE)
      for (; issued < due; issued++) {
        const id = ids[issued % ids.length]!
        sentAt.get(id)!.push(performance.now())
        pending.push(store.append(id, delta(issued)))
      }
      if (now >= deadline) {
        clearInterval(tick)
        void Promise.all(pending).then(() => resolve())
      }
    }, 1)
  })

const dir = mkdtempSync(join(tmpdir(), 'stepstream-bench-'))
try {
  const results: PhaseResult[] = []
  for (const [name, writer] of [
    ['saturate', saturate],
    ['offered', offered],
  ] as const) {
    const store = new SqliteStore(join(dir, `${name}.db`), { windowMs: WINDOW_MS })
    results.push(await phase(name === 'offered' ? `offered ${RATE}/s` : name, store, writer(store)))
    await store.close()
  }
  console.log(`SqliteStore appends: ${SESSIONS} sessions, ${SECONDS} s per phase, commit window ${WINDOW_MS} ms, Bun ${Bun.version}`)
  console.table(results)
} finally {
  rmSync(dir, { recursive: true, force: true })
}
