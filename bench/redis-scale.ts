/**
 * Scale-out on one machine (issues 13 and 24): the same two loads against one stepstream on SQLite, one on Redis, two
 * (`--workers 2`) on one Redis, and two instances on one Redis with each session sent to one of them. Not a test:
 * it prints a table of delivered events/s, p99 delivery latency, CPU per 1,000 events and what crossed Redis per
 * event, then issue 24's goals: each scale-out setup's server CPU per event against one process on Redis. Needs
 * Debian's redis-server.
 *
 *   bun bench/redis-scale.ts
 *   --sessions <n>        many runs: sessions (default 200)
 *   --viewers <n>         fan-out: viewers of the one session (default 500)
 *   --chars <n>           characters per answer (default 400)
 *   --only <load>         many-runs or fan-out
 *   --setups <list>       some of sqlite,redis,workers,routed (default all; `redis` is what the ratios are against)
 *   --binary <path>       a stepstream executable (A/B checks); default `bun src/main.ts`
 *   --profile <dir>       run from source under `bun --cpu-prof`, one profile per process (`--workers` children too)
 *   --rounds <n>          rounds of each load on the same servers, each on fresh sessions; the last is measured (default 2)
 *
 * - many runs: N sessions answering at once as fast as the echo step goes (`--echo-delay 0`), one viewer each:
 *   independent work, which two processes can split.
 * - fan-out: V viewers of one session: one run's events, delivered by every process that holds a viewer.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { RedisClient } from 'bun'
import { createSessions, postMessage, streamPath } from './api.ts'
import { mapLimit } from './http-client.ts'
import { merge, newHistogram, percentile } from './histogram.ts'
import { startLoad } from './load-pool.ts'
import { cpuSeconds } from './proc-stats.ts'
import { ROOT } from './build.ts'
import { type RunningServer, startServer, stepstreamTarget } from './server-process.ts'
import { proseOf } from './text.ts'

/** Issue 24's goals: server CPU per event of each scale-out setup at most this many times one process's on Redis. */
const GOALS = new Map([
  ['workers', 1.15],
  ['routed', 1.1],
])

const { values } = parseArgs({
  options: {
    sessions: { type: 'string' },
    viewers: { type: 'string' },
    chars: { type: 'string' },
    only: { type: 'string' },
    setups: { type: 'string' },
    binary: { type: 'string' },
    profile: { type: 'string' },
    rounds: { type: 'string' },
  },
})
const SESSIONS = Number(values.sessions ?? 200)
const VIEWERS = Number(values.viewers ?? 500)
const CHARS = Number(values.chars ?? 400)
const ROUNDS = Number(values.rounds ?? 2)

