/**
 * `bun bench/idle-cpu.ts`: diagnostic for the idle server's CPU (issue 24). Starts stepstream in a child process with
 * no connections, once per variant of its metrics (the 2 ms event-loop-lag sampler on or off, prom-client's process
 * metrics on or off) and store, and reports the CPU it used and how often its threads woke over a quiet window.
 *
 *   bun bench/idle-cpu.ts                 every variant, 20 s window each, run side by side
 *   --seconds <n>                         the window; seconds, default 20
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { parseConfig } from '../src/config.ts'
import { createServer } from '../src/create-server.ts'
import { createLogger } from '../src/log.ts'
import { Metrics } from '../src/metrics.ts'
import { echoStep } from '../src/steps/echo-step.ts'

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    child: { type: 'boolean', default: false },
    lag: { type: 'string', default: 'on' },
    process: { type: 'string', default: 'on' },
    store: { type: 'string', default: 'memory' },
    seconds: { type: 'string', default: '20' },
  },
})
const seconds = Number(values.seconds)

/** Voluntary context switches of every thread of this process: each one is a thread going to sleep after a wake-up. */
function wakeUps(): number {
  let total = 0
  for (const task of readdirSync('/proc/self/task')) {
    const status = readFileSync(`/proc/self/task/${task}/status`, 'utf8')
    total += Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0)
  }
  return total
}

async function child() {
  const parsed = parseConfig(['--store', values.store!, '--log-level', 'error', '--port', '0', '--host', '127.0.0.1'], {})
  if (parsed.kind !== 'run') throw new Error(`config: ${JSON.stringify(parsed)}`)
  const metrics = new Metrics({ processMetrics: values.process === 'on', eventLoopLag: values.lag === 'on' })
  const log = createLogger('error', { pretty: false })
  const server = await createServer({ ...parsed.config.server, steps: [echoStep(20)], log, version: 'bench', metrics })
  server.listen({ port: 0, hostname: '127.0.0.1' })
  await Bun.sleep(3000) // start-up work (JIT, the first prune pass) settles
  const cpu0 = process.cpuUsage()
  const wake0 = wakeUps()
  const t0 = performance.now()
  await Bun.sleep(seconds * 1000)
  const cpu = process.cpuUsage(cpu0)
  const wall = (performance.now() - t0) / 1000
  const wakes = wakeUps() - wake0
  process.stdout.write(
    `${JSON.stringify({ cpuPercent: (100 * (cpu.user + cpu.system)) / 1e6 / wall, userPercent: (100 * cpu.user) / 1e6 / wall, wakeUpsPerSec: wakes / wall })}\n`,
  )
  await server.stop()
  metrics.close()
  process.exit(0)
}

async function parent() {
  const dir = mkdtempSync(join(tmpdir(), 'stepstream-idle-cpu-'))
  const variants = [
    { name: 'memory, as shipped (lag sampler on, process metrics on)', lag: 'on', process: 'on', store: 'memory' },
    { name: 'memory, lag sampler off', lag: 'off', process: 'on', store: 'memory' },
    { name: 'memory, lag sampler off, process metrics off', lag: 'off', process: 'off', store: 'memory' },
    { name: 'memory, lag sampler on, process metrics off', lag: 'on', process: 'off', store: 'memory' },
    { name: 'sqlite, as shipped', lag: 'on', process: 'on', store: `sqlite:${join(dir, 'a.db')}` },
    { name: 'sqlite, lag sampler off, process metrics off', lag: 'off', process: 'off', store: `sqlite:${join(dir, 'b.db')}` },
  ]
  try {
    const results = await Promise.all(
      variants.map(async (v) => {
        const proc = Bun.spawn(
          [
            process.execPath,
            import.meta.path,
            '--child',
            '--lag',
            v.lag,
            '--process',
            v.process,
            '--store',
            v.store,
            '--seconds',
            String(seconds),
          ],
          { stdout: 'pipe', stderr: 'inherit' },
        )
        const out = await new Response(proc.stdout).text()
        await proc.exited
        return { ...v, ...JSON.parse(out.trim().split('\n').at(-1)!) }
      }),
    )
    process.stdout.write(
      `| variant (${seconds} s idle, no connections) | CPU (% of a core) | user (%) | wake-ups/s (all threads) |\n|---|---:|---:|---:|\n`,
    )
    for (const r of results)
      process.stdout.write(`| ${r.name} | ${r.cpuPercent.toFixed(2)} | ${r.userPercent.toFixed(2)} | ${Math.round(r.wakeUpsPerSec)} |\n`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

await (values.child ? child() : parent())
