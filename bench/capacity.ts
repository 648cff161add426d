/**
 * `bun bench/capacity.ts`: the capacity sweep of the many-runs load. Runs stepstream alone (no baseline) at rising
 * session counts, one viewer each at 50 tokens/s, and reports the highest count that still keeps ≥ 95% of the
 * offered pace. A count that misses it ends the sweep: the larger ones would only miss by more.
 *
 *   bun bench/capacity.ts                          500, 1000, 1500, 2000 sessions × 250 chars on SQLite
 *   --sessions <n,n,…>                             the counts to try, ascending
 *   --chars <n>                                    characters per answer (default 250, the full many-runs size: 5 s a run)
 *   --store <sqlite|memory>                        default sqlite
 *   --binary <path>                                another build of stepstream (A/B checks); default dist/stepstream
 *   --profile <dir>                                run from source under `bun --cpu-prof --cpu-prof-md`
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ensureStepstreamBinary, ROOT } from './build.ts'
import { measureManyRuns } from './scenarios/many-runs.ts'
import { sqliteStore, type ScenarioContext } from './scenarios/scenario.ts'
import { stepstreamTarget } from './server-process.ts'

/** The issue's capacity bar: the share of the offered 50 tokens/s per run a session count must keep; percent. */
const KEPT_PERCENT = 95

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    sessions: { type: 'string', default: '500,1000,1500,2000' },
    chars: { type: 'string', default: '250' },
    store: { type: 'string', default: 'sqlite' },
    binary: { type: 'string' },
    profile: { type: 'string' },
  },
})
const counts = values.sessions.split(',').map(Number)
const chars = Number(values.chars)
if (counts.some((n) => !(n >= 1)) || !(chars >= 1) || !['sqlite', 'memory'].includes(values.store)) {
  process.stderr.write('capacity: --sessions takes counts like 500,1000, --chars a number, --store sqlite or memory\n')
  process.exit(2)
}

const command = values.profile
  ? [process.execPath, '--cpu-prof', '--cpu-prof-md', `--cpu-prof-dir=${values.profile}`, join(ROOT, 'src', 'main.ts')]
  : [values.binary ?? ensureStepstreamBinary()]
const workDir = mkdtempSync(join(tmpdir(), 'stepstream-capacity-'))
const context: ScenarioContext = {
  target: stepstreamTarget(command),
  sizes: {
    idleStreams: 0,
    idleRounds: 0,
    fanOutViewers: 0,
    fanOutChars: 0,
    fanOutLoadWorkers: 0,
    manyRunsSessions: 0,
    manyRunsChars: chars,
    perEventSessions: 0,
    perEventChars: 0,
    idleCpuSettleS: 0,
    idleCpuWindowS: 0,
    answerChars: 0,
    coldStarts: 0,
    browserMessages: 0,
  },
  workDir,
}
const lines = [
  '| sessions | pace kept (%) | run pace, median (%) | run pace, slowest 5% (%) | run starts spread (s) | p99 (ms) | events/s | server CPU (% core) | loop stalls > 5 ms | loop lag max (ms) |',
  '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
]
let highest = 0
try {
  for (const sessions of counts) {
    const store = values.store === 'memory' ? 'memory' : sqliteStore(context, `capacity-${sessions}`)
    const m = await measureManyRuns(context, sessions, chars, store)
    const row = [
      sessions,
      m.pacePercent,
      m.runPaceP50,
      m.runPaceP5,
      m.startSpreadS,
      m.p99Ms,
      m.persistedPerSec,
      m.serverCpuPercent,
      m.loopStalls,
      m.loopLagMaxMs,
    ].map((v) => Math.round(v ?? Number.NaN).toLocaleString('en'))
    lines.push(`| ${row.join(' | ')} |`)
    process.stderr.write(
      `${lines.at(-1)}${m.failed || m.events! < m.expectedEvents! ? ` (incomplete: ${m.events} of ${m.expectedEvents} events)` : ''}\n`,
    )
    if (m.pacePercent! < KEPT_PERCENT) break
    highest = sessions
  }
} finally {
  rmSync(workDir, { recursive: true, force: true })
}
process.stdout.write(
  `\n${lines.join('\n')}\n\nHighest session count keeping ≥ ${KEPT_PERCENT}% of the pace (${values.store}, ${chars} chars): ${highest > 0 ? highest.toLocaleString('en') : `none of ${counts.join(', ')}`}\n`,
)