const work = mkdtempSync(join(tmpdir(), 'stepstream-scale-'))
const redisPort = 20000 + Math.floor(Math.random() * 20000)
const redis = Bun.spawn(['redis-server', '--port', String(redisPort), '--save', '', '--appendonly', 'no', '--dir', work], {
  stdout: 'ignore',
})
// Ready once it answers PING: a loaded machine takes longer than any fixed pause (a run lost its first server to one).
for (const deadline = Date.now() + 30_000; ; await Bun.sleep(50)) {
  const client = new RedisClient(`redis://127.0.0.1:${redisPort}`, { autoReconnect: false, enableOfflineQueue: false })
  const ready = await client
    .connect()
    .then(() => client.send('PING', []))
    .then(
      () => true,
      () => false,
    )
  client.close()
  if (ready) break
  if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${redisPort}`)
}

interface Setup {
  key: string
  name: string
  store: () => string
  extra: string[]
  /**
   * Separate instances on ports of their own, each session's stream and messages sent to one of them (as a proxy
   * routing by session does); 1 by default, where `--workers` lets the kernel spread every connection instead.
   */
  instances?: number
  /** `--workers`: processes behind one port; 1 by default. */
  workers?: number
}
const redisUrl = () => `redis://127.0.0.1:${redisPort}`
const chosen = values.setups?.split(',')
const setups: Setup[] = [
  { key: 'sqlite', name: '1 process, SQLite', store: () => `sqlite:${work}/${Date.now()}.db`, extra: [] },
  { key: 'redis', name: '1 process, Redis', store: redisUrl, extra: [] },
  { key: 'workers', name: '2 processes (--workers 2), one Redis', store: redisUrl, extra: ['--workers', '2'], workers: 2 },
  { key: 'routed', name: '2 instances routed by session, one Redis', store: redisUrl, extra: [], instances: 2 },
].filter((setup) => !chosen || chosen.includes(setup.key))

// The profiler's flags reach `--workers` children through BUN_OPTIONS, which every Bun process reads.
const command = values.profile
  ? ['env', `BUN_OPTIONS=--cpu-prof --cpu-prof-dir=${values.profile}`, process.execPath, join(ROOT, 'src', 'main.ts')]
  : values.binary
    ? [values.binary]
    : [process.execPath, join(ROOT, 'src', 'main.ts')]

/** Sockets listening on `port` (one per `--workers` process, with SO_REUSEPORT), from /proc/net/tcp. */
function listeners(port: number): number {
  const local = `:${port.toString(16).toUpperCase().padStart(4, '0')}`
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .filter((line) => {
      const [, address, , state] = line.trim().split(/\s+/)
      return address?.endsWith(local) && state === '0A'
    }).length
}

/**
 * Waits until every `--workers` process listens: `/healthz` is answered by the first, and a load started before the
 * second listens would all go to the first, crossing no Redis at all.
 */
async function allListening(port: number, workers: number): Promise<void> {
  for (const deadline = Date.now() + 30_000; listeners(port) < workers; await Bun.sleep(20)) {
    if (Date.now() > deadline) throw new Error(`only ${listeners(port)} of ${workers} workers listen on port ${port}`)
  }
}

/** A process and its descendants (`--workers` children), by /proc's children lists. */
function processTree(pid: number): number[] {
  const path = `/proc/${pid}/task/${pid}/children`
  const children = existsSync(path) ? readFileSync(path, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number) : []
  return [pid, ...children.flatMap(processTree)]
}

/** CPU seconds used so far by a process tree; processes that exit meanwhile are not counted. */
const treeCpu = (pids: number[]) => pids.reduce((sum, pid) => sum + (existsSync(`/proc/${pid}`) ? cpuSeconds(pid) : 0), 0)

/** What Redis has served so far: calls by command (a script's own calls included), and bytes in and out. */
interface RedisCounts {
  calls: Map<string, number>
  bytesIn: number
  bytesOut: number
}

async function redisCounts(): Promise<RedisCounts> {
  const client = new RedisClient(redisUrl())
  try {
    const text = `${await client.send('INFO', ['commandstats'])}\n${await client.send('INFO', ['stats'])}`
    const calls = new Map<string, number>()
    for (const [, name, count] of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(name!, Number(count))
    const stat = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(text)?.[1] ?? 0)
    return { calls, bytesIn: stat('total_net_input_bytes'), bytesOut: stat('total_net_output_bytes') }
  } finally {
    client.close()
  }
}

/** What one delivered event cost Redis between two counts: calls of the commands that matter, and bytes. */
function perEvent(before: RedisCounts, after: RedisCounts, events: number): string {
  const calls = (name: string) => ((after.calls.get(name) ?? 0) - (before.calls.get(name) ?? 0)) / events
  const named = ['evalsha', 'publish', 'xrange', 'hmget', 'hgetall'].map((name) => `${name} ${calls(name).toFixed(2)}`)
  const bytes = (after.bytesIn - before.bytesIn + after.bytesOut - before.bytesOut) / events
  return `${named.join(', ')}; ${Math.round(bytes)} B`
}

interface Measured {
  perSec: number
  p99: number
  /** CPU milliseconds per 1,000 delivered events: the stepstream processes, and redis-server. */
  serverCpu: number
  redisCpu: number
  /** Commands and bytes per delivered event (`perEvent`). */
  crossed: string
}

async function measure(setup: Setup, load: 'many runs' | 'fan-out'): Promise<Measured> {
  const base = stepstreamTarget(command)
  const target = { ...base, command: (o: Parameters<typeof base.command>[0]) => [...base.command(o), ...setup.extra] }
  const store = setup.store()
  const servers = await Promise.all(Array.from({ length: setup.instances ?? 1 }, () => startServer(target, { echoDelayMs: 0, store })))
  for (const server of servers) await allListening(server.port, setup.workers ?? 1)
  try {
    // Each process compiles its hot paths during its first events: a warm-up round, unmeasured, pays for that first,
    // so that one process and two are compared in their steady state (two pay the compiler twice).
    for (let round = 1; round < ROUNDS; round++) await loadRound(setup, servers, load)
    return await loadRound(setup, servers, load)
  } finally {
    await Promise.all(servers.map((server) => server.stop()))
  }
}

/** One round of the load on fresh sessions, measured. */
async function loadRound(setup: Setup, servers: RunningServer[], load: 'many runs' | 'fan-out'): Promise<Measured> {
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
  const [serverBefore, redisBefore, countsBefore] = [treeCpu(pids), cpuSeconds(redis.pid), await redisCounts()]
  await mapLimit(
    ids.map((id, i) => ({ id, server: servers[i % servers.length]! })),
    64,
    ({ id, server }) => postMessage(server, id, proseOf(CHARS)),
  )
  const results = await Promise.all(loads.map((l) => l.done))
  const [serverAfter, redisAfter, countsAfter] = [treeCpu(pids), cpuSeconds(redis.pid), await redisCounts()]
  const events = results.reduce((sum, r) => sum + r.events, 0)
  const latency = results.reduce((all, r) => merge(all, r.latency), newHistogram())
  const window = (Math.max(...results.map((r) => r.lastReceivedAt)) - Math.min(...results.map((r) => r.firstTs))) / 1000
  const perThousand = (seconds: number) => (seconds * 1000 * 1000) / events
  return {
    perSec: events / window,
    p99: percentile(latency, 0.99),
    serverCpu: perThousand(serverAfter - serverBefore),
    redisCpu: perThousand(redisAfter - redisBefore),
    crossed: setup.key === 'sqlite' ? '—' : perEvent(countsBefore, countsAfter, events),
  }
}

const rows: string[] = []
const goals: string[] = []
try {
  // `--only many-runs` or `--only fan-out` runs one load.
  for (const load of (['many runs', 'fan-out'] as const).filter((l) => !values.only || values.only === l.replace(' ', '-'))) {
    const results = []
    for (const setup of setups) results.push({ setup, ...(await measure(setup, load)) })
    const sqlite = results.find((r) => r.setup.key === 'sqlite')
    const redisOne = results.find((r) => r.setup.key === 'redis')
    const ratio = (r: Measured, of: Measured | undefined, field: 'perSec' | 'serverCpu') =>
      of ? `${(r[field] / of[field]).toFixed(2)}×` : '—'
    for (const r of results) {
      rows.push(
        `| ${load} | ${r.setup.name} | ${Math.round(r.perSec).toLocaleString('en')} | ${r.p99} | ` +
          `${ratio(r, redisOne, 'perSec')} | ${ratio(r, sqlite, 'perSec')} | ` +
          `${r.serverCpu.toFixed(1)} | ${r.setup.key === 'sqlite' ? '—' : r.redisCpu.toFixed(1)} | ${r.crossed} |`,
      )
      const goal = GOALS.get(r.setup.key)
      if (goal && redisOne) {
        const times = r.serverCpu / redisOne.serverCpu
        goals.push(
          `| ${load} | ${r.setup.name} | ${r.serverCpu.toFixed(1)} | ${redisOne.serverCpu.toFixed(1)} | ${times.toFixed(2)}× | ` +
            `≤ ${goal}× | ${times <= goal ? 'met' : 'not met'} |`,
        )
      }
    }
  }
  console.log(`many runs: ${SESSIONS} sessions × ${CHARS} chars; fan-out: ${VIEWERS} viewers × ${CHARS} chars; echo delay 0`)
  console.log(`stepstream: ${command.join(' ')}\n`)
  console.log(
    '| load | setup | delivered events/s | p99 (ms) | vs 1 on Redis | vs SQLite | server CPU ms / 1k events | ' +
      'redis-server CPU ms / 1k events | Redis calls and bytes per event |',
  )
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---|')
  console.log(rows.join('\n'))
  if (goals.length > 0) {
    console.log('\nIssue 24: server CPU per 1,000 events against one process on Redis\n')
    console.log('| load | setup | server CPU ms / 1k events | 1 process on Redis | ratio | goal | |')
    console.log('|---|---|---:|---:|---:|---:|---|')
    console.log(goals.join('\n'))
  }
} finally {
  redis.kill()
  await redis.exited
  rmSync(work, { recursive: true, force: true })
}
