/**
 * Scale-out on one machine (issue 13): the same two loads against one stepstream on SQLite, one on Redis, two
 * (`--workers 2`) on one Redis, and two instances on one Redis with each session sent to one of them. Not a test:
 * `bun bench/redis-scale.ts [--sessions N] [--viewers N] [--only many-runs]` prints a table of delivered events/s,
 * p99 delivery latency and CPU per 1,000 events; the README records it. Needs Debian's redis-server.
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
import { merge, newHistogram, percentile } from './histogram.ts'
import { startLoad } from './load-pool.ts'
import { cpuSeconds } from './proc-stats.ts'
import { ROOT } from './build.ts'
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
  /**
   * Separate instances on ports of their own, each session's stream and messages sent to one of them (as a proxy
   * routing by session does); 1 by default, where `--workers` lets the kernel spread every connection instead.
   */
  instances?: number
}
const redisUrl = () => `redis://127.0.0.1:${redisPort}`
const setups: Setup[] = [
  { name: '1 process, SQLite', store: () => `sqlite:${work}/${Date.now()}.db`, extra: [] },
  { name: '1 process, Redis', store: redisUrl, extra: [] },
  { name: '2 processes (--workers 2), one Redis', store: redisUrl, extra: ['--workers', '2'] },
  { name: '2 instances routed by session, one Redis', store: redisUrl, extra: [], instances: 2 },
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
  const base = stepstreamTarget([process.execPath, join(ROOT, 'src', 'main.ts')])
  const target = { ...base, command: (o: Parameters<typeof base.command>[0]) => [...base.command(o), ...setup.extra] }
  const store = setup.store()
  const servers = await Promise.all(Array.from({ length: setup.instances ?? 1 }, () => startServer(target, { echoDelayMs: 0, store })))
  try {
    const many = load === 'many runs'
    const ids = await createSessions(servers[0]!, many ? SESSIONS : 1)
    // Many runs: session i (its stream and its message) on instance i mod n. Fan-out: the viewers alternate.
    const streams = many ? ids.map((id, i) => ({ id, at: i })) : Array.from({ length: VIEWERS }, (_, i) => ({ id: ids[0]!, at: i }))
    const loads = servers.map((server, n) => {
      const paths = streams.filter((s) => s.at % servers.length === n).map((s) => streamPath(s.id))
      return startLoad({
        host: server.host,
        port: server.port,
        paths,
        perWorker: Math.ceil(paths.length / 2),
        until: 'final',
        deadlineMs: 300_000,
      })
    })
    await Promise.all(loads.map((l) => l.opened))
    const pids = servers.flatMap((server) => processTree(server.pid))
    const [serverBefore, redisBefore] = [treeCpu(pids), cpuSeconds(redis.pid)]
    await mapLimit(
      ids.map((id, i) => ({ id, server: servers[i % servers.length]! })),
      64,
      ({ id, server }) => postMessage(server, id, proseOf(CHARS)),
    )
    const results = await Promise.all(loads.map((l) => l.done))
    const events = results.reduce((sum, r) => sum + r.events, 0)
    const latency = results.reduce((all, r) => merge(all, r.latency), newHistogram())
    const window = (Math.max(...results.map((r) => r.lastReceivedAt)) - Math.min(...results.map((r) => r.firstTs))) / 1000
    const perThousand = (seconds: number) => (seconds * 1000 * 1000) / events
    return {
      perSec: events / window,
      p99: percentile(latency, 0.99),
      serverCpu: perThousand(treeCpu(pids) - serverBefore),
      redisCpu: perThousand(cpuSeconds(redis.pid) - redisBefore),
    }
  } finally {
    await Promise.all(servers.map((server) => server.stop()))
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
