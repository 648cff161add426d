/**
 * Scale-out on one machine (issue 13): the same two loads against one stepstream on SQLite, one on Redis, and two
 * (`--workers 2`) on one Redis. Not a test: `bun bench/redis-scale.ts [--sessions N] [--viewers N] [--only many-runs]` prints a table
 * of delivered events/s and p99 delivery latency; the README records it. Needs Debian's redis-server.
 *
 * - many runs: N sessions answering at once as fast as the echo step goes (`--echo-delay 0`), one viewer each:
 *   independent work, which two processes can split.
 * - fan-out: V viewers of one session: one run's events, delivered by every process that holds a viewer.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createSessions, postMessage, streamPath } from './api.ts'
import { mapLimit } from './http-client.ts'
import { percentile } from './histogram.ts'
import { startLoad } from './load-pool.ts'
import { cpuSeconds } from './proc-stats.ts'
import { startServer, stepstreamTarget } from './server-process.ts'
import { proseOf } from './text.ts'

const { values } = parseArgs({
  options: { sessions: { type: 'string' }, viewers: { type: 'string' }, chars: { type: 'string' }, only: { type: 'string' } },
})
const SESSIONS = Number(values.sessions ?? 200)
const VIEWERS = Number(values.viewers ?? 500)
const CHARS = Number(values.chars ?? 400)

const work = mkdtempSync(join(tmpdir(), 'stepstream-scale-'))
const redisPort = 20000 + Math.floor(Math.random() * 20000)
const redis = Bun.spawn(['redis-server', '--port', String(redisPort), '--save', '', '--appendonly', 'no', '--dir', work], {
  stdout: 'ignore',
})
await Bun.sleep(300)

interface Setup {
  name: string
  store: () => string
  extra: string[]
}
const setups: Setup[] = [
  { name: '1 process, SQLite', store: () => `sqlite:${work}/${Date.now()}.db`, extra: [] },
  { name: '1 process, Redis', store: () => `redis://127.0.0.1:${redisPort}`, extra: [] },
  { name: '2 processes (--workers 2), one Redis', store: () => `redis://127.0.0.1:${redisPort}`, extra: ['--workers', '2'] },
]

/** A process and its descendants (`--workers` children), by /proc's children lists. */
function processTree(pid: number): number[] {
  const path = `/proc/${pid}/task/${pid}/children`
  const children = existsSync(path) ? readFileSync(path, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number) : []
  return [pid, ...children.flatMap(processTree)]
}

/** CPU seconds used so far by a process tree; processes that exit meanwhile are not counted. */
const treeCpu = (pids: number[]) => pids.reduce((sum, pid) => sum + (existsSync(`/proc/${pid}`) ? cpuSeconds(pid) : 0), 0)

interface Measured {
  perSec: number
  p99: number
  /** CPU milliseconds per 1,000 delivered events: the stepstream processes, and redis-server. */
  serverCpu: number
  redisCpu: number
}

async function measure(setup: Setup, load: 'many runs' | 'fan-out'): Promise<Measured> {
  const base = stepstreamTarget(['bun', 'src/main.ts'])
  const target = { ...base, command: (o: Parameters<typeof base.command>[0]) => [...base.command(o), ...setup.extra] }
  const server = await startServer(target, { echoDelayMs: 0, store: setup.store() })
  try {
    const many = load === 'many runs'
    const ids = await createSessions(server, many ? SESSIONS : 1)
    const paths = many ? ids.map(streamPath) : Array.from({ length: VIEWERS }, () => streamPath(ids[0]!))
    const running = startLoad({
      host: server.host,
      port: server.port,
      paths,
      perWorker: Math.ceil(paths.length / 2),
      until: 'final',
      deadlineMs: 300_000,
    })
    await running.opened
    const pids = processTree(server.pid)
    const [serverBefore, redisBefore] = [treeCpu(pids), cpuSeconds(redis.pid)]
    await mapLimit(ids, 64, (id) => postMessage(server, id, proseOf(CHARS)))
    const result = await running.done
    const perThousand = (seconds: number) => (seconds * 1000 * 1000) / result.events
    return {
      perSec: result.events / ((result.lastReceivedAt - result.firstTs) / 1000),
      p99: percentile(result.latency, 0.99),
      serverCpu: perThousand(treeCpu(pids) - serverBefore),
      redisCpu: perThousand(cpuSeconds(redis.pid) - redisBefore),
    }
  } finally {
    await server.stop()
  }
}

const rows: string[] = []
try {
  // `--only many-runs` or `--only fan-out` runs one load.
  for (const load of (['many runs', 'fan-out'] as const).filter((l) => !values.only || values.only === l.replace(' ', '-'))) {
    const results = []
    for (const setup of setups) results.push({ setup, ...(await measure(setup, load)) })
    const [sqlite, redisOne] = results
    for (const r of results) {
      rows.push(
        `| ${load} | ${r.setup.name} | ${Math.round(r.perSec).toLocaleString('en')} | ${r.p99} | ` +
          `${(r.perSec / redisOne!.perSec).toFixed(2)}× | ${(r.perSec / sqlite!.perSec).toFixed(2)}× | ` +
          `${r.serverCpu.toFixed(0)} | ${r.setup.name.includes('Redis') ? r.redisCpu.toFixed(0) : '—'} |`,
      )
    }
  }
  console.log(`many runs: ${SESSIONS} sessions × ${CHARS} chars; fan-out: ${VIEWERS} viewers × ${CHARS} chars; echo delay 0\n`)
  console.log(
    '| load | setup | delivered events/s | p99 (ms) | vs 1 on Redis | vs SQLite | server CPU ms / 1k events | redis-server CPU ms / 1k events |',
  )
  console.log('|---|---|---:|---:|---:|---:|---:|---:|')
  console.log(rows.join('\n'))
} finally {
  redis.kill()
  await redis.exited
  rmSync(work, { recursive: true, force: true })
}
